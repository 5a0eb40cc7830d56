"""HEAD on tracking links (what link scanners send before or instead of a GET): answered
like the GET would be, but a HEAD never records an open or a click and never unsubscribes."""

from __future__ import annotations

from flask.testing import FlaskClient

from connector.models import CrmWriteback, Suppression
from connector.runtime import Runtime
from connector.services.accounts import AccountView
from tests.functional.http.test_tracking import first_email, kinds, path


def writebacks(rt: Runtime) -> list[str]:
    with rt.db.session() as session:
        return sorted(w.kind for w in session.query(CrmWriteback))


def test_head_on_the_open_pixel_records_nothing(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    _, urls = first_email(rt, client, account)
    pixel = next(u for u in urls if "/t/o/" in u)
    before = writebacks(rt)
    response = client.head(path(pixel))
    assert response.status_code == 200
    assert response.mimetype == "image/gif"
    assert kinds(rt) == []
    assert writebacks(rt) == before


def test_head_on_a_click_link_records_nothing(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    _, urls = first_email(rt, client, account)
    tracked = next(u for u in urls if "/t/c/" in u)
    before = writebacks(rt)
    response = client.head(path(tracked))
    assert response.status_code in (200, 302)
    assert kinds(rt) == []
    assert writebacks(rt) == before
    # A broken token is still a 404, HEAD or not.
    assert client.head(path(tracked)[:-3] + "xyz").status_code == 404
    # The GET that follows is the click.
    assert client.get(path(tracked)).status_code == 302
    assert kinds(rt) == ["click"]


def test_head_on_the_unsubscribe_link_never_unsubscribes(
    rt: Runtime, client: FlaskClient, account: AccountView
) -> None:
    message, _ = first_email(rt, client, account)
    url = path(str(message["List-Unsubscribe"]).strip().strip("<>"))
    for method in ("HEAD", "GET", "HEAD"):
        response = client.open(url, method=method)
        assert response.status_code == 200, method
    assert kinds(rt) == []
    with rt.db.session() as session:
        assert session.query(Suppression).count() == 0
    # Only the POST (one-click or the confirm form) unsubscribes.
    assert client.post(url).status_code == 200
    assert kinds(rt) == ["unsubscribe"]
