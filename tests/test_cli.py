"""The command line on real files: a folder with one broken file, and the model listing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from PIL import Image

from bgremover.settings import load_settings


def bgremover(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bgremover.cli", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_folder_with_a_broken_file(tmp_path, data_dir):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg", src / "car.jpg")
    shutil.copy(
        data_dir / "duts-te-150" / "images" / sorted((data_dir / "duts-te-150" / "images").iterdir())[0].name,
        src / "sub" / "photo.jpg",
    )
    (src / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    (src / "notes.txt").write_text("not an image, and not picked up by folder expansion")
    done = bgremover("remove", str(src), "-o", str(tmp_path / "out"), "--format", "webp", "--max-width", "200")
    assert done.returncode == 1
    assert "broken.png" in done.stderr and "could not be decoded" in done.stderr
    assert "2 done, 1 failed" in done.stderr
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == ["car-no-bg.webp", "photo-no-bg.webp"]
    assert Image.open(tmp_path / "out" / "car-no-bg.webp").width == 200


def test_single_file_success_exit_code(tmp_path, data_dir):
    done = bgremover(
        "remove",
        str(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"),
        "-o",
        str(tmp_path),
        "--trim",
        "--bg-color",
        "#fff",
        "--format",
        "jpg",
    )
    assert done.returncode == 0, done.stderr
    assert Image.open(tmp_path / "car-1-no-bg.jpg").format == "JPEG"


def test_bad_option_is_a_usage_error(tmp_path, data_dir):
    done = bgremover("remove", str(data_dir / "rembg-fixtures" / "fixtures" / "car-1.jpg"), "--quality", "5")
    assert done.returncode == 2 and "quality" in done.stderr


def test_models_lists_presence():
    done = bgremover("models")
    assert done.returncode == 0
    assert "u2netp" in done.stdout and "present" in done.stdout and "[default]" in done.stdout


def test_models_says_which_backend_and_precision_would_run():
    from bgremover.models.registry import ModelRegistry

    runs = ModelRegistry.from_settings(load_settings(_env_file=None)).file_for("u2netp")[1]
    done = bgremover("models")
    assert f"Inference: {runs.backend}, {runs.precision}," in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "bgremover.cli", "models"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "INFERENCE_BACKEND": "onnxruntime"},
    )
    assert done.returncode == 0 and "Inference: onnxruntime, f32," in done.stdout
