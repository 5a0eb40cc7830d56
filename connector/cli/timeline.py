"""Flow timelines as a picture: a terminal chart (rich) and a standalone SVG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from html import escape
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

ACTION_STYLE = {
    "send": "green",
    "wait": "cyan",
    "exit": "red",
    "complete": "bold green",
    "jump": "magenta",
    "hold": "yellow",
}
ACTION_COLOUR = {
    "send": "#2e7d32",
    "wait": "#0277bd",
    "exit": "#c62828",
    "complete": "#1b5e20",
    "jump": "#6a1b9a",
    "hold": "#f9a825",
}


class Entry(Protocol):
    @property
    def at(self) -> datetime: ...
    @property
    def step(self) -> str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def template(self) -> str | None: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


def label(entry: Entry) -> str:
    """The template for a send, else the reason the engine gave (jumps, waits, exits)."""
    return entry.template or str(entry.detail.get("reason", ""))


def offset(start: datetime, at: datetime) -> str:
    """'day 7 +02:30' relative to the start (day 0 is the first day)."""
    seconds = int((at - start).total_seconds())
    days, rest = divmod(max(seconds, 0), 86400)
    return f"day {days} +{rest // 3600:02d}:{rest % 3600 // 60:02d}"


def print_timeline(
    console: Console, entries: Sequence[Entry], *, start: datetime, title: str
) -> None:
    table = Table("when", "step", "action", "template / reason", title=title)
    for entry in entries:
        style = ACTION_STYLE.get(entry.action, "")
        table.add_row(
            offset(start, entry.at),
            entry.step or "-",
            f"[{style}]{entry.action}[/]" if style else entry.action,
            label(entry),
        )
    console.print(table)
    sends = sum(1 for e in entries if e.action == "send")
    last = max((e.at for e in entries), default=start)
    console.print(f"{sends} email(s) over {offset(start, last)}")


def timeline_svg(entries: Sequence[Entry], *, start: datetime, title: str) -> str:
    """One row per decision on a shared time axis; sends are labelled with the template."""
    row, left, width = 26, 170, 640
    span = max([(e.at - start).total_seconds() for e in entries] + [1.0])
    height = 60 + row * len(entries)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 200}" '
        f'height="{height}" font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="15" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{left}" y1="40" x2="{left + width}" y2="40" stroke="#999"/>',
        f'<text x="{left}" y="34" fill="#666">{escape(offset(start, start))}</text>',
        f'<text x="{left + width}" y="34" fill="#666" text-anchor="end">'
        f"{escape(offset(start, start + timedelta(seconds=span)))}</text>",
    ]
    for index, entry in enumerate(entries):
        y = 60 + index * row
        x = left + (entry.at - start).total_seconds() / span * width
        colour = ACTION_COLOUR.get(entry.action, "#555")
        # Labels of late entries go left of their dot so they stay inside the picture.
        late = x > left + width * 0.6
        text = f"{entry.action}: {label(entry)} ({entry.step or '-'})"
        anchor = ' text-anchor="end"' if late else ""
        parts += [
            f'<text x="10" y="{y + 4}">{escape(offset(start, entry.at))}</text>',
            f'<line x1="{left}" y1="{y}" x2="{left + width}" y2="{y}" stroke="#eee"/>',
            f'<circle cx="{x:.1f}" cy="{y}" r="6" fill="{colour}"/>',
            f'<text x="{x - 10 if late else x + 10:.1f}" y="{y + 4}" fill="{colour}"'
            f"{anchor}>{escape(text)}</text>",
        ]
    parts.append("</svg>")
    return "\n".join(parts)
