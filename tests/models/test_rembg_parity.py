"""Every model the registry lists gives rembg's own mask: the same model output through rembg's session and ours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from rembg.sessions import sessions as rembg_sessions

from bgremover.models.catalog import CATALOG, UNSERVED
from bgremover.models.session import Segmenter


class _Input:
    name = "input.1"


class FixedOutput:
    """A stand-in for rembg's onnxruntime session and for our runner: records each input, answers one output."""

    backend, precision, threads, resizable = "onnxruntime", "f32", 1, False

    def __init__(self, output: np.ndarray) -> None:
        self.output = output
        self.inputs: list[np.ndarray] = []

    def get_inputs(self) -> list[_Input]:
        return [_Input()]

    def run(self, *args: object) -> object:
        """rembg calls run(names, feed) and wants [output]; our runner calls run(batch) and wants N×H×W."""
        if len(args) == 1:
            self.inputs.append(args[0])  # type: ignore[arg-type]
            return self.output[:, 0]
        feed = args[1]
        assert isinstance(feed, dict) and list(feed) == [_Input.name]
        self.inputs.append(feed[_Input.name])
        return [self.output]


def _output(name: str, size: int, seed: int) -> np.ndarray:
    """A raw model output that uses only part of its range, so a missing normalisation step shows."""
    rng = np.random.default_rng(seed)
    if CATALOG[name].sigmoid:  # logits: their sigmoid spans about 0.2-0.7, which rembg stretches to 0-1
        return rng.uniform(-1.5, 1.0, (1, 1, size, size)).astype(np.float32)
    return rng.uniform(0.1, 0.7, (1, 1, size, size)).astype(np.float32)


def _rembg(name: str, output: np.ndarray) -> tuple[object, FixedOutput]:
    """rembg's session class for the model, without its file: the inner session answers with `output`."""
    session = object.__new__(rembg_sessions[name])
    inner = FixedOutput(output)
    session.inner_session = inner
    return session, inner


@pytest.mark.parametrize("name", list(CATALOG))
def test_same_output_gives_rembgs_mask(name):
    spec = CATALOG[name]
    output = _output(name, spec.size, seed=1)
    rgb = np.random.default_rng(2).integers(0, 200, (spec.size, spec.size, 3), dtype=np.uint8)
    theirs, their_inner = _rembg(name, output)
    their_mask = np.asarray(theirs.predict(Image.fromarray(rgb))[0]).astype(np.float32)  # at the model's size
    our_inner = FixedOutput(output)
    ours = Segmenter(name, our_inner, spec).predict(rgb[None])[0]

    # the same input tensor: each image over its own max, then the model's mean and std, channels first
    assert our_inner.inputs[0].shape == their_inner.inputs[0].shape == (1, 3, spec.size, spec.size)
    np.testing.assert_allclose(our_inner.inputs[0], their_inner.inputs[0], atol=1e-5)
    # the same mask: rembg's 8-bit mask is ours truncated to 8 bits (up to float rounding)
    assert ours.shape == their_mask.shape and ours.dtype == np.float32
    assert ours.min() == 0.0 and ours.max() == pytest.approx(1.0)
    scaled = ours * 255.0
    assert (scaled >= their_mask - 1e-3).all() and (scaled < their_mask + 1 + 1e-3).all()


@pytest.mark.parametrize("name", ["u2netp", "isnet-general-use", "birefnet-general", "bria-rmbg"])
def test_an_image_of_another_size_reaches_the_model_as_rembg_resizes_it(name):
    spec = CATALOG[name]
    rgb = np.random.default_rng(3).integers(0, 256, (300, 450, 3), dtype=np.uint8)
    theirs, their_inner = _rembg(name, _output(name, spec.size, seed=4))
    theirs.predict(Image.fromarray(rgb))
    our_inner = FixedOutput(_output(name, spec.size, seed=4))
    Segmenter(name, our_inner, spec).predict(spec.resize(rgb)[None])
    np.testing.assert_allclose(our_inner.inputs[0], their_inner.inputs[0], atol=1e-5)


def test_every_row_names_a_rembg_session_and_every_other_session_is_named_unserved():
    assert set(CATALOG) <= set(rembg_sessions)
    assert set(rembg_sessions) - set(CATALOG) == set(UNSERVED)
