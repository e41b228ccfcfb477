"""int8 builds, as the server finds them: each validated recipe, and the build in U2NET_HOME that it made.

Which layers stay in f32 was found once by NNCF's accuracy control (`python -m bench.int8`, bench/INT8.md)
and is recorded here per model. Building needs NNCF, an optional extra (`pip install .[int8]`, then
`bgremover models fetch --int8`; see `int8_build`); serving an existing build does not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bgremover.models.catalog import U2NET_WHEEL, U2NETP_WHEEL


@dataclass(frozen=True)
class Int8Recipe:
    """How to quantize one model file: the f32 file it was validated on, and the layers kept in f32."""

    source_md5: str
    keep_f32: tuple[str, ...]  # OpenVINO node names of the convolutions accuracy control reverted
    preset: str = "performance"  # nncf.QuantizationPreset: symmetric int8 weights and activations
    activation_ranges: str = "HISTOGRAM"  # an nncf RangeEstimatorParametersSet
    views: int = 2  # calibration views of each bundled photo (int8_build.augmented, first this many)

    def signature(self) -> dict[str, object]:
        """What a build.json must record for a build to count as made by this recipe."""
        return {
            "source_md5": self.source_md5,
            "keep_f32": list(self.keep_f32),
            "preset": self.preset,
            "activation_ranges": self.activation_ranges,
            "views": self.views,
        }


# Only models whose int8 build was measured on every quality set (bench/INT8.md) are here.
RECIPES: dict[str, Int8Recipe] = {
    # Two views (each photo and its mirror) calibrate as well as six (bench/INT8.md) in a third of the time.
    "u2netp": Int8Recipe(
        source_md5=U2NETP_WHEEL.md5,
        keep_f32=("Conv_685/WithoutBiases", "Conv_787/WithoutBiases"),  # two 3×3 decoder convolutions
        views=2,
    ),
    "u2net": Int8Recipe(source_md5=U2NET_WHEEL.md5, keep_f32=()),  # takes plain int8 well: no layer kept in f32
}


def int8_dir(name: str, home: Path) -> Path:
    """Where a model's int8 IR lives: beside its ONNX file in U2NET_HOME."""
    return home.expanduser() / f"{name}-int8"


def int8_file(name: str, home: Path) -> Path | None:
    """The model's int8 IR (.xml) if it was built from the file and recipe recorded here, else None."""
    folder = int8_dir(name, home)
    xml, meta = folder / f"{name}-int8.xml", folder / "build.json"
    recipe = RECIPES.get(name)
    if recipe is None or not xml.is_file() or not meta.is_file():
        return None
    try:
        built = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(built, dict) or any(built.get(k) != v for k, v in recipe.signature().items()):
        return None
    return xml
