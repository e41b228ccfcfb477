"""The processing engine, free of Flask: bytes and options in, an encoded image out."""

from bgremover.processing.decode import Limits
from bgremover.processing.options import Options, parse_options
from bgremover.processing.pipeline import Engine, Result

__all__ = ["Engine", "Limits", "Options", "Result", "parse_options"]
