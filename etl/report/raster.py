"""A tiny RGB rasterizer and PNG encoder (zlib + struct): enough to draw a chart.

No imaging library: rectangles, thick lines, disks and 5×7 bitmap text, then a PNG with
one filter byte per row. The chart scene (etl.report.chart) is drawn by this and by the
SVG writer alike, so the picture and the web page show the same chart.
"""

from __future__ import annotations

import struct
import zlib

from etl.report import font5x7

Color = tuple[int, int, int]


def parse_color(value: str) -> Color:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class Canvas:
    def __init__(self, width: int, height: int, background: Color = (255, 255, 255)) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(bytes(background) * (width * height))

    def fill_rect(self, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
        xa, xb = sorted((round(x0), round(x1)))
        ya, yb = sorted((round(y0), round(y1)))
        xa, xb = max(0, xa), min(self.width, xb)
        ya, yb = max(0, ya), min(self.height, yb)
        if xa >= xb or ya >= yb:
            return
        run = bytes(color) * (xb - xa)
        stride = self.width * 3
        for y in range(ya, yb):
            start = y * stride + xa * 3
            self.pixels[start : start + len(run)] = run

    # Drawing primitives, positional as in every raster API (called per mark of the chart).
    def line(  # noqa: PLR0917
        self, x0: float, y0: float, x1: float, y1: float, color: Color, width: float = 1
    ) -> None:
        """A thick line, stamped as squares along its length."""
        half = max(width, 1) / 2
        dx, dy = x1 - x0, y1 - y0
        steps = max(1, int(max(abs(dx), abs(dy))))
        for i in range(steps + 1):
            x = x0 + dx * i / steps
            y = y0 + dy * i / steps
            self.fill_rect(x - half, y - half, x + half, y + half, color)

    def disk(self, cx: float, cy: float, r: float, color: Color) -> None:
        for dy in range(-int(r), int(r) + 1):
            half = (r * r - dy * dy) ** 0.5
            self.fill_rect(cx - half, cy + dy, cx + half + 1, cy + dy + 1, color)

    # Positional like line(): a drawing primitive called per label of the chart.
    def text(self, x: float, y: float, text: str, scale: int, color: Color, anchor: str) -> None:  # noqa: PLR0917
        """Text whose baseline is at y; anchor start, middle or end."""
        w = font5x7.text_width(text, scale)
        left = x - (w / 2 if anchor == "middle" else w if anchor == "end" else 0)
        top = y - font5x7.HEIGHT * scale
        for i, ch in enumerate(text):
            ox = left + i * font5x7.ADVANCE * scale
            for cx, cy in font5x7.glyph(ch):
                px, py = ox + cx * scale, top + cy * scale
                self.fill_rect(px, py, px + scale, py + scale, color)

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[y * stride : (y + 1) * stride]) for y in range(self.height)
        )
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 6))
            + _chunk(b"IEND", b"")
        )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )
