"""A campaign report as a standalone SVG: the funnel as bars and people's opens and clicks
over the first 72 hours as two curves, in the flow timeline's style (cli/timeline.py)."""

from __future__ import annotations

from html import escape

from connector.services.campaigns.report import CURVE_HOURS, CampaignReport

BAR_COLOUR = "#0277bd"
MACHINE_COLOUR = "#9e9e9e"
OPEN_COLOUR = "#2e7d32"
CLICK_COLOUR = "#6a1b9a"
LEFT, WIDTH, ROW = 190, 520, 24


def funnel_bars(report: CampaignReport) -> list[tuple[str, int, str]]:
    """(label, count, colour) per funnel line, audience first."""
    f = report.funnel
    return [
        ("audience", f.audience, BAR_COLOUR),
        *((f"skipped: {reason}", n, MACHINE_COLOUR)
          for reason, n in sorted(report.skipped.items())),
        ("sent", f.sent, BAR_COLOUR),
        ("bounced", f.bounced, MACHINE_COLOUR),
        ("opened (people)", f.opened, OPEN_COLOUR),
        ("opened (machines only)", f.opened_machine, MACHINE_COLOUR),
        ("clicked (people)", f.clicked, CLICK_COLOUR),
        ("clicked (machines only)", f.clicked_machine, MACHINE_COLOUR),
        ("unsubscribed", f.unsubscribed, "#c62828"),
    ]


def report_svg(report: CampaignReport) -> str:
    bars = funnel_bars(report)
    widest = max([n for _, n, _ in bars] + [1])
    curve_top = 60 + ROW * len(bars) + 40
    curve_height = 160
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{LEFT + WIDTH + 120}" '
        f'height="{curve_top + curve_height + 50}" font-family="sans-serif" font-size="12">',
        f'<text x="10" y="20" font-size="15" font-weight="bold">'
        f"{escape(f'{report.name} ({report.key}): {report.state}')}</text>",
    ]
    for index, (label, count, colour) in enumerate(bars):
        y = 40 + index * ROW
        length = count / widest * WIDTH
        parts += [
            f'<text x="10" y="{y + 14}">{escape(label)}</text>',
            f'<rect x="{LEFT}" y="{y}" width="{length:.1f}" height="{ROW - 6}" '
            f'fill="{colour}"/>',
            f'<text x="{LEFT + length + 6:.1f}" y="{y + 14}" fill="#333">{count}</text>',
        ]
    parts += _curves(report, curve_top, curve_height)
    parts.append("</svg>")
    return "\n".join(parts)


def _curves(report: CampaignReport, top: int, height: int) -> list[str]:
    """People's opens and clicks per hour since the start, on one axis."""
    peak = max(report.hourly_opens + report.hourly_clicks + [1])
    step = WIDTH / (CURVE_HOURS - 1)
    bottom = top + height
    parts = [
        f'<text x="10" y="{top - 12}" font-weight="bold">People\'s opens and clicks per '
        f"hour, first {CURVE_HOURS} h of the send</text>",
        f'<line x1="{LEFT}" y1="{bottom}" x2="{LEFT + WIDTH}" y2="{bottom}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{bottom}" stroke="#999"/>',
        f'<text x="{LEFT - 6}" y="{top + 4}" text-anchor="end" fill="#666">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{bottom + 4}" text-anchor="end" fill="#666">0</text>',
    ]
    for hour in range(0, CURVE_HOURS + 1, 12):
        x = LEFT + min(hour, CURVE_HOURS - 1) * step
        parts.append(f'<text x="{x:.1f}" y="{bottom + 16}" fill="#666" '
                     f'text-anchor="middle">+{hour}h</text>')
    for values, colour, name, row in ((report.hourly_opens, OPEN_COLOUR, "opens", 0),
                                      (report.hourly_clicks, CLICK_COLOUR, "clicks", 1)):
        points = " ".join(f"{LEFT + hour * step:.1f},{bottom - n / peak * height:.1f}"
                          for hour, n in enumerate(values))
        parts += [
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>',
            f'<text x="{LEFT + WIDTH + 10}" y="{top + 14 + row * 16}" fill="{colour}">'
            f"{name} {sum(values)}</text>",
        ]
    return parts
