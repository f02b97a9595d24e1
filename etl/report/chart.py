"""The MRR picture: MRR over time above, its movements below — as PNG and as an HTML page.

The series is read from `mrr_monthly` (load_series); etl.report.scene lays it out as
one scene, which `render_png` rasterizes (etl.report.raster) and `render_svg` writes
as inline SVG, so the file next to the database and the page the API serves are the
same chart. The HTML page has no scripts and no external resources.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, select

from etl.db import tables
from etl.report.raster import Canvas, parse_color
from etl.report.scene import (
    PNG_SCALE,
    Dot,
    Line,
    MonthPoint,
    Rect,
    Scene,
    Series,
    build_scene,
    money,
)

if TYPE_CHECKING:
    from etl.config import Settings


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
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {scene.width} {scene.height}" '
            f'role="img" aria-label="{e(scene.title)}" font-family="system-ui, sans-serif">'
        )
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
