"""Compose: subject colours at the soft edges (no background fringe), then transparency or a background."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from bgremover.processing import deadline

FG_RADII = (4, 32)  # near colours first; the wide radius reaches pixels far from the subject's core
CORE_DEPTH = 3  # pixels inside the opaque edge where colours are taken as the subject's own
COLOR_SIDE = 1024  # edge colours are estimated at most at this size, then sampled at full size
BAND_ROWS = 256  # a background colour is blended in bands of at most this many rows …
BAND_PIXELS = 1 << 18  # … and of at most this many pixels
BAND_POINTS = 1 << 16  # soft pixels are coloured at most this many at a time (~200 bytes each meanwhile)


def to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1] as rounded uint8 (also for an empty array, where OpenCV would return None)."""
    if alpha.size == 0:
        return np.zeros(alpha.shape, np.uint8)
    return cv2.convertScaleAbs(alpha, alpha=255.0)


class EdgeColors:
    """The nearby subject's colour for partly transparent pixels, not the background's, a band of rows at a time.

    The colour source is the subject's core (opaque, CORE_DEPTH px inside the edge), averaged over a
    small then a large window, so a matte that overshoots onto a dark background leaves no dark fringe.
    Sums are taken at most at COLOR_SIDE pixels and sampled bilinearly at the soft pixels; `band` finds
    and colours the soft pixels of some rows (`bands` says which), so a matte that is soft almost
    everywhere (refine=none on a big photo) needs per-point arrays for BAND_POINTS points at a time.
    `scratch`, if given, is a uint8 buffer of at least rgb's size whose contents may be overwritten
    (compose passes its output before filling it), so the masked colours need no array of their own.
    """

    def __init__(self, rgb: np.ndarray, a8: np.ndarray, scratch: np.ndarray | None = None) -> None:
        self.a8 = a8
        height, width = a8.shape
        kernel = np.ones((2 * CORE_DEPTH + 1,) * 2, np.uint8)
        core = cv2.inRange(a8, 250, 255)
        cv2.erode(core, kernel, dst=core)  # in place: one full-size mask, not two
        self.scale = scale = min(1.0, COLOR_SIDE / max(height, width))
        self.size = size = (max(1, round(width * scale)), max(1, round(height * scale)))
        masked = np.empty_like(rgb) if scratch is None else scratch.reshape(-1)[: rgb.size].reshape(rgb.shape)
        masked.fill(0)
        cv2.bitwise_and(rgb, rgb, dst=masked, mask=core)  # the core's colours; elsewhere left at 0
        weight = cv2.resize(core, size, interpolation=cv2.INTER_AREA).astype(np.float32) * (1.0 / 255.0)
        del core  # before the colour map is made: the two full-size masks are never held at once with it
        weighted = cv2.resize(masked, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        del masked
        self._maps: tuple[np.ndarray, np.ndarray] | None = (weight, weighted)
        self._sums: list[tuple[np.ndarray, np.ndarray]] | None = None  # kept when the soft pixels need several bands

    def _radius_sums(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(weight, colour) sums around each point, per radius, near colours first."""
        if self._sums is not None:
            yield from self._sums
            return
        weight, weighted = self._maps  # type: ignore[misc]
        for radius in FG_RADII:
            box = (2 * max(1, round(radius * self.scale)) + 1,) * 2
            den = cv2.boxFilter(weight, -1, box, normalize=False, borderType=cv2.BORDER_REFLECT)
            num = cv2.boxFilter(weighted, -1, box, normalize=False, borderType=cv2.BORDER_REFLECT)
            yield den, num
            del den, num  # one radius's sums at a time

    def bands(self) -> list[tuple[int, int]]:
        """Row ranges (top, bottom) holding at most BAND_POINTS soft pixels each (or a single row)."""
        per_row = (
            np.concatenate(
                [
                    cv2.reduce(_soft(self.a8[rows]), 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel()
                    for rows in _strips(self.a8)
                ]
            )
            // 255
        )
        ranges, top, count = [], 0, 0
        for row, n in enumerate(per_row.tolist()):
            if count + n > BAND_POINTS and row > top:
                ranges.append((top, row))
                top, count = row, 0
            count += int(n)
        if count:
            ranges.append((top, len(per_row)))
        if len(ranges) > 1 and self._sums is None:  # each band samples every radius: filter once, keep
            self._sums = list(self._radius_sums())
            self._maps = None
        return ranges

    def band(self, top: int, bottom: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, RGB) of the soft pixels in rows top…bottom that have a subject colour nearby."""
        found_points = []
        for rows in _strips(self.a8, top, bottom):  # a strip's mask at a time, never a full-size one
            points = cv2.findNonZero(_soft(self.a8[rows]))
            if points is not None:
                points = points.reshape(-1, 2)
                points[:, 1] += rows.start
                found_points.append(points)
        if not found_points:
            empty = np.empty(0, np.intp)
            return empty, empty, np.empty((0, 3), np.uint8)
        points = np.concatenate(found_points)
        xs, ys = points[:, 0], points[:, 1]
        scale, size = self.scale, self.size
        y = np.clip((ys + 0.5) * scale - 0.5, 0, size[1] - 1).astype(np.float32)
        x = np.clip((xs + 0.5) * scale - 0.5, 0, size[0] - 1).astype(np.float32)
        colors = np.zeros((ys.size, 3), np.float32)
        found = np.zeros(ys.size, bool)
        for den_sums, num_sums in self._radius_sums():  # sums are sampled at the soft pixels only, then divided there
            den, num = _bilinear(den_sums, y, x), _bilinear(num_sums, y, x)
            use = (den > 1e-3) & ~found
            colors[use] = num[use] / den[use][:, None]
            found |= use
            del den_sums, num_sums
        return ys[found], xs[found], (colors[found] + 0.5).astype(np.uint8)


def _soft(a8: np.ndarray) -> np.ndarray:
    """255 where a uint8 matte is partly transparent (1…253: 254 and 255 count as opaque), else 0."""
    return cv2.inRange(a8, 1, 253)


def _strips(a8: np.ndarray, top: int = 0, bottom: int | None = None) -> Iterator[slice]:
    """Row slices of at most BAND_ROWS rows covering top…bottom."""
    end = a8.shape[0] if bottom is None else bottom
    for start in range(top, end, BAND_ROWS):
        yield slice(start, min(start + BAND_ROWS, end))


def edge_colors(rgb: np.ndarray, a8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, cols, RGB) for all partly transparent pixels at once (see EdgeColors; compose takes them in bands)."""
    return EdgeColors(rgb, a8).band(0, a8.shape[0])


def _bilinear(image: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear samples of a 2-D or 3-D array at in-range float coordinates."""
    height, width = image.shape[:2]
    y0, x0 = y.astype(np.intp), x.astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    fy, fx = y - y0, x - x0
    if image.ndim == 3:
        fy, fx = fy[:, None], fx[:, None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def compose(rgb: np.ndarray, alpha: np.ndarray, bg_color: tuple[int, int, int, int] | None) -> np.ndarray:
    """RGBA (or RGB when the background is opaque) uint8 pixels ready to encode.

    `alpha` is float32 in [0, 1], or for a transparent background (None) also its uint8 form (to_uint8),
    which is all that path needs: a caller may then drop the float matte first.
    """
    a8 = alpha if alpha.dtype == np.uint8 else to_uint8(alpha)
    if bg_color is None:
        rgba = np.empty((*a8.shape, 4), np.uint8)
        edges = EdgeColors(rgb, a8, scratch=rgba)
        cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA, dst=rgba)  # OpenCV's SIMD copies: 5× faster than numpy's strided ones
        cv2.mixChannels([a8], [rgba], [0, 3])
        for top, bottom in edges.bands():
            deadline.check()
            ys, xs, colors = edges.band(top, bottom)
            rgba[ys, xs, :3] = colors
        return _clear_transparent(rgba)
    if alpha.dtype == np.uint8:
        raise ValueError("compose onto a background needs the float matte")
    out = np.empty((*a8.shape, 3 if bg_color[3] == 255 else 4), np.uint8)
    edges = EdgeColors(rgb, a8, scratch=out)
    step = max(1, min(BAND_ROWS, BAND_PIXELS // max(1, a8.shape[1])))
    for top in range(0, a8.shape[0], step):  # float maths in bands: bounded memory on big photos
        deadline.check()
        rows = slice(top, top + step)
        _blend(rgb[rows], alpha[rows], bg_color, out[rows])
    for top, bottom in edges.bands():  # the soft pixels again, with the subject's colours
        deadline.check()
        ys, xs, colors = edges.band(top, bottom)
        edge = np.empty((ys.size, 1, out.shape[2]), np.uint8)
        _blend(colors[:, None, :], alpha[ys, xs][:, None], bg_color, edge)
        out[ys, xs] = edge[:, 0]
    return out if out.shape[2] == 3 else _clear_transparent(out)


def compose_over(rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """RGB uint8 pixels: the subject (with its own colours at the soft edges) over an RGB background image."""
    a8 = to_uint8(alpha)
    ys, xs, colors = edge_colors(rgb, a8)
    fg = rgb.copy()
    fg[ys, xs] = colors
    out = np.empty(rgb.shape, np.uint8)
    for top in range(0, a8.shape[0], BAND_ROWS):  # float maths in bands, as for a background colour
        deadline.check()
        rows = slice(top, top + BAND_ROWS)
        a = alpha[rows][:, :, None]
        out[rows] = fg[rows] * a + background[rows] * (1.0 - a) + 0.5
    return out


def over_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """RGB pixels with their own alpha (uint8, or None) shown over white, whatever colour transparent pixels hold."""
    if alpha is None:
        return rgb
    out = np.empty_like(rgb)
    for top in range(0, rgb.shape[0], BAND_ROWS):
        deadline.check()
        rows = slice(top, top + BAND_ROWS)
        a = alpha[rows].astype(np.float32)[:, :, None] * (1.0 / 255.0)
        out[rows] = rgb[rows] * a + 255.0 * (1.0 - a) + 0.5
    return out


def _blend(fg: np.ndarray, alpha: np.ndarray, bg_color: tuple[int, int, int, int], out: np.ndarray) -> None:
    """Colours over a background colour (Porter-Duff "over"), written into `out` (RGB, or RGBA if translucent)."""
    color = np.array(bg_color[:3], np.float32)
    bg_a = bg_color[3] / 255.0
    a = alpha[:, :, None]
    out_a = a + bg_a * (1.0 - a)
    rgb_out = (fg * a + color * (bg_a * (1.0 - a))) / np.maximum(out_a, 1e-6)
    out[:, :, :3] = rgb_out + 0.5
    if out.shape[2] == 4:
        out[:, :, 3] = to_uint8(out_a[:, :, 0])


def _clear_transparent(rgba: np.ndarray) -> np.ndarray:
    """Zero the colour of fully transparent pixels, in place: no stray colour, and smaller files."""
    np.copyto(rgba.view(np.uint32)[:, :, 0], 0, where=rgba[:, :, 3] == 0)
    return rgba
