"""Prompts per day by status, as an inline SVG drawn on the server (no scripts, no CDN)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from scheduler.models import PromptHistory, PromptStatus

CHART_DAYS = 30
COLOURS = {
    PromptStatus.DISPATCHED: "#2e7d32",
    PromptStatus.PENDING: "#9e9e9e",
    PromptStatus.RETRY: "#f9a825",
    PromptStatus.FAILED: "#c62828",
    PromptStatus.SKIPPED: "#5c6bc0",
}
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, LEGEND = 720, 200, 36, 24, 8, 24


@dataclass(frozen=True)
class DailyCounts:
    days: list[date]
    counts: dict[date, dict[str, int]]

    @property
    def peak(self) -> int:
        return max((sum(c.values()) for c in self.counts.values()), default=0)

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())


def prompts_per_day(
    history: QuerySet[PromptHistory], now: datetime, days: int = CHART_DAYS
) -> DailyCounts:
    """One aggregate query: rows per local day and status over the last `days` days."""
    today = timezone.localdate(now)
    first = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(first, datetime.min.time()))
    rows = (
        history.filter(created_at__gte=start)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["day"]][row["status"]] = row["n"]
    return DailyCounts([first + timedelta(days=i) for i in range(days)], dict(counts))


def axis_ticks(peak: int) -> list[int]:
    """3 to 5 round values from 0 to at least `peak`: steps of 1, 2 or 5 times a power of ten."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            top = max(-(-peak // step), 2) * step
            if top // step <= 4:
                return list(range(0, top + 1, step))
        magnitude *= 10


def y_axis(ticks: list[int]) -> SafeString:
    """A label and a faint line at every tick; the top tick is the top of the plot."""
    plot_height = HEIGHT - BOTTOM - TOP
    parts = []
    for value in ticks:
        y = HEIGHT - BOTTOM - value / ticks[-1] * plot_height
        parts.append(
            format_html(
                '<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#999" stroke-opacity="0.35"></line>'
                '<text x="{}" y="{}" font-size="10" text-anchor="end" class="tick">{}</text>',
                LEFT - 2,
                WIDTH,
                f"{y:.1f}",
                f"{y:.1f}",
                LEFT - 6,
                f"{y + 3:.1f}",
                formats.number_format(value),
            )
        )
    return SafeString("".join(parts))


def date_label(x: float, day: date) -> SafeString:
    return format_html(
        '<text x="{}" y="{}" font-size="10" class="day">{}</text>',
        f"{x:.1f}",
        HEIGHT - 8,
        formats.date_format(day, "d.m"),
    )


def stacked_bars(data: DailyCounts) -> SafeString:
    ticks = axis_ticks(data.peak)
    peak = ticks[-1]
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / len(data.days)
    bars = []
    for index, day in enumerate(data.days):
        x = LEFT + index * slot + 1
        y: float = HEIGHT - BOTTOM
        for status in COLOURS:
            n = data.counts.get(day, {}).get(status, 0)
            if not n:
                continue
            h = n / peak * plot_height
            y -= h
            bars.append(_rect(x, y, slot - 2, h, status, day, n))
        # Every fifth day counted back from today, so the newest bar has its date.
        if (len(data.days) - 1 - index) % 5 == 0:
            bars.append(date_label(x, day))
    axis = y_axis(ticks)
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" class="prompt-chart" '
        'viewBox="0 0 {w} {h}" width="100%" aria-label="{label}"><title>{label}</title>'
        "{axis}{bars}{legend}</svg>",
        w=WIDTH,
        h=HEIGHT + LEGEND,
        label=_("Prompts per day, last %(days)d days") % {"days": len(data.days)},
        axis=axis,
        bars=SafeString("".join(bars)),
        legend=_legend(),
    )


def _rect(
    x: float, y: float, w: float, h: float, status: PromptStatus, day: date, n: int
) -> SafeString:
    tip = f"{formats.date_format(day, 'SHORT_DATE_FORMAT')}: {n} {PromptStatus(status).label}"
    return format_html(
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" '
        'data-status="{}"><title>{}</title></rect>',
        f"{x:.1f}",
        f"{y:.1f}",
        f"{w:.1f}",
        f"{h:.1f}",
        COLOURS[status],
        status,
        tip,
    )


def _legend() -> SafeString:
    step = WIDTH // len(COLOURS)
    return format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"></rect>'
        '<text x="{}" y="{}" font-size="11">{}</text>',
        (
            (i * step + LEFT, HEIGHT + 6, colour, i * step + LEFT + 14, HEIGHT + 15, status.label)
            for i, (status, colour) in enumerate(COLOURS.items())
        ),
    )


REPORT_COLOURS = {"sent": "#5c6bc0", "opened": "#f9a825", "followed_up": "#2e7d32"}


def report_labels() -> dict[str, str]:
    return {"sent": _("sent"), "opened": _("opened"), "followed_up": _("followed up")}


def weekly_bars(weeks: dict[date, Any], days: int) -> SafeString:
    """Three bars a week (sent, opened, followed up) over the last `days` days."""
    today = timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    count = max(days // 7, 1)
    starts = [monday - timedelta(weeks=count - 1 - i) for i in range(count)]
    ticks = axis_ticks(max((w.sent for w in weeks.values()), default=0))
    peak = ticks[-1]
    plot_height = HEIGHT - BOTTOM - TOP
    slot = (WIDTH - LEFT) / count
    labels = report_labels()
    bars = []
    for index, start in enumerate(starts):
        figures = weeks.get(start)
        x = LEFT + index * slot + 2
        for offset, key in enumerate(REPORT_COLOURS):
            n = getattr(figures, key, 0) if figures else 0
            h = n / peak * plot_height
            tip = f"{formats.date_format(start, 'SHORT_DATE_FORMAT')}: {n} {labels[key]}"
            bars.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}" data-series="{}">'
                    "<title>{}</title></rect>",
                    f"{x + offset * (slot - 4) / 3:.1f}",
                    f"{HEIGHT - BOTTOM - h:.1f}",
                    f"{(slot - 4) / 3:.1f}",
                    f"{h:.1f}",
                    REPORT_COLOURS[key],
                    key,
                    tip,
                )
            )
        bars.append(date_label(x, start))
    total = {key: sum(getattr(w, key) for w in weeks.values()) for key in REPORT_COLOURS}
    label = _(
        "Prompts per week, last %(weeks)d weeks: %(sent)d sent, %(opened)d opened, "
        "%(followed_up)d followed up"
    ) % {"weeks": count, **total}
    legend = format_html_join(
        "",
        '<rect x="{}" y="{}" width="10" height="10" fill="{}"></rect>'
        '<text x="{}" y="{}" font-size="11">{}</text>',
        (
            (i * 160 + LEFT, HEIGHT + 6, colour, i * 160 + LEFT + 14, HEIGHT + 15, labels[key])
            for i, (key, colour) in enumerate(REPORT_COLOURS.items())
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" class="report-chart" '
        'viewBox="0 0 {w} {h}" width="100%" aria-label="{label}"><title>{label}</title>'
        "{axis}{bars}{legend}</svg>",
        w=WIDTH,
        h=HEIGHT + LEGEND,
        label=label,
        axis=y_axis(ticks),
        bars=SafeString("".join(bars)),
        legend=legend,
    )
