"""Half-size OpenVINO copies of large model files, which a bf16 worker loads with less memory than the ONNX file.

Read from ONNX, u2net's f32 weights stay in the process beside the compiled bf16 ones; read from an IR
whose weights are stored in fp16, a worker holds about 90 MB less (BENCHMARKS.md). Only bf16 loads it:
bf16 keeps fewer mantissa bits than fp16, so the rounding costs nothing there, while f32 would change.
`bgremover models fetch` builds it beside the ONNX file; without it the ONNX file is loaded as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bgremover.models.provision import cached_md5

LARGE = 50_000_000  # bytes: model files above this get an fp16 IR


def ir_dir(name: str, home: Path) -> Path:
    """Where the model's fp16 IR lives: beside its ONNX file in U2NET_HOME."""
    return home.expanduser() / f"{name}-fp16"


def fp16_file(name: str, home: Path, source_md5: str) -> Path | None:
    """The model's fp16 IR (.xml) if it was made from the file with this md5, else None."""
    folder = ir_dir(name, home)
    xml, meta = folder / f"{name}.xml", folder / "build.json"
    if not xml.is_file() or not (folder / f"{name}.bin").is_file() or not meta.is_file():
        return None
    try:
        built = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return xml if isinstance(built, dict) and built.get("source_md5") == source_md5 else None


def build_fp16(name: str, source: Path, home: Path) -> Path:
    """Write the ONNX file as an IR with fp16 weights in ir_dir; build.json goes last, so a cut build never counts."""
    import openvino as ov

    folder = ir_dir(name, home)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "build.json").unlink(missing_ok=True)
    partial = folder / f".{name}.partial.xml"
    ov.save_model(ov.Core().read_model(str(source)), str(partial), compress_to_fp16=True)
    os.replace(partial.with_suffix(".bin"), folder / f"{name}.bin")
    os.replace(partial, folder / f"{name}.xml")
    (folder / "build.json").write_text(json.dumps({"source_md5": cached_md5(source), "openvino": ov.__version__}))
    return folder / f"{name}.xml"
