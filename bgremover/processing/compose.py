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
FAINT_LEVELS = 1.0  # a partly transparent pixel's colour keeps only the bits that move it over any background
# by more than this many 8-bit levels: fewer distinct colours where the matte is faint, so smaller PNGs


def _faint_luts(levels: float) -> tuple[np.ndarray, np.ndarray]:
    """Per alpha value, the bit mask and the half step that round a colour to the precision that alpha shows.

    The step is the largest power of two s (at most 128) with (s / 2) · alpha / 255 ≤ levels: a colour rounded
    to the nearest multiple of s (255 for the top one) moves the pixel over any background by at most
    `levels`, and black and white stay as they are. Opaque and clear pixels keep theirs.
    """
    keep, half = np.full(256, 0xFFFF, np.uint16), np.zeros(256, np.uint16)
    for alpha in range(1, 255):
        step = 1
        while step < 256 and step * alpha <= 2 * levels * 255:
            step *= 2
        step //= 2
        keep[alpha], half[alpha] = 0xFFFF & ~(step - 1), step // 2
    return keep, half


_FAINT_KEEP, _FAINT_HALF = _faint_luts(FAINT_LEVELS)


def to_uint8(alpha: np.ndarray) -> np.ndarray:
    """Alpha in [0, 1] as rounded uint8 (also for an empty array, where OpenCV would return None)."""
    if alpha.size == 0:
        return np.zeros(alpha.shape, np.uint8)
    return cv2.convertScaleAbs(alpha, alpha=255.0)


class EdgeColors:
    """The nearby subject's colour for partly transparent pixels, not the background's, a band of rows at a time.

    The colour source is the subject's core (opaque, CORE_DEPTH px inside the edge), averaged over a
    small then a large window, so a matte that overshoots onto a dark background leaves no dark fringe.
    Sums (colours and weight as one 4-channel map, so each point is sampled once) are taken at most at
    COLOR_SIDE pixels and sampled bilinearly at the soft pixels; `band` finds and colours the soft pixels
    of some rows (`bands` says which), so a matte that is soft almost everywhere (refine=none on a big
    photo) needs per-point arrays for BAND_POINTS points at a time.
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
        weight = cv2.resize(core, size, interpolation=cv2.INTER_AREA)
        del core  # before the colour map is made: the two full-size masks are never held at once with it
        weighted = cv2.resize(masked, size, interpolation=cv2.INTER_AREA)
        del masked
        # R, G, B and weight in one float map (cvtColor's copy into four channels is the fastest way there)
        self._map: np.ndarray | None = cv2.cvtColor(weighted, cv2.COLOR_RGB2RGBA).astype(np.float32)
        np.multiply(weight, np.float32(1.0 / 255.0), out=self._map[:, :, 3])
        self._sums: list[np.ndarray] | None = None  # kept when the soft pixels need several bands
        self._soft_before: np.ndarray | None = None  # soft pixels above each row (set by `bands`)

    def _radius_sums(self) -> Iterator[np.ndarray]:
        """(colour, weight) sums around each point as one 4-channel map, per radius, near colours first."""
        if self._sums is not None:
            yield from self._sums
            return
        assert self._map is not None  # until the sums are kept
        height, width = self._map.shape[:2]
        for radius in FG_RADII:
            box = (2 * max(1, round(radius * self.scale)) + 1,) * 2
            # one more row and column, copies of the last: a sample's right and lower neighbours always exist
            sums = np.empty((height + 1, width + 1, 4), np.float32)
            cv2.boxFilter(self._map, -1, box, dst=sums[:height, :width], normalize=False, borderType=cv2.BORDER_REFLECT)
            sums[height, :width] = sums[height - 1, :width]
            sums[:, width] = sums[:, width - 1]
            yield sums

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
        self._soft_before = np.concatenate([[0], np.cumsum(per_row)])  # soft pixels above each row
        ranges, top, count = [], 0, 0
        for row, n in enumerate(per_row.tolist()):
            if count + n > BAND_POINTS and row > top:
                ranges.append((top, row))
                top, count = row, 0
            count += int(n)
        if count:
            ranges.append((top, len(per_row)))
        if len(ranges) > 1:  # each band samples every radius: filter once, keep
            self.keep()
        return ranges

    def keep(self) -> None:
        """Filter the colour sums once and keep them, for callers that colour several bands of rows."""
        if self._sums is None:
            self._sums = list(self._radius_sums())
            self._map = None

    def paint(self, top: int, bottom: int, out: np.ndarray) -> None:
        """Write the subject's colours into `out` (rows top…bottom, RGB or RGBA uint8) at those rows' soft pixels."""
        if self._soft_before is None:
            self.bands()
        if self._soft_before[bottom] == self._soft_before[top]:  # type: ignore[index]
            return  # no soft pixel in these rows
        self.keep()  # callers paint band after band
        ys, xs, colors = self.band(top, bottom)
        out[ys - top, xs, :3] = colors

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
        row = size[0] + 1  # the sums' row length, with their extra column
        for sums in self._radius_sums():  # sums are sampled at the soft pixels only, then divided there
            left = np.flatnonzero(~found)  # a wider radius only for the points the nearer one left uncoloured
            if left.size == 0:
                break
            flat = sums.reshape(-1, 4)
            if scale == 1.0:  # the samples fall on the map's own pixels: interpolating would give the same values
                sampled = np.take(flat, ys[left].astype(np.intp) * row + xs[left], axis=0)
                near = sampled[:, 3] >= _NEAR
            else:
                sampled = _bilinear(flat, row, y[left], x[left])
                near = sampled[:, 3] > 1e-3
            colors[left[near]] = sampled[near, :3] / sampled[near, 3:]
            found[left[near]] = True
            del sums
        return ys[found], xs[found], (colors[found] + 0.5).astype(np.uint8)


_NEAR = np.float32(1e-3)  # a float32 den ≥ this ⇔ den > 1e-3 exactly (it is the least float32 above 1e-3)


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


def _bilinear(flat: np.ndarray, row: int, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bilinear samples at in-range float coordinates of a 4-channel map, given as (pixels, 4) rows of `row` pixels.

    The map has one more row and column than the coordinates reach (copies of the last), so each sample's
    four neighbours are two pairs of adjacent pixels, taken from the flat array.
    """
    y0, x0 = y.astype(np.intp), x.astype(np.intp)
    fy, fx = (y - y0)[:, None], (x - x0)[:, None]
    index = y0 * row + x0
    top = np.take(flat, index, axis=0) * (1 - fx) + np.take(flat, index + 1, axis=0) * fx
    index += row
    bottom = np.take(flat, index, axis=0) * (1 - fx) + np.take(flat, index + 1, axis=0) * fx
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
            edges.paint(top, bottom, rgba[top:bottom])
        return _clear_transparent(rgba)
    if alpha.dtype == np.uint8:
        raise ValueError("compose onto a background needs the float matte")
    out = np.empty((*a8.shape, 3 if bg_color[3] == 255 else 4), np.uint8)
    edges = EdgeColors(rgb, a8, scratch=out)
    step = max(1, min(BAND_ROWS, BAND_PIXELS // max(1, a8.shape[1])))
    for top in range(0, a8.shape[0], step):  # float maths in bands: bounded memory on big photos
        deadline.check()
        bottom = min(top + step, a8.shape[0])
        fg = rgb[top:bottom].copy()
        edges.paint(top, bottom, fg)  # the soft pixels with the subject's colours
        _blend(fg, alpha[top:bottom], bg_color, out[top:bottom])
    return out if out.shape[2] == 3 else _clear_transparent(out)


def compose_over(rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray) -> np.ndarray:
    """RGB uint8 pixels: the subject (with its own colours at the soft edges) over an RGB background image."""
    out = np.empty(rgb.shape, np.uint8)
    edges = EdgeColors(rgb, to_uint8(alpha), scratch=out)
    for top in range(0, rgb.shape[0], BAND_ROWS):  # float maths in bands, as for a background colour
        deadline.check()
        bottom = min(top + BAND_ROWS, rgb.shape[0])
        fg = rgb[top:bottom].copy()
        edges.paint(top, bottom, fg)
        a = alpha[top:bottom]
        behind = np.subtract(1.0, a, dtype=np.float32)
        channel = np.empty_like(a)
        for c in range(3):  # a channel at a time, as in _blend
            np.multiply(fg[:, :, c], a, out=channel)
            channel += background[top:bottom, :, c] * behind
            channel += np.float32(0.5)
            out[top:bottom, :, c] = channel
    return out


def over_white(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """RGB pixels with their own alpha (uint8, or None) shown over white, whatever colour transparent pixels hold."""
    if alpha is None:
        return rgb
    out = np.empty_like(rgb)
    for top in range(0, rgb.shape[0], BAND_ROWS):
        deadline.check()
        rows = slice(top, top + BAND_ROWS)
        a = alpha[rows].astype(np.float32)
        a *= np.float32(1.0 / 255.0)
        white = np.subtract(1.0, a, dtype=np.float32)
        white *= np.float32(255.0)
        channel = np.empty_like(a)
        for c in range(3):  # a channel at a time, as in _blend
            np.multiply(rgb[rows, :, c], a, out=channel)
            channel += white
            channel += np.float32(0.5)
            out[rows, :, c] = channel
    return out


def _blend(fg: np.ndarray, alpha: np.ndarray, bg_color: tuple[int, int, int, int], out: np.ndarray) -> None:
    """Colours over a background colour (Porter-Duff "over"), written into `out` (RGB, or RGBA if translucent).

    float32 maths a channel at a time on 2-D rows (numpy's 3-D broadcasting over 3 channels is ~5× slower).
    """
    bg_weight = np.subtract(1.0, alpha, dtype=np.float32)
    bg_weight *= np.float32(bg_color[3] / 255.0)
    out_a = alpha + bg_weight
    divisor = np.maximum(out_a, np.float32(1e-6))
    channel = np.empty_like(alpha)
    for c in range(3):
        np.multiply(fg[:, :, c], alpha, out=channel)
        channel += np.float32(bg_color[c]) * bg_weight
        channel /= divisor
        channel += np.float32(0.5)
        out[:, :, c] = channel
    if out.shape[2] == 4:
        out[:, :, 3] = to_uint8(out_a)


def round_faint_colours(rgba: np.ndarray) -> np.ndarray:
    """Round each partly transparent pixel's colour to the precision its alpha can show (FAINT_LEVELS), in place.

    The alpha is left as it is. A soft matte (refine=none) is faint over much of the background, where the
    colour's low bits cost PNG bytes and change nothing a viewer can see. Returns `rgba`.
    """
    for rows in _strips(rgba[:, :, 3]):
        deadline.check()
        alpha = rgba[rows, :, 3]
        keep, half = _FAINT_KEEP[alpha], _FAINT_HALF[alpha]
        for c in range(3):
            channel = rgba[rows, :, c].astype(np.uint16)
            channel += half
            channel &= keep
            np.minimum(channel, 255, out=channel)
            rgba[rows, :, c] = channel
    return rgba


def _clear_transparent(rgba: np.ndarray) -> np.ndarray:
    """Zero the colour of fully transparent pixels, in place: no stray colour, and smaller files."""
    np.copyto(rgba.view(np.uint32)[:, :, 0], 0, where=rgba[:, :, 3] == 0)
    return rgba
