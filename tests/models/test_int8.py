"""int8 builds: which file a registry loads for each INFERENCE_PRECISION, and a real build by the int8 extra."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from bgremover.errors import ModelUnavailable
from bgremover.models import int8_build
from bgremover.models.backends import Inference, openvino_capabilities
from bgremover.models.catalog import CATALOG
from bgremover.models.int8 import RECIPES, Int8Recipe, int8_dir, int8_file
from bgremover.models.int8_build import build_all, build_int8, float_convolutions
from bgremover.models.registry import ModelRegistry
from bgremover.processing.decode import Limits, decode

HAS_BF16 = "BF16" in (openvino_capabilities() or [])
RECIPE = Int8Recipe(source_md5="0" * 32, keep_f32=("Conv_1/WithoutBiases",))


def fake_build(home, name="u2netp", recipe=RECIPE, **meta):
    """An int8 folder with empty IR files and a build.json made for `recipe` (overridden by `meta`)."""
    folder = int8_dir(name, home)
    folder.mkdir(parents=True)
    for suffix in (".xml", ".bin"):
        (folder / f"{name}-int8{suffix}").write_text("")
    written = {**recipe.signature(), **meta}
    (folder / "build.json").write_text(json.dumps(written))
    return folder / f"{name}-int8.xml"


# ---- which build counts (no model needed) ----------------------------------------------------------------------


def test_a_build_counts_only_if_made_from_the_recorded_file_and_recipe(tmp_path, monkeypatch):
    monkeypatch.setitem(RECIPES, "u2netp", RECIPE)
    assert int8_file("u2netp", tmp_path) is None
    xml = fake_build(tmp_path)
    assert int8_file("u2netp", tmp_path) == xml
    meta = tmp_path / "u2netp-int8" / "build.json"
    for changed in ({"source_md5": "1" * 32}, {"keep_f32": []}, {"activation_ranges": "MINMAX"}, {"preset": "mixed"}):
        meta.write_text(json.dumps({**RECIPE.signature(), **changed}))
        assert int8_file("u2netp", tmp_path) is None, changed  # made from another file or by another recipe
    meta.write_text(json.dumps({**RECIPE.signature(), "built": "2026-11-24"}))
    assert int8_file("u2netp", tmp_path) == xml  # what it records beyond the recipe does not matter
    (tmp_path / "u2netp-int8" / "build.json").write_text("{not json")
    assert int8_file("u2netp", tmp_path) is None
    (tmp_path / "u2netp-int8" / "build.json").unlink()  # a build cut short leaves no build.json
    assert int8_file("u2netp", tmp_path) is None


def test_a_model_without_a_recipe_has_no_build(tmp_path):
    fake_build(tmp_path, name="silueta")
    assert "silueta" not in RECIPES and int8_file("silueta", tmp_path) is None


def test_building_refuses_a_model_without_a_recipe_or_another_file(tmp_path):
    source = tmp_path / "silueta.onnx"
    source.write_bytes(b"not a model")
    with pytest.raises(ModelUnavailable, match="No int8 build of 'silueta' has been validated"):
        build_int8("silueta", source, tmp_path)
    with pytest.raises(ModelUnavailable, match="not the 'u2netp' file the int8 recipe was validated on"):
        build_int8("u2netp", source, tmp_path)


# ---- what the registry loads ---------------------------------------------------------------------------------


@pytest.fixture
def home_without_build(tmp_path, settings):
    """A U2NET_HOME holding u2netp's ONNX file and no int8 build."""
    shutil.copy(settings.u2net_home.expanduser() / "u2netp.onnx", tmp_path / "u2netp.onnx")
    return tmp_path


def on_cpu(monkeypatch, flags: set[str]) -> None:
    """Make /proc/cpuinfo's flags these (OpenVINO's own word on bf16 still counts)."""
    monkeypatch.setattr("bgremover.models.backends.cpu_flags", lambda *a: frozenset(flags))


def test_auto_runs_the_int8_build_on_a_vnni_cpu_and_the_float_precision_for_a_model_without_one(
    built, monkeypatch, settings, tmp_path
):
    home = tmp_path  # u2netp with its build, u2net without one
    (home / "u2netp.onnx").symlink_to(built.parent.parent / "u2netp.onnx")
    int8_dir("u2netp", home).symlink_to(built.parent)
    (home / "u2net.onnx").symlink_to(settings.u2net_home.expanduser() / "u2net.onnx")
    built = int8_dir("u2netp", home) / built.name
    on_cpu(monkeypatch, {"avx2", "avx512f", "avx512_vnni"})
    registry = ModelRegistry(home, 1, "auto", "auto")
    path, inference = registry.file_for("u2netp")
    assert path == built and inference == Inference("openvino", "int8")
    path, inference = registry.file_for("u2net")  # no build here: bf16 (its fp16 IR, if any) or f32
    assert path.suffix in (".onnx", ".xml") and "int8" not in path.name
    assert inference == Inference("openvino", "bf16" if HAS_BF16 else "f32")
    registry.load("u2netp")
    assert registry.precision_label() == "int8"
    registry.load("u2net")
    assert registry.precision_label() == f"u2netp int8, u2net {inference.precision}"
    assert registry.describe()["u2netp"]["precision"] == "int8"


def test_auto_never_runs_int8_without_vnni_even_where_the_build_is_there(built, monkeypatch):
    on_cpu(monkeypatch, {"avx2", "fma"})
    path, inference = ModelRegistry(built.parent.parent, 1, "auto", "auto").file_for("u2netp")
    assert path.suffix == ".onnx" and inference == Inference("openvino", "bf16" if HAS_BF16 else "f32")
    path, inference = ModelRegistry(built.parent.parent, 1, "auto", "int8").file_for("u2netp")
    assert path == built and inference == Inference("openvino", "int8")  # asked for by name, it runs anywhere


def test_int8_by_name_without_a_build_is_a_clear_start_up_error(home_without_build):
    with pytest.raises(ModelUnavailable, match=r"no int8 build in .*bgremover models fetch --int8 u2netp"):
        ModelRegistry(home_without_build, 1, "openvino", "int8").load("u2netp")


def test_int8_by_name_for_a_model_without_a_recipe_says_so(tmp_path, monkeypatch):
    (tmp_path / "silueta.onnx").write_bytes(b"")
    monkeypatch.setattr("bgremover.models.registry.verify", lambda name, path: None)
    with pytest.raises(ModelUnavailable, match="no int8 build of 'silueta' has been validated"):
        ModelRegistry(tmp_path, 1, "openvino", "int8").file_for("silueta")


# ---- a real build (what `bgremover models fetch --int8` runs), made once in a scratch U2NET_HOME ---------------


@pytest.fixture(scope="module")
def builds(settings, tmp_path_factory) -> dict[str, object]:
    """Real int8 builds in a scratch U2NET_HOME, side by side (`build_all`, as `models fetch` makes them); u2net's
    is the one `make model` left in U2NET_HOME where the settings run int8 here, if it is there."""
    home, source = tmp_path_factory.mktemp("int8-home"), settings.u2net_home.expanduser()
    shutil.copy(source / "u2netp.onnx", home / "u2netp.onnx")
    (home / "u2net.onnx").symlink_to(source / "u2net.onnx")
    provisioned = int8_file("u2net", source)
    wanted = {"u2netp": home / "u2netp.onnx"} | ({} if provisioned else {"u2net": home / "u2net.onnx"})
    made = build_all(wanted, home)
    for name, xml in made.items():
        assert int8_file(name, home) == xml
    return {"u2net": provisioned, **made}


@pytest.fixture(scope="module")
def built(builds):
    return builds["u2netp"]


@pytest.fixture(scope="module")
def built_u2net(builds):
    return builds["u2net"]


@pytest.mark.parametrize("name", ["u2netp", "u2net"])
def test_each_recipe_is_for_the_provisioned_file(name):
    assert RECIPES[name].source_md5 == CATALOG[name].wheel.md5


def test_the_build_keeps_exactly_the_recipes_layers_in_f32(built, built_u2net):
    import openvino as ov

    assert float_convolutions(ov.Core().read_model(str(built))) == sorted(RECIPES["u2netp"].keep_f32)
    assert float_convolutions(ov.Core().read_model(str(built_u2net))) == []  # u2net: every convolution int8


@pytest.fixture(scope="module")
def photos(data_dir):
    paths = sorted((data_dir / "duts-te-150" / "images").iterdir())[:12]
    return np.stack([CATALOG["u2netp"].resize(decode(p.read_bytes(), Limits()).rgb) for p in paths])


@pytest.mark.parametrize("name", ["u2netp", "u2net"])
def test_int8_stays_close_to_f32_on_real_photos(settings, built, built_u2net, photos, name):
    xml = {"u2netp": built, "u2net": built_u2net}[name]
    on_int8 = ModelRegistry(xml.parent.parent, 1, "openvino", "int8").load(name)
    on_f32 = ModelRegistry(settings.u2net_home, 1, "openvino", "f32").load(name)
    assert on_int8.describe()["precision"] == "int8" and on_f32.describe()["precision"] == "f32"
    diff = np.abs(on_int8.predict(photos) - on_f32.predict(photos)).mean(axis=(1, 2))
    # bench/INT8.md: mean |Δ| 0.003-0.008 per set against f32; this allows about 2.5× that, and 6× on any one photo
    assert diff.mean() <= 0.02 and diff.max() <= 0.05
    assert diff.mean() > 0.0  # it is another model, not the f32 file loaded twice


@pytest.mark.parametrize("name,views", [("u2netp", 2), ("u2net", 2)])
def test_calibration_is_the_recipes_views_of_each_bundled_photo_as_the_model_takes_them(name, views):
    assert RECIPES[name].views == views
    tensors = int8_build.calibration_tensors(name, views)
    assert len(tensors) == views * 8  # 7 photos, the stereo pair counted twice
    assert all(t.shape == (1, 3, 320, 320) and t.dtype == np.float32 for t in tensors)
    assert len({t.tobytes() for t in tensors}) == len(tensors)  # no view repeated
