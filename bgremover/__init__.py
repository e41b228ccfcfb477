"""bgremover: a self-hosted background-removal service."""

__version__ = "0.1.0"
