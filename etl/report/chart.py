"""The MRR picture: MRR over time above, its movements below — as PNG and as an HTML page.

One scene (a list of rectangles, lines, dots and texts in logical coordinates) is built
from `mrr_monthly`; `render_png` rasterizes it (etl.report.raster) and `render_svg` writes
it as inline SVG, so the file next to the database and the page the API serves are the
same chart. The HTML page has no scripts and no external resources.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from etl.db import tables
from etl.report.raster import Canvas, parse_color

if TYPE_CHECKING:
    from etl.config import Settings

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


# ---------------------------------------------------------------- data


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


def load_series(engine: Engine, *, currency: str | None = None, months: int = 36) -> Series | None:
    """The last `months` months of one series of mrr_monthly, or None when there is none.

    Without a currency: the converted (reporting) totals when every month has all its
    rates, else the native currency with the largest latest MRR.
    """
    t = tables.mrr_monthly
    with engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.month)).all()
    if not rows:
        return None
    by_key: dict[tuple[str, str], list[object]] = {}
    for r in rows:
        by_key.setdefault((r.basis, r.currency), []).append(r)
    chosen: tuple[str, str] | None = None
    if currency is not None:
        cur = currency.lower()
        chosen = next(
            (k for k in (("native", cur), ("reporting", cur)) if k in by_key), None
        )  # a native series wins over a converted one of the same currency
        if chosen is None:
            return None
    else:
        reporting = [k for k in by_key if k[0] == "reporting"]
        complete = [
            k
            for k in reporting
            if all(not getattr(r, "missing_rates", None) for r in by_key[k][-months:])
        ]
        if complete:
            chosen = complete[0]
        else:
            natives = [k for k in by_key if k[0] == "native"]
            if not natives:
                return None
            chosen = max(natives, key=lambda k: (by_key[k][-1].mrr, k[1]))  # type: ignore[attr-defined]
    points = [
        MonthPoint(
            month=r.month,  # type: ignore[attr-defined]
            mrr=int(r.mrr),  # type: ignore[attr-defined]
            new=int(r.new_mrr) - int(r.reactivation_mrr),  # type: ignore[attr-defined]
            reactivation=int(r.reactivation_mrr),  # type: ignore[attr-defined]
            expansion=int(r.expansion_mrr),  # type: ignore[attr-defined]
            contraction=int(r.contraction_mrr),  # type: ignore[attr-defined]
            churn=int(r.lost_mrr),  # type: ignore[attr-defined]
            customers=int(r.customers),  # type: ignore[attr-defined]
            is_current=bool(r.is_current),  # type: ignore[attr-defined]
            waiting=int(r.waiting_mrr or 0),  # type: ignore[attr-defined]
        )
        for r in by_key[chosen][-months:]
    ]
    return Series(currency=chosen[1], basis=chosen[0], points=points)


# ---------------------------------------------------------------- money text


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


@dataclass
class Scene:
    width: int
    height: int
    title: str
    items: list[Rect | Line | Dot | Text] = field(default_factory=list)


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
    cur = series.currency
    pts = series.points
    n = len(pts)
    scene = Scene(WIDTH, HEIGHT, series.title)
    items = scene.items
    items.append(Rect(0, 0, WIDTH, HEIGHT, COLORS["background"]))
    last = pts[-1]
    items.append(Text(LEFT, 34, series.title, 18, COLORS["text"], bold=True))
    items.append(
        Text(
            RIGHT,
            34,
            f"{month_label(last.month)}: {money(last.mrr, cur)} {cur.upper()}",
            14,
            COLORS["text"],
            anchor="end",
        )
    )
    band = (RIGHT - LEFT) / n
    centers = [LEFT + band * (i + 0.5) for i in range(n)]

    # Top panel: MRR.
    y0, y1 = TOP_PANEL
    top = max(max(p.mrr + p.waiting for p in pts), 1)
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
        if p.waiting > 0:
            # Renewals not yet paid this month: where MRR lands if they are.
            items.append(Line(x, ym(p.mrr), x, ym(p.mrr + p.waiting), COLORS["waiting"], 2))
            items.append(
                Dot(
                    x,
                    ym(p.mrr + p.waiting),
                    4,
                    COLORS["waiting"],
                    title=f"{month_label(p.month)}: {money(p.waiting, cur)} {cur.upper()} "
                    "waiting (renewals not yet paid)",
                )
            )
        items.append(
            Dot(
                x,
                ym(p.mrr),
                4 if not p.is_current else 5,
                COLORS["mrr"],
                title=f"{month_label(p.month)}: MRR {money(p.mrr, cur)} {cur.upper()}, "
                f"{p.customers} customers" + (" (month in progress)" if p.is_current else ""),
            )
        )

    # Bottom panel: movements, gains stacked up from zero and losses down.
    b0, b1 = BOTTOM_PANEL
    ups = [sum(getattr(p, k) for k in MOVEMENTS_UP) for p in pts]
    downs = [sum(getattr(p, k) for k in MOVEMENTS_DOWN) for p in pts]
    up_max, down_max = max(max(ups), 0), max(max(downs), 0)
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
                items.append(
                    Rect(x - bar / 2, y - h, bar, h, COLORS[k], _tip(p, k, v, cur)),
                )
                y -= h
        y = zero
        for k in MOVEMENTS_DOWN:
            v = getattr(p, k)
            if v > 0:
                h = hb(v)
                items.append(Rect(x - bar / 2, y, bar, h, COLORS[k], _tip(p, k, -v, cur)))
                y += h

    # Month labels under the bottom panel; every k-th when they would not fit.
    every = max(1, math.ceil(n / 12))
    for i, (x, p) in enumerate(zip(centers, pts, strict=True)):
        if (n - 1 - i) % every == 0:
            items.append(Text(x, b1 + 22, month_label(p.month), 11, COLORS["muted"], "middle"))

    # Legend.
    lx: float = LEFT
    legend = ["mrr", *MOVEMENTS_UP, *MOVEMENTS_DOWN]
    if any(p.waiting for p in pts):
        legend.insert(1, "waiting")
    for k in legend:
        items.append(Rect(lx, HEIGHT - 30, 12, 12, COLORS[k]))
        items.append(Text(lx + 18, HEIGHT - 19, LABELS[k], 12, COLORS["text"]))
        lx += 36 + _text_w(LABELS[k], 12)
    return scene


def _text_w(text: str, size: int) -> float:
    """Width of a text as the PNG draws it (the widest of the two renderings)."""
    return len(text) * 6 * max(1, round(size * PNG_SCALE / 9)) / PNG_SCALE


def _tip(p: MonthPoint, kind: str, v: int, cur: str) -> str:
    sign = "+" if v >= 0 else "−"
    return f"{month_label(p.month)}: {LABELS[kind]} {sign}{money(abs(v), cur)} {cur.upper()}"


# ---------------------------------------------------------------- renderers


def render_png(scene: Scene, scale: int = PNG_SCALE) -> bytes:
    canvas = Canvas(scene.width * scale, scene.height * scale)
    for it in scene.items:
        if isinstance(it, Rect):
            canvas.fill_rect(
                it.x * scale,
                it.y * scale,
                (it.x + it.w) * scale,
                (it.y + it.h) * scale,
                parse_color(it.color),
            )
        elif isinstance(it, Line):
            canvas.line(
                it.x1 * scale,
                it.y1 * scale,
                it.x2 * scale,
                it.y2 * scale,
                parse_color(it.color),
                it.width * scale,
            )
        elif isinstance(it, Dot):
            canvas.disk(it.x * scale, it.y * scale, it.r * scale, parse_color(it.color))
        else:
            font_scale = max(1, round(it.size * scale / 9))
            canvas.text(
                it.x * scale, it.y * scale, it.text, font_scale, parse_color(it.color), it.anchor
            )
    return canvas.png()


def _n(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def render_svg(scene: Scene) -> str:
    e = html.escape
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {scene.width} {scene.height}" '
        f'role="img" aria-label="{e(scene.title)}" font-family="system-ui, sans-serif">'
    ]
    for it in scene.items:
        if isinstance(it, Rect):
            shape = (
                f'<rect x="{_n(it.x)}" y="{_n(it.y)}" width="{_n(it.w)}" '
                f'height="{_n(it.h)}" fill="{it.color}"/>'
            )
            out.append(f"<g><title>{e(it.title)}</title>{shape}</g>" if it.title else shape)
        elif isinstance(it, Line):
            out.append(
                f'<line x1="{_n(it.x1)}" y1="{_n(it.y1)}" x2="{_n(it.x2)}" y2="{_n(it.y2)}" '
                f'stroke="{it.color}" stroke-width="{_n(it.width)}" stroke-linecap="round"/>'
            )
        elif isinstance(it, Dot):
            shape = f'<circle cx="{_n(it.x)}" cy="{_n(it.y)}" r="{_n(it.r)}" fill="{it.color}"/>'
            out.append(f"<g><title>{e(it.title)}</title>{shape}</g>" if it.title else shape)
        else:
            anchor = "" if it.anchor == "start" else f' text-anchor="{it.anchor}"'
            weight = ' font-weight="600"' if it.bold else ""
            out.append(
                f'<text x="{_n(it.x)}" y="{_n(it.y)}" font-size="{it.size}" '
                f'fill="{it.color}"{anchor}{weight}>{e(it.text)}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1040px;color:#111827;padding:0 1rem}
h1{font-size:1.4rem;margin:0 0 .25rem}
p.sub{color:#6b7280;margin:0 0 1rem}
figure{margin:0}
svg{width:100%;height:auto;display:block}
table{border-collapse:collapse;margin-top:1.5rem;font-variant-numeric:tabular-nums;width:100%}
th,td{padding:.3rem .6rem;text-align:right;border-bottom:1px solid #e5e7eb}
th:first-child,td:first-child{text-align:left}
"""


def render_html(series: Series | None, *, generated_at: str | None = None) -> str:
    e = html.escape
    head = (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        # An empty icon: no favicon request, no 404 in the browser console.
        '<link rel="icon" href="data:,">\n'
        f"<title>MRR</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
    )
    if series is None or not series.points:
        return (
            head + '<h1>MRR</h1>\n<p class="sub">No MRR computed yet: run '
            "<code>etl sync</code> (or <code>etl recompute</code>).</p>\n</body>\n</html>\n"
        )
    cur = series.currency
    scene = build_scene(series)
    rows = []
    for p in reversed(series.points):
        cells = [
            p.mrr,
            p.waiting,
            p.new,
            p.reactivation,
            p.expansion,
            -p.contraction,
            -p.churn,
            p.net,
        ]
        rows.append(
            f"<tr><td>{e(p.month.strftime('%Y-%m'))}{' (in progress)' if p.is_current else ''}</td>"
            + "".join(f"<td>{e(money(c, cur))}</td>" for c in cells)
            + f"<td>{p.customers}</td></tr>"
        )
    sub = f"Generated {e(generated_at)}. " if generated_at else ""
    return (
        head
        + f"<h1>{e(series.title)}</h1>\n"
        + f'<p class="sub">{sub}Amounts in {e(cur.upper())}. Hover a point or bar for its figure.</p>\n'
        + f"<figure>\n{render_svg(scene)}\n</figure>\n"
        + "<table>\n<thead><tr><th>Month</th><th>MRR</th><th>Waiting</th><th>New</th><th>Reactivation</th>"
        + "<th>Expansion</th><th>Contraction</th><th>Churn</th><th>Net change</th>"
        + "<th>Customers</th></tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------- files


def chart_directory(settings: Settings) -> Path:
    """Next to the SQLite database file; the working directory for PostgreSQL."""
    url = settings.db_url
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent
    return Path.cwd()


@dataclass(frozen=True)
class ChartFiles:
    png: Path
    html: Path
    series: Series


def write_chart_files(
    engine: Engine, directory: Path, *, stem: str = "mrr", currency: str | None = None
) -> ChartFiles | None:
    """Write `<stem>.png` and `<stem>.html`; None (nothing written) when no MRR exists."""
    series = load_series(engine, currency=currency)
    if series is None or not series.points:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    png_path = directory / f"{stem}.png"
    html_path = directory / f"{stem}.html"
    # Written beside and renamed, so a reader never sees half a picture.
    for path, data in (
        (png_path, render_png(build_scene(series))),
        (html_path, render_html(series).encode("utf-8")),
    ):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return ChartFiles(png=png_path, html=html_path, series=series)
