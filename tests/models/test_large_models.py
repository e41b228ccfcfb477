"""The 1024-px models (BiRefNet, BRIA RMBG-2.0) through the registry and the engine, beside the real u2netp.

Their files (about 1 GB each) cannot be had here, so each is a stand-in of the same input and output shapes
(N×3×1024×1024 in, N×1×1024×1024 out): an OpenVINO graph whose mask is the mean of the three normalised
channels (as logits where the row applies a sigmoid), saved where rembg puts the model's file. OpenVINO reads
the graph whatever the file is called; onnxruntime cannot, so these run on OpenVINO.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bgremover.app import create_app
from bgremover.errors import ModelUnavailable
from bgremover.models.catalog import CATALOG, IMAGENET
from bgremover.models.registry import ModelRegistry
from bgremover.processing import Engine, Options
from bgremover.processing.compose import BAND_POINTS
from bgremover.processing.decode import Limits
from bgremover.settings import load_settings
from tests.conftest import alpha_of, decode_output

LOGIT_GAIN = 4.0  # a sigmoid row's stand-in answers logits: its mean channel × this


def standin(home: Path, name: str) -> Path:
    """Write a stand-in for the model's file into `home` (the IR's XML under the ONNX file's name, weights beside)."""
    import openvino as ov
    from openvino import opset13 as ops

    spec = CATALOG[name]
    image = ops.parameter([1, 3, spec.size, spec.size], np.float32, name="input")
    mask = ops.reduce_mean(image, np.array([1], np.int64), keep_dims=True)
    if spec.sigmoid:
        mask = ops.multiply(mask, ops.constant(np.float32(LOGIT_GAIN)))
    xml = home / f"{name}.xml"
    ov.save_model(ov.Model([mask], [image], name), xml, compress_to_fp16=False)
    return xml.rename(home / f"{name}.onnx")


def expected_mask(rgb: np.ndarray, name: str) -> np.ndarray:
    """What the stand-in's mask should be, worked out here in plain numpy at the image's own size."""
    mean, std = np.array(IMAGENET[0]), np.array(IMAGENET[1])
    x = rgb / max(float(rgb.max()), 1e-6)
    out = ((x - mean) / std).mean(axis=2)
    if CATALOG[name].sigmoid:
        out = 1.0 / (1.0 + np.exp(-LOGIT_GAIN * out))
    return (out - out.min()) / (out.max() - out.min())


@pytest.fixture(scope="module")
def home(tmp_path_factory, settings) -> Path:
    """A model folder with the real u2netp and stand-ins for birefnet-general and bria-rmbg."""
    folder = tmp_path_factory.mktemp("u2net-home")
    (folder / "u2netp.onnx").symlink_to(settings.u2net_home / "u2netp.onnx")
    for name in ("birefnet-general", "bria-rmbg"):
        standin(folder, name)
    return folder


@pytest.fixture(scope="module")
def registry(home) -> ModelRegistry:
    """The real u2netp (320 px) and both 1024-px stand-ins, loaded and warmed on OpenVINO in f32."""
    settings = load_settings(
        _env_file=None,
        u2net_home=home,
        model_threads=1,
        inference_backend="openvino",
        inference_precision="f32",
        accept_noncommercial_models=True,
    )
    reg = ModelRegistry.from_settings(settings)
    for name in ("u2netp", "birefnet-general", "bria-rmbg"):
        reg.load(name)
    return reg


@pytest.fixture(scope="module")
def photo(photo_bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(photo_bytes)).convert("RGB"))


def test_the_standins_load_at_1024_px_on_openvino(registry):
    for name in ("birefnet-general", "bria-rmbg"):
        model = registry.get(name)
        assert model.size == 1024 and model.describe()["backend"] == "openvino"
        assert model.predict(np.zeros((1, 1024, 1024, 3), np.uint8)).shape == (1, 1024, 1024)


@pytest.mark.parametrize("name", ["birefnet-general", "bria-rmbg"])
def test_a_1024_px_model_alone_gives_its_mask_at_the_photos_size(registry, photo_bytes, photo, name):
    """refine=none: one pass at 1024 px, its mask resized to the photo; soft almost everywhere, so the colour of
    the soft pixels is worked out in several bands of rows."""
    result = Engine(registry, name, Limits()).process(photo_bytes, Options(format="PNG", refine="none"))
    assert result.model_passes == {name: 1}
    out = decode_output(result.data)
    assert out.mode == "RGBA" and out.size == (photo.shape[1], photo.shape[0])
    alpha = alpha_of(result.data).astype(np.float64) / 255.0
    assert np.count_nonzero((alpha > 0) & (alpha < 1)) > BAND_POINTS  # two bands at least
    assert np.corrcoef(alpha.ravel(), expected_mask(photo.astype(np.float64), name).ravel())[0, 1] > 0.99


@pytest.mark.parametrize(
    "primary,cascade",
    [("birefnet-general", "u2netp"), ("u2netp", "bria-rmbg")],
    ids=["1024-px-primary", "1024-px-cascade"],
)
def test_the_cascade_runs_a_model_of_another_size(registry, photo_bytes, photo, primary, cascade):
    """refine=high: the cascade model sees the photo at its own size, and its masks join the primary's at the
    primary's size; the cut-out is the photo's size, with a subject and a background."""
    engine = Engine(registry, primary, Limits(), cascade)
    result = engine.process(photo_bytes, Options(format="PNG", refine="high"))
    assert result.model_passes[cascade] == 2  # the photo and its mirror
    assert result.model_passes[primary] >= 2
    alpha = alpha_of(result.data)
    assert alpha.shape == photo.shape[:2]
    assert 0.05 < np.mean(alpha >= 128) < 0.95


def test_start_up_refuses_bria_rmbg_until_its_terms_are_accepted(home, tmp_path):
    log = tmp_path / "app.log"
    with pytest.raises(ModelUnavailable, match="set ACCEPT_NONCOMMERCIAL_MODELS=true"):
        create_app(
            load_settings(_env_file=None, u2net_home=home, model_name="bria-rmbg", cascade_model="none", log_file=log)
        )


def test_start_up_names_the_fetch_command_for_a_missing_1024_px_model(home, tmp_path):
    settings = load_settings(
        _env_file=None, u2net_home=home, cascade_model="none", models=["birefnet-cod"], log_file=tmp_path / "app.log"
    )
    with pytest.raises(ModelUnavailable, match=r"birefnet-cod' is not in .*Run `bgremover models fetch birefnet-cod`"):
        create_app(settings)


def test_the_rembg_drop_in_serves_an_accepted_1024_px_model(registry, home, photo_bytes, tmp_path):
    """model=bria-rmbg on /api/remove, accepted and loaded: the cut-out the engine makes with it."""
    settings = load_settings(
        _env_file=None,
        u2net_home=home,
        cascade_model="none",
        models=["bria-rmbg"],
        accept_noncommercial_models=True,
        rate_limit_rembg_per_hour=100,
        log_file=tmp_path / "app.log",
    )
    client = create_app(settings, registry=registry).test_client()
    response = client.post("/api/remove", data={"file": (io.BytesIO(photo_bytes), "a.jpg"), "model": "bria-rmbg"})
    assert response.status_code == 200 and response.mimetype == "image/png"
    direct = Engine(registry, "bria-rmbg", Limits()).process(photo_bytes, Options(format="PNG", refine="none"))
    np.testing.assert_array_equal(alpha_of(response.data), alpha_of(direct.data))
