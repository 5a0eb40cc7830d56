"""OutboxTransport: one parseable .eml per Message-ID, written atomically."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from pathlib import Path

from connector.email.transports import OutboxTransport, transport_from_url
from tests.integration.email.conftest import make_message


def test_writes_a_parseable_eml_named_after_the_message_id(tmp_path: Path) -> None:
    outbox = transport_from_url(f"outbox://{tmp_path}/out")
    message = make_message()
    outbox.send(message)

    [written] = (tmp_path / "out").iterdir()
    assert written.name == str(message["Message-ID"]).strip("<>") + ".eml"
    parsed = BytesParser(policy=policy.default).parsebytes(written.read_bytes())
    assert parsed["Message-ID"] == message["Message-ID"]
    assert parsed["Subject"] == "Hello \u2615"
    assert [part.get_content_type() for part in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_resending_the_same_message_id_overwrites(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path)
    first = make_message(subject="First")
    outbox.send(first)
    again = make_message(subject="Second")
    again.replace_header("Message-ID", first["Message-ID"])
    outbox.send(again)
    outbox.send(make_message())

    files = sorted(tmp_path.iterdir())
    assert len(files) == 2  # no duplicate, and no temporary files left behind
    assert b"Subject: Second" in outbox.path_for(first).read_bytes()


def test_odd_message_ids_stay_inside_the_directory(tmp_path: Path) -> None:
    outbox = OutboxTransport(tmp_path / "box")
    names = set()
    for message_id in ("<../../etc/passwd@x>", "<.._.._etc_passwd@x>", "<a b/c@x>"):
        message = make_message()
        message.replace_header("Message-ID", message_id)
        outbox.send(message)
        path = outbox.path_for(message)
        assert path.parent == tmp_path / "box" and path.is_file()
        names.add(path.name)
    assert len(names) == 3


def test_a_message_that_cannot_be_serialised_is_a_permanent_failure(tmp_path: Path) -> None:
    from email.message import EmailMessage

    import pytest

    from connector.email.errors import PermanentTransportError
    from connector.email.outbox import OutboxTransport

    message = EmailMessage()
    message["Message-ID"] = "<x@example.com>"
    message["Subject"] = "ok"
    message.set_payload("lone surrogate \ud800")
    with pytest.raises(PermanentTransportError, match="cannot serialise"):
        OutboxTransport(tmp_path).send(message)
    assert list(tmp_path.iterdir()) == []
