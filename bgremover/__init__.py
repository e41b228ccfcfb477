"""bgremover: a self-hosted background-removal service."""

from importlib.metadata import PackageNotFoundError, version

UNKNOWN_VERSION = "0+unknown"


def installed_version(distribution: str = "bgremover") -> str:
    """The version pyproject.toml declares, as the install recorded it; UNKNOWN_VERSION where nothing installed it."""
    try:
        return version(distribution)
    except PackageNotFoundError:  # imported from a checkout that pip never installed
        return UNKNOWN_VERSION


__version__ = installed_version()
