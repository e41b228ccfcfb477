"""The whole engine with a stand-in model that returns each synthetic mask: every background kind × format ×
trim and mask_only, on a flat one-coloured photo (the case that crashed) and on a noisy one."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bgremover.errors import InvalidOption
from bgremover.processing import Engine, parse_options
from bgremover.processing.decode import Limits
from tests.conftest import encode_image
from tests.processing.synthetic import BACKGROUNDS, FORMATS, MATTES, FixedMask

MASKS = {name: MATTES[name](64, 64) for name in ("zeros", "ones", "hard_edge", "soft_edge", "one_pixel")}
HEX = {kind: None if bg is None else "#" + bytes(bg).hex() for kind, bg in BACKGROUNDS.items()}
SHAPES = {"plain": {}, "trim": {"trim": "true", "trim_padding": "0"}, "mask_only": {"mask_only": "true"}}


class Models:
    """A ModelSource holding one stand-in model."""

    def __init__(self, mask: np.ndarray) -> None:
        self.model = FixedMask(mask)

    @property
    def names(self) -> list[str]:
        return ["fixed"]

    def get(self, name: str) -> FixedMask:
        if name != "fixed":
            raise LookupError(name)
        return self.model


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    return {
        "flat": encode_image(Image.new("RGB", (120, 90), (128, 128, 128)), "JPEG"),
        "noisy": encode_image(Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)), "PNG"),
    }


def _expected_mode(fmt: str, bg: tuple[int, int, int, int] | None, mask_only: bool) -> str:
    if fmt == "WEBP" and mask_only:
        return "RGB"  # WEBP has no grey mode
    if mask_only:
        return "L"
    if fmt == "JPEG" or (bg is not None and bg[3] == 255):
        return "RGB"
    return "RGBA"


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bg_kind", BACKGROUNDS)
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mask", MASKS)
@pytest.mark.parametrize("photo", ["flat", "noisy"])
def test_every_mask_background_format_and_shape(photos, photo, mask, fmt, bg_kind, shape):
    engine = Engine(Models(MASKS[mask]), "fixed", Limits())
    raw = {"format": fmt, "bg_color": HEX[bg_kind], **SHAPES[shape]}
    options = parse_options(raw, default_model="fixed")
    result = engine.process(photos[photo], options)
    image = Image.open(io.BytesIO(result.data))
    image.load()
    assert image.format == fmt and image.size == (result.width, result.height)
    expected = _expected_mode(fmt, BACKGROUNDS[bg_kind], options.mask_only)
    if fmt == "WEBP" and mask == "ones":
        expected = expected.replace("RGBA", "RGB")  # libwebp leaves out an alpha channel that is all opaque
    assert image.mode == expected
    if shape != "trim" or mask in ("zeros", "ones"):  # an empty mask has nothing to trim to
        assert image.size == (120, 90)
    elif mask == "hard_edge":
        assert image.height == 90 and abs(image.width - 60) <= 1  # the mask's left half, give or take its edge
    else:
        assert image.width <= 120 and image.height <= 90
    if image.mode == "RGBA" and fmt == "PNG":
        pixels = np.asarray(image)
        assert (pixels[pixels[:, :, 3] == 0] == 0).all()  # fully transparent pixels carry no colour


@pytest.mark.parametrize("bg_kind", BACKGROUNDS)
def test_an_empty_mask_shows_only_the_background(photos, bg_kind):
    engine = Engine(Models(MASKS["zeros"]), "fixed", Limits())
    result = engine.process(photos["flat"], parse_options({"bg_color": HEX[bg_kind]}, default_model="fixed"))
    pixels = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGBA"))
    bg = BACKGROUNDS[bg_kind]
    if bg is None or bg[3] == 0:
        assert (pixels == 0).all()
    else:
        assert (pixels == bg).all()


def test_the_result_describes_its_output(photos):
    engine = Engine(Models(MASKS["hard_edge"]), "fixed", Limits())
    result = engine.process(photos["noisy"], parse_options({"format": "webp"}, default_model="fixed"))
    assert (result.mimetype, result.extension, result.size) == ("image/webp", "webp", len(result.data))
    ratio = round(100 * (1 - len(result.data) / len(photos["noisy"])))
    assert result.compression_ratio == f"{ratio}%"
    assert set(result.timings_ms) == {"decode", "segment", "refine", "resize", "compose", "encode"}
    assert result.total_ms == pytest.approx(sum(result.timings_ms.values()))


def test_an_unknown_model_is_a_400_naming_the_installed_ones(photos):
    engine = Engine(Models(MASKS["ones"]), "fixed", Limits())
    with pytest.raises(InvalidOption, match="unknown model 'other'") as err:
        engine.process(photos["flat"], parse_options({"model": "other"}))
    assert err.value.status == 400 and "fixed" in err.value.hint
