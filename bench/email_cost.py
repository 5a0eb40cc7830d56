"""Cost of one email, in-process (MEASURED.md "Cost of one email"): the shipped `welcome`
template for a fresh recipient each time, step by step, in microseconds per email.

"All of it" is what the send path does: `render_tracked` (Jinja per recipient; MJML, the
text part and link tracking once per shape, email/shapes.py), `build_message` and the
bytes that go on the wire. The steps: the same render compiled for each recipient (no
shapes), Jinja + MJML render (with the text part), `html_to_text` alone, tracking links
and the open pixel, `build_message` and the wire bytes. The floor is
`str.format` of a precompiled email of the same size. Medians of `--rounds` rounds of
`--emails` emails each.

Last line: `ratio=<all of it / the str.format floor>` (lower is better).

    python -m bench.email_cost [--rounds 11] [--emails 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.world import REPO, load_line
from connector.email.links import add_open_pixel, track_links
from connector.email.merge import message_context
from connector.email.mime import build_message, make_message_id
from connector.email.templates import RenderedEmail, TemplateStore, TrackedEmail
from connector.email.text import html_to_text

BASE = "https://mail.example.com"


def context(n: int) -> dict[str, Any]:
    return message_context(
        contact={"firstname": f"Ann{n}", "lastname": "Lee", "email": f"ann{n}@example.com"},
        event=None,
        unsubscribe_url=f"{BASE}/u/token{n:06d}-abcdefghijklmnopqrstuvwxyz0123456789",
        company_name="Acme",
        company_address="1 Main St, Springfield",
    )


def per_email(step: Callable[[int], object], emails: int, rounds: int) -> float:
    samples = []
    for r in range(rounds):
        started = time.perf_counter()
        for n in range(emails):
            step(r * emails + n)
        samples.append((time.perf_counter() - started) / emails * 1e6)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--emails", type=int, default=200)
    parser.add_argument("--template", default="welcome")
    args = parser.parse_args(argv)
    store = TemplateStore.from_directory(REPO / "templates")
    name = args.template
    rendered = store.render(name, context(0))

    def track(html: str, n: int) -> str:
        tracked, _ = track_links(html, lambda i, _url: f"{BASE}/t/c/tok{n}-{i}")
        return add_open_pixel(tracked, f"{BASE}/t/o/tok{n}")

    def mime(r: RenderedEmail | TrackedEmail, html: str, n: int) -> bytes:
        message = build_message(
            sender="Acme <news@acme.example>",
            to=f"ann{n}@example.com",
            subject=r.subject,
            html=html,
            text=r.text,
            message_id=make_message_id("acme.example"),
            unsubscribe_url=f"{BASE}/u/token{n}",
        )
        return message.as_bytes()

    unshaped = TemplateStore.from_directory(REPO / "templates")
    unshaped.use_shapes = False

    def send_render(templates: TemplateStore, n: int) -> TrackedEmail:
        return templates.render_tracked(name, context(n), pixel=f"{BASE}/t/o/tok{n}",
                                        click=lambda i, _url: f"{BASE}/t/c/tok{n}-{i}")

    def everything(n: int) -> bytes:
        r = send_render(store, n)
        return mime(r, r.html, n)

    wire = everything(0)
    template = wire.decode("ascii", "replace").replace("{", "{{").replace("}", "}}")
    template = template.replace("Ann0", "{name}", 1)
    htmls = [store.render(name, context(n)).html for n in range(args.emails)]
    tracked = track(rendered.html, 0)

    steps: list[tuple[str, Callable[[int], object]]] = [
        ("all of it: render + links + MIME + wire bytes", everything),
        ("render_tracked, shaped (what is sent)", lambda n: send_render(store, n)),
        ("render_tracked, compiled per recipient", lambda n: send_render(unshaped, n)),
        ("render (Jinja + MJML + text part)", lambda n: store.render(name, context(n))),
        ("html_to_text (text part from the HTML)",
         lambda n: html_to_text(htmls[n % len(htmls)])),
        ("track links + open pixel", lambda n: track(rendered.html, n)),
        ("build_message + wire bytes", lambda n: mime(rendered, tracked, n)),
        ("str.format of a precompiled email (the floor)",
         lambda n: template.format(name=f"Ann{n}").encode()),
    ]
    print(f"bench/email_cost.py: template {name!r}, {len(wire):,} bytes on the wire; "
          f"{args.rounds} rounds x {args.emails}; {load_line()}")
    results = {label: per_email(step, args.emails, args.rounds) for label, step in steps}
    total, floor = results[steps[0][0]], results[steps[-1][0]]
    for label, us in results.items():
        print(f"{label:<50} {us:9,.1f} us/email  {us / total:6.1%}")
    print(f"ratio={total / floor:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
