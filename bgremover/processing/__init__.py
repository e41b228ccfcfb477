"""The processing engine, free of Flask: bytes and options in, an encoded image out."""

from bgremover.processing.deadline import Deadline
from bgremover.processing.decode import Limits
from bgremover.processing.job import Job
from bgremover.processing.options import Options, parse_options
from bgremover.processing.pipeline import Engine, Result

__all__ = ["Deadline", "Engine", "Job", "Limits", "Options", "Result", "parse_options"]
