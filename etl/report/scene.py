"""The MRR picture as a scene: the series it shows, and its layout in logical coordinates.

A scene is a list of rectangles, lines, dots and texts; etl.report.chart renders the
same scene as PNG and as inline SVG, so the file next to the database and the page
the API serves are the same chart. Money is formatted here, exactly (integer cents).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
    "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
}  # fmt: skip

COLORS = {
    "mrr": "#2563eb",
    "waiting": "#93c5fd",
    "new": "#16a34a",
    "reactivation": "#0d9488",
    "expansion": "#86efac",
    "contraction": "#f59e0b",
    "churn": "#dc2626",
    "grid": "#e5e7eb",
    "axis": "#6b7280",
    "text": "#111827",
    "muted": "#6b7280",
    "background": "#ffffff",
}
MOVEMENTS_UP = ("new", "reactivation", "expansion")
MOVEMENTS_DOWN = ("contraction", "churn")
LABELS = {
    "new": "New",
    "reactivation": "Reactivation",
    "expansion": "Expansion",
    "contraction": "Contraction",
    "churn": "Churn",
    "mrr": "MRR",
    "waiting": "Waiting",
}

# Logical size of the chart; the PNG is drawn at twice this resolution.
WIDTH, HEIGHT = 1000, 580
LEFT, RIGHT = 96, 972
TOP_PANEL = (86, 318)
BOTTOM_PANEL = (368, 508)
PNG_SCALE = 2


@dataclass(frozen=True)
class MonthPoint:
    month: date
    mrr: int
    new: int  # new customers only (mrr_monthly.new_mrr − reactivation_mrr)
    reactivation: int
    expansion: int
    contraction: int
    churn: int
    customers: int
    is_current: bool = False
    # Current month only: expected MRR of renewals not yet paid (neither in mrr nor lost).
    waiting: int = 0

    @property
    def net(self) -> int:
        return self.new + self.reactivation + self.expansion - self.contraction - self.churn


@dataclass(frozen=True)
class Series:
    currency: str
    basis: str
    points: list[MonthPoint]

    @property
    def title(self) -> str:
        what = "all currencies converted" if self.basis == "reporting" else "native currency"
        return f"MRR in {self.currency.upper()} ({what})"


def money(cents: int, currency: str) -> str:
    """Exact: 1234567 usd -> '12,345.67'."""
    if currency.lower() in ZERO_DECIMAL:
        return f"{cents:,}"
    return f"{Decimal(cents).scaleb(-2):,.2f}"


def short_money(cents: int, currency: str) -> str:
    units = Decimal(cents) if currency.lower() in ZERO_DECIMAL else Decimal(cents).scaleb(-2)
    a = abs(units)
    if a >= 1_000_000:
        return f"{units / 1_000_000:.1f}M"
    if a >= 10_000:
        return f"{units / 1000:.0f}k"
    if a >= 1000:
        return f"{units / 1000:.1f}k"
    return f"{units:.0f}"


def month_label(m: date) -> str:
    return m.strftime("%b %y")


# ---------------------------------------------------------------- scene


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    color: str
    title: str | None = None


@dataclass(frozen=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    color: str
    width: float = 1.0


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    r: float
    color: str
    title: str | None = None


@dataclass(frozen=True)
class Text:
    x: float
    y: float  # baseline
    text: str
    size: int  # logical pixels
    color: str
    anchor: str = "start"  # start, middle, end
    bold: bool = False


Item = Rect | Line | Dot | Text


@dataclass
class Scene:
    width: int
    height: int
    title: str
    items: list[Item] = field(default_factory=list)


def nice_step(span: int, ticks: int = 4) -> int:
    """A round step (1, 2 or 5 × 10^k) giving about `ticks` intervals over `span`."""
    if span <= 0:
        return 1
    raw = span / ticks
    exp = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * exp >= raw:
            return int(m * exp) or 1
    return int(10 * exp)  # pragma: no cover


def build_scene(series: Series) -> Scene:
    """The whole chart: title, MRR above, movements below, month labels, legend."""
    pts = series.points
    scene = Scene(WIDTH, HEIGHT, series.title)
    band = (RIGHT - LEFT) / len(pts)
    centers = [LEFT + band * (i + 0.5) for i in range(len(pts))]
    items = scene.items
    items.append(Rect(0, 0, WIDTH, HEIGHT, COLORS["background"]))
    _title(items, series)
    _mrr_panel(items, series, centers)
    _movements_panel(items, series, centers, band)
    _month_labels(items, pts, centers)
    _legend(items, pts)
    return scene


def _title(items: list[Item], series: Series) -> None:
    cur, last = series.currency, series.points[-1]
    items.append(Text(LEFT, 34, series.title, 18, COLORS["text"], bold=True))
    latest = f"{month_label(last.month)}: {money(last.mrr, cur)} {cur.upper()}"
    items.append(Text(RIGHT, 34, latest, 14, COLORS["text"], anchor="end"))


def _mrr_panel(items: list[Item], series: Series, centers: list[float]) -> None:
    """MRR over time as a line of dots, with this month's waiting renewals above it."""
    cur, pts = series.currency, series.points
    y0, y1 = TOP_PANEL
    top = max(*(p.mrr + p.waiting for p in pts), 1)
    step = nice_step(top)
    vmax = step * math.ceil(top / step)

    def ym(v: int) -> float:
        return y1 - (y1 - y0) * v / vmax

    items.append(Text(LEFT - 10, y0 - 14, cur.upper(), 11, COLORS["muted"], anchor="end"))
    for v in range(0, vmax + 1, step):
        items.append(Line(LEFT, ym(v), RIGHT, ym(v), COLORS["grid"]))
        items.append(Text(LEFT - 10, ym(v) + 4, short_money(v, cur), 11, COLORS["muted"], "end"))
    for a, b, pa, pb in zip(centers, centers[1:], pts, pts[1:], strict=False):
        items.append(Line(a, ym(pa.mrr), b, ym(pb.mrr), COLORS["mrr"], 3))
    for x, p in zip(centers, pts, strict=True):
        month = month_label(p.month)
        if p.waiting > 0:
            # Renewals not yet paid this month: where MRR lands if they are.
            top_y = ym(p.mrr + p.waiting)
            items.append(Line(x, ym(p.mrr), x, top_y, COLORS["waiting"], 2))
            tip = f"{month}: {money(p.waiting, cur)} {cur.upper()} waiting (renewals not yet paid)"
            items.append(Dot(x, top_y, 4, COLORS["waiting"], title=tip))
        tip = f"{month}: MRR {money(p.mrr, cur)} {cur.upper()}, {p.customers} customers" + (
            " (month in progress)" if p.is_current else ""
        )
        items.append(Dot(x, ym(p.mrr), 4 if not p.is_current else 5, COLORS["mrr"], title=tip))


def _movements_panel(items: list[Item], series: Series, centers: list[float], band: float) -> None:
    """Movements as bars: gains stacked up from zero, losses down."""
    cur, pts = series.currency, series.points
    b0, b1 = BOTTOM_PANEL
    up_max = max(*(sum(getattr(p, k) for k in MOVEMENTS_UP) for p in pts), 0)
    down_max = max(*(sum(getattr(p, k) for k in MOVEMENTS_DOWN) for p in pts), 0)
    mstep = nice_step(max(up_max, down_max, 1), 2)
    up_top = mstep * math.ceil(up_max / mstep) if up_max else mstep
    down_top = mstep * math.ceil(down_max / mstep) if down_max else 0
    span = up_top + down_top
    zero = b0 + (b1 - b0) * up_top / span

    def hb(v: int) -> float:
        return (b1 - b0) * v / span

    items.append(Text(LEFT, b0 - 14, "Movements", 12, COLORS["text"], bold=True))
    for v in range(-down_top, up_top + 1, mstep):
        y = zero - hb(v)
        items.append(Line(LEFT, y, RIGHT, y, COLORS["grid"] if v else COLORS["axis"]))
        items.append(Text(LEFT - 10, y + 4, short_money(v, cur), 11, COLORS["muted"], "end"))
    bar = max(band * 0.62, 1.0)
    for x, p in zip(centers, pts, strict=True):
        y = zero
        for k in MOVEMENTS_UP:
            v = getattr(p, k)
            if v > 0:
                h = hb(v)
                items.append(Rect(x - bar / 2, y - h, bar, h, COLORS[k], _tip(p, k, v, cur)))
                y -= h
        y = zero
        for k in MOVEMENTS_DOWN:
            v = getattr(p, k)
            if v > 0:
                h = hb(v)
                items.append(Rect(x - bar / 2, y, bar, h, COLORS[k], _tip(p, k, -v, cur)))
                y += h


def _month_labels(items: list[Item], pts: list[MonthPoint], centers: list[float]) -> None:
    """Month labels under the bottom panel; every k-th when they would not fit."""
    n = len(pts)
    every = max(1, math.ceil(n / 12))
    for i, (x, p) in enumerate(zip(centers, pts, strict=True)):
        if (n - 1 - i) % every == 0:
            items.append(
                Text(x, BOTTOM_PANEL[1] + 22, month_label(p.month), 11, COLORS["muted"], "middle")
            )


def _legend(items: list[Item], pts: list[MonthPoint]) -> None:
    lx: float = LEFT
    legend = ["mrr", *MOVEMENTS_UP, *MOVEMENTS_DOWN]
    if any(p.waiting for p in pts):
        legend.insert(1, "waiting")
    for k in legend:
        items.append(Rect(lx, HEIGHT - 30, 12, 12, COLORS[k]))
        items.append(Text(lx + 18, HEIGHT - 19, LABELS[k], 12, COLORS["text"]))
        lx += 36 + _text_w(LABELS[k], 12)


def _text_w(text: str, size: int) -> float:
    """Width of a text as the PNG draws it (the widest of the two renderings)."""
    return len(text) * 6 * max(1, round(size * PNG_SCALE / 9)) / PNG_SCALE


def _tip(p: MonthPoint, kind: str, v: int, cur: str) -> str:
    sign = "+" if v >= 0 else "−"
    return f"{month_label(p.month)}: {LABELS[kind]} {sign}{money(abs(v), cur)} {cur.upper()}"
