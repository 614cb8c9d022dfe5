"""Server-rendered SVG charts for the Releases page (no JavaScript, no CDN): weekly bars,
a trend line and a deployment timeline, each carrying its numbers in a data attribute."""

import json

from django.utils.html import format_html, format_html_join

WIDTH, HEIGHT, PAD = 240, 64, 4
STATUS_COLOURS = {"succeeded": "#1e7e34", "failed": "#b02a37", "cancelled": "#8a8a8a"}


def _frame(kind: str, title: str, values, body) -> str:
    return format_html(
        '<figure class="chart" data-chart="{}" data-values="{}"><figcaption>{}</figcaption>'
        '<svg viewBox="0 0 {} {}" role="img" aria-label="{}" preserveAspectRatio="none">{}'
        "</svg></figure>",
        kind,
        json.dumps(values),
        title,
        WIDTH,
        HEIGHT,
        title,
        body,
    )


def bars(kind: str, title: str, weeks: list[dict], key: str, unit: str = "") -> str:
    """One bar per week of `weeks[i][key]`; a week without data has no bar (not a 0 bar).
    `unit` "%" shows a 0-1 rate as a percentage in the bar's label."""
    values = [week[key] for week in weeks]
    top = max([v for v in values if v is not None] or [0]) or 1
    step = (WIDTH - 2 * PAD) / max(len(values), 1)
    rects = []
    for index, (week, value) in enumerate(zip(weeks, values)):
        if value is None:
            continue
        height = max((HEIGHT - 2 * PAD) * value / top, 1)
        shown = f"{value * 100:.0f} %" if unit == "%" else f"{value:g}{unit}"
        label = f"week ending {week['week_ending']}: {shown}"
        rects.append(
            (
                f"{PAD + index * step + 1:.1f}",
                f"{HEIGHT - PAD - height:.1f}",
                f"{max(step - 2, 1):.1f}",
                f"{height:.1f}",
                label,
            )
        )
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
        rects,
    )
    return _frame(kind, title, values, body)


def timeline(kind: str, title: str, deployments, start, end) -> str:
    """Each finished deployment between start and end as a tick, coloured by its outcome;
    rollbacks are drawn full height."""
    span = (end - start).total_seconds() or 1
    ticks, values = [], []
    for deployment in deployments:
        when = deployment.finished_at
        if when is None or not start <= when <= end:
            continue
        x = PAD + (WIDTH - 2 * PAD) * (when - start).total_seconds() / span
        rollback = deployment.kind == "rollback"
        top = PAD if rollback else HEIGHT / 3
        colour = STATUS_COLOURS.get(deployment.status, "#0b5cad")
        label = (
            f"{when:%b %d %H:%M} {deployment.kind} {deployment.build.tag[:12]} "
            f"{deployment.status}"
        )
        ticks.append((f"{x:.1f}", f"{top:.1f}", f"{x:.1f}", HEIGHT - PAD, colour, label))
        values.append({"id": deployment.pk, "status": deployment.status, "kind": deployment.kind})
    body = format_html_join(
        "",
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="2">'
        "<title>{}</title></line>",
        ticks,
    )
    return _frame(kind, title, values, body)
