"""Drop shadow: the subject's silhouette, moved, blurred and faded, laid under the subject after composing.

`cast` makes the shadow's opacity from the matte; `under` puts it between the subject and whatever the
subject was composed over (transparency, a colour, an image), in place and in bands of rows. The shadow is
soft, so it is made at most WORK_SIDE pixels wide and stretched back: cheap on big photos. Lengths are
shares of the image's longer side, so a shadow looks the same at every size; the upload page draws the
same shadow from `PARAMS` (rendered into the page).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

WORK_SIDE = 1024  # the shadow is computed at most this big (longer side), then stretched to the image
BAND_ROWS = 256  # float maths on full-size pixels runs in bands of this many rows


@dataclass(frozen=True)
class ShadowParams:
    """Where the shadow falls and how soft and dark it is; lengths are shares of the image's longer side."""

    offset_x: float = 0.01  # to the right
    offset_y: float = 0.02  # downwards
    blur: float = 0.015  # the Gaussian's standard deviation
    opacity: float = 0.5  # at the darkest, under a fully opaque subject

    def to_dict(self) -> dict[str, float]:
        """The parameters as plain numbers (for the page, which draws the same shadow)."""
        return asdict(self)


PARAMS = ShadowParams()
Background = tuple[int, int, int, int] | np.ndarray | None  # a colour, an RGB image, or transparency


def cast(alpha: np.ndarray, params: ShadowParams = PARAMS) -> np.ndarray:
    """The shadow's opacity as uint8, the matte's size: the matte (float in [0, 1] or uint8) moved, blurred, faded."""
    height, width = alpha.shape
    if alpha.size == 0:
        return np.zeros(alpha.shape, np.uint8)
    scale = min(1.0, WORK_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    if alpha.dtype == np.uint8:
        small *= 1.0 / 255.0
    side = max(height, width) * scale
    shift = np.array([[1, 0, params.offset_x * side], [0, 1, params.offset_y * side]], np.float32)
    moved = cv2.warpAffine(small, shift, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    sigma = params.blur * side
    if sigma > 0:  # outside the frame counts as no subject (as a canvas blur filter treats it)
        pad = int(np.ceil(3 * sigma))
        padded = cv2.copyMakeBorder(moved, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
        moved = cv2.GaussianBlur(padded, (0, 0), sigma)[pad : pad + size[1], pad : pad + size[0]]
    small8 = cv2.convertScaleAbs(moved, alpha=255.0 * params.opacity)
    if small8.shape == alpha.shape:
        return small8
    return cv2.resize(small8, (width, height), interpolation=cv2.INTER_LINEAR)


def under(pixels: np.ndarray, alpha: np.ndarray, shade: np.ndarray, background: Background) -> None:
    """Put the shadow between the subject and its background, in place on composed `pixels` (RGB or RGBA uint8).

    `pixels` is the subject (whose matte is `alpha`, float in [0, 1] or uint8) composed "over" `background`;
    the result is subject over (shadow over background), as if the shadow had been there from the start.
    """
    if isinstance(background, np.ndarray):
        behind_alpha = 1.0
    else:
        behind_alpha = 0.0 if background is None else background[3] / 255.0
        color = np.zeros(3, np.float32) if background is None else np.array(background[:3], np.float32)
    shaded = cv2.boundingRect(shade)  # (x, y, w, h) of the shadow: nothing changes elsewhere
    left, right = shaded[0], shaded[0] + shaded[2]
    for top in range(shaded[1], shaded[1] + shaded[3], BAND_ROWS):
        rows = slice(top, min(top + BAND_ROWS, shaded[1] + shaded[3]))
        box = (rows, slice(left, right))
        a = alpha[box].astype(np.float32)
        if alpha.dtype == np.uint8:
            a *= 1.0 / 255.0
        s = shade[box].astype(np.float32) * (1.0 / 255.0)
        behind = background[box].astype(np.float32) if isinstance(background, np.ndarray) else color
        out = pixels[box].astype(np.float32)
        out_a = out[:, :, 3] / 255.0 if out.shape[2] == 4 else np.ones_like(a)
        # premultiplied: subject + (1 - a)(1 - s)·background = what was composed − (1 - a)·s·background
        premul = out[:, :, :3] * out_a[:, :, None] - ((1.0 - a) * s * behind_alpha)[:, :, None] * behind
        new_a = a + (1.0 - a) * (s + behind_alpha * (1.0 - s))
        rgb = premul / np.maximum(new_a, 1e-6)[:, :, None]
        pixels[(*box, slice(0, 3))] = np.clip(rgb + 0.5, 0, 255)
        if pixels.shape[2] == 4:
            pixels[(*box, 3)] = np.clip(new_a * 255.0 + 0.5, 0, 255)
