"""What the recipient's mail client calls: open pixel, click redirect, unsubscribe page and
RFC 8058 one-click POST. Tokens are signed and carry no readable id; a click redirects only
to a link that was in that very email (no open redirect).

Link scanners and mail providers prefetch links with HEAD and GET. Flask answers HEAD with
the GET view, so each view checks the method: a HEAD never records an open or a click, and
only a POST unsubscribes (GET and HEAD only ask). A GET is recorded with its user agent,
and the service flags the ones a machine made (docs/engagement.md)."""

from __future__ import annotations

import base64
from html import escape
from typing import Any

from flask import Blueprint, Response, redirect, request

from connector.services.engagement import UnknownMessage, record_click, record_open, unsubscribe
from connector.tokens import BadToken
from webhooks.http import runtime

bp = Blueprint("tracking", __name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}


@bp.get("/t/o/<token>")
def open_pixel(token: str) -> Response:
    rt = runtime()
    try:
        parsed = rt.signer.loads(token, "open")
        if request.method != "HEAD":
            record_open(rt, parsed.public_id, rt.clock.now(), user_agent=_user_agent())
    except (BadToken, UnknownMessage):
        pass  # a broken image helps nobody: the pixel is served either way
    return Response(PIXEL, mimetype="image/gif", headers=NO_CACHE)


@bp.get("/t/c/<token>")
def click(token: str) -> Any:
    rt = runtime()
    try:
        parsed = rt.signer.loads(token, "click")
        if request.method == "HEAD":
            # Finding the target without recording a click is not a service of its own
            # (record_click does both), and a scanner needs no Location: a HEAD learns
            # only whether the token is good.
            return Response(status=200, headers=NO_CACHE)
        target = record_click(
            rt, parsed.public_id, parsed.link, rt.clock.now(), user_agent=_user_agent()
        )
    except (BadToken, UnknownMessage):
        return _page("Link not found", "This link is broken or has expired.", 404)
    return redirect(target.url, code=302, Response=Response)


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str) -> Any:
    rt = runtime()
    try:
        parsed = rt.signer.loads(token, "unsubscribe")
    except BadToken:
        return _page("Link not found", "This unsubscribe link is broken.", 404)
    if request.method != "POST":
        # Link scanners prefetch with GET and HEAD: those only ask, the POST unsubscribes.
        return _page(
            "Unsubscribe",
            '<form method="post"><p>Stop receiving these emails?</p>'
            '<button type="submit">Unsubscribe</button></form>',
            200,
            raw=True,
        )
    try:
        email = unsubscribe(rt.db, parsed.public_id, rt.clock.now())
    except UnknownMessage:
        return _page("Link not found", "This unsubscribe link has expired.", 404)
    if request.form.get("List-Unsubscribe") == "One-Click":
        return Response("unsubscribed\n", mimetype="text/plain")  # RFC 8058: mail provider
    return _page("Unsubscribed", f"{email} will get no more of these emails.", 200)


def _user_agent() -> str:
    return request.headers.get("User-Agent", "")


def _page(title: str, body: str, status: int, *, raw: bool = False) -> Response:
    content = body if raw else f"<p>{escape(body)}</p>"
    html = (
        f'<!doctype html><html lang="en"><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{escape(title)}</title>'
        f'<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">'
        f"<h1>{escape(title)}</h1>{content}</body></html>"
    )
    return Response(html, status=status, mimetype="text/html", headers=NO_CACHE)
