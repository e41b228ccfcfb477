"""Typed errors: each carries its HTTP status, a stable code, a public message and a hint."""

from __future__ import annotations


class BgRemoverError(Exception):
    """Base of every error the service reports to a client; never carries internal details."""

    status: int = 500
    code: str = "internal_error"
    message: str = "Internal error"
    hint: str = "Try again later; if it persists, contact the operator"

    def __init__(self, message: str | None = None, *, hint: str | None = None, details: str | None = None) -> None:
        self.message = message or type(self).message
        self.hint = hint or type(self).hint
        self.details = details
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        """The public body of the error (the request id is added by the web layer)."""
        body = {"error": self.message, "code": self.code, "solution": self.hint}
        if self.details:
            body["details"] = self.details
        return body


class InvalidOption(BgRemoverError):
    """A processing option or request parameter is missing, of the wrong type or out of range."""

    status, code = 400, "invalid_parameter"
    message = "Invalid parameter"
    hint = "Check the parameter against the API documentation"


class PayloadTooLarge(BgRemoverError):
    """The body or the decoded image bytes exceed MAX_CONTENT_LENGTH."""

    status, code = 413, "payload_too_large"
    message = "File too large"
    hint = "Send a smaller file"


class UnsupportedFormat(BgRemoverError):
    """The bytes are not one of the allowed image formats."""

    status, code = 415, "unsupported_format"
    message = "Unsupported file format"
    hint = "Send a JPEG, PNG, WEBP, BMP, TIFF or GIF image"


class UndecodableImage(BgRemoverError):
    """The bytes look like an allowed format but cannot be decoded (corrupt or truncated)."""

    status, code = 422, "invalid_image"
    message = "The image could not be decoded"
    hint = "The file may be corrupt or truncated; re-export it and try again"


class ImageTooLarge(BgRemoverError):
    """The image's dimensions exceed MAX_IMAGE_SIDE or MAX_IMAGE_PIXELS."""

    status, code = 422, "image_too_large"
    message = "Image dimensions too large"


class ImageTooSmall(BgRemoverError):
    """The image is smaller than MIN_IMAGE_SIDE on some side."""

    status, code = 422, "image_too_small"
    message = "Image dimensions too small"


class ModelNotReady(BgRemoverError):
    """The requested model is not loaded in this process (yet)."""

    status, code = 503, "model_not_ready"
    message = "The model is not ready"
    hint = "Retry in a few seconds"


class ModelUnavailable(Exception):
    """A model file is missing or corrupt and cannot be obtained: a start-up error, not a request error."""
