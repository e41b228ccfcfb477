"""u2net's fp16 IR: built beside the ONNX file, taken only in bf16 and only if made from that very file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bgremover.models.backends import openvino_capabilities
from bgremover.models.catalog import CATALOG
from bgremover.models.ir import build_fp16, fp16_file, ir_dir
from bgremover.models.registry import ModelRegistry
from bgremover.processing.decode import Limits, decode

HAS_BF16 = "BF16" in (openvino_capabilities() or [])
MD5 = CATALOG["u2net"].wheel.md5


@pytest.fixture(scope="module")
def home(settings, tmp_path_factory):
    """A U2NET_HOME with u2net's ONNX file (linked) and its fp16 IR built from it."""
    folder = tmp_path_factory.mktemp("ir-home")
    (folder / "u2net.onnx").symlink_to(settings.u2net_home.expanduser() / "u2net.onnx")
    build_fp16("u2net", folder / "u2net.onnx", folder)
    return folder


def test_the_ir_counts_only_when_made_from_the_file_there(home):
    assert fp16_file("u2net", home, MD5) == ir_dir("u2net", home) / "u2net.xml"
    assert fp16_file("u2net", home, "0" * 32) is None  # another u2net.onnx than the one it was made from
    meta = ir_dir("u2net", home) / "build.json"
    saved = meta.read_text()
    try:
        meta.write_text("{cut short")
        assert fp16_file("u2net", home, MD5) is None
    finally:
        meta.write_text(saved)
    assert json.loads(saved)["source_md5"] == MD5
    assert (ir_dir("u2net", home) / "u2net.bin").stat().st_size < 0.6 * CATALOG["u2net"].wheel.size  # fp16 weights


def test_only_bf16_loads_the_ir(home):
    assert ModelRegistry(home, 1, "openvino", "f32").file_for("u2net")[0].suffix == ".onnx"
    assert ModelRegistry(home, 1, "onnxruntime", "f32").file_for("u2net")[0].suffix == ".onnx"
    if HAS_BF16:
        assert ModelRegistry(home, 1, "openvino", "bf16").file_for("u2net")[0] == ir_dir("u2net", home) / "u2net.xml"


@pytest.mark.skipif(not HAS_BF16, reason="this CPU has no native bf16 (OPTIMIZATION_CAPABILITIES lacks BF16)")
def test_in_bf16_the_ir_gives_the_onnx_files_masks(home, settings, data_dir):
    from_ir = ModelRegistry(home, 2, "openvino", "bf16").load("u2net")
    (home / "elsewhere").mkdir(exist_ok=True)
    (home / "elsewhere" / "u2net.onnx").symlink_to(settings.u2net_home.expanduser() / "u2net.onnx")
    from_onnx = ModelRegistry(home / "elsewhere", 2, "openvino", "bf16").load("u2net")
    paths = sorted((data_dir / "duts-te-150" / "images").iterdir())[:6]
    photos = np.stack([CATALOG["u2net"].resize(decode(p.read_bytes(), Limits()).rgb) for p in paths])
    diff = np.abs(from_ir.predict(photos) - from_onnx.predict(photos)).mean(axis=(1, 2))
    assert diff.max() <= 0.005  # measured 0.0001-0.0022; bf16 itself moves u2netp's masks by about 0.006
