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


class ForegroundNotFound(BgRemoverError):
    """The model found no subject where the request needs one (remove.bg's answer for an empty cut-out)."""

    status, code = 400, "unknown_foreground"
    message = "Could not identify foreground in image"
    hint = "Send an image with a clear subject, or widen the region of interest (roi)"


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


class ImageTooComplex(BgRemoverError):
    """The file's structure would cost far more to decode than any real image of its size (a decoder bomb)."""

    status, code = 422, "image_too_complex"
    message = "The image's structure is too complex to decode"
    hint = "Re-save the image with a common encoder (or as PNG) and try again"


class TooManyScans(ImageTooComplex):
    """A progressive JPEG with more scans than any encoder writes: each scan walks the whole image again."""

    code = "too_many_scans"
    message = "The JPEG has too many scans"
    hint = "Re-save it as a baseline or standard progressive JPEG and try again"


class TooManySegments(ImageTooComplex):
    """More markers, chunks, blocks or strips than the format needs: each one is parsed on its own."""

    code = "too_many_segments"
    message = "The image has too many segments"


class ProcessingTimeout(BgRemoverError):
    """The request ran past PROCESSING_TIMEOUT_S; 504, like nginx's own timeout, so no proxy replays it."""

    status, code = 504, "processing_timeout"
    message = "Processing took too long"
    hint = "Retry with a smaller image or refine=standard"


class ModelNotReady(BgRemoverError):
    """The requested model is not loaded in this process (yet)."""

    status, code = 503, "model_not_ready"
    message = "The model is not ready"
    hint = "Retry in a few seconds"


class ModelLicenceNotAccepted(BgRemoverError):
    """The request names a model whose licence allows no commercial use, and this server has not accepted it."""

    status, code = 403, "model_licence_not_accepted"
    message = "This model's licence has not been accepted on this server"
    hint = "Pick another model, or ask the operator to accept its terms with ACCEPT_NONCOMMERCIAL_MODELS=true"


class ModelNotServed(BgRemoverError):
    """The request names a session rembg has that this server never runs (a custom file, prompts, a remote API)."""

    status, code = 400, "model_not_served"
    message = "This model is not served here"
    hint = "Pick a model this server loads (MODEL_NAME or MODELS)"


class ModelUnavailable(Exception):
    """A model file is missing or corrupt and cannot be obtained: a start-up error, not a request error."""


class ImageUrlDisabled(BgRemoverError):
    """An `image_url` was sent but this server does not fetch URLs."""

    status, code = 400, "image_url_disabled"
    message = "Fetching images from URLs is disabled on this server"
    hint = "Send the image itself, or ask the operator to set IMAGE_URL_ENABLED=true"


class InvalidImageUrl(BgRemoverError):
    """The image URL cannot be parsed, is too long, or carries credentials."""

    status, code = 400, "invalid_image_url"
    message = "Invalid image URL"
    hint = "Send an absolute http:// or https:// URL without user name or password"


class ImageUrlSchemeRefused(BgRemoverError):
    """The image URL (or a redirect) uses a scheme other than http or https."""

    status, code = 400, "image_url_scheme_refused"
    message = "Only http and https image URLs are fetched"
    hint = "Send an http:// or https:// URL"


class ImageUrlAddressRefused(BgRemoverError):
    """The URL's host resolves to an address this server never contacts; the address is not named."""

    status, code = 400, "image_url_address_refused"
    message = "The image URL points to an address this server does not fetch from"
    hint = "Use a URL on the public internet (private, loopback and link-local addresses are refused)"


class ImageUrlUnreachable(BgRemoverError):
    """The host does not resolve, refuses the connection, fails TLS, or answers with an error status."""

    status, code = 400, "image_url_unreachable"
    message = "The image could not be downloaded from the URL"
    hint = "Check that the URL opens in a browser and returns the image"


class ImageUrlTooManyRedirects(BgRemoverError):
    """The URL redirected more often than IMAGE_URL_MAX_REDIRECTS allows."""

    status, code = 400, "image_url_too_many_redirects"
    message = "The image URL redirects too many times"
    hint = "Send the image's final URL"


class ImageUrlTimeout(BgRemoverError):
    """Connecting, reading, or the whole download took longer than the configured timeouts."""

    status, code = 400, "image_url_timeout"
    message = "Downloading the image from the URL took too long"
    hint = "Send the image itself, or a URL on a faster server"


class ApiKeyMissing(BgRemoverError):
    """API keys are on and the request carries none."""

    status, code = 401, "api_key_missing"
    message = "An API key is required"
    hint = "Send your key in the X-Api-Key header or as Authorization: Bearer <key>"


class ApiKeyInvalid(BgRemoverError):
    """The request carries a key that matches no key of this server."""

    status, code = 403, "api_key_invalid"
    message = "The API key is not valid"
    hint = "Check the key, or ask the operator for a new one"


class ApiKeyRevoked(BgRemoverError):
    """The request carries a key that the operator revoked."""

    status, code = 403, "api_key_revoked"
    message = "The API key has been revoked"
    hint = "Ask the operator for a new key"


class BatchDeadlineExceeded(BgRemoverError):
    """A batch file was not processed because the batch ran out of its BATCH_DEADLINE_S (manifest only)."""

    status, code = 503, "batch_deadline_exceeded"
    message = "Not processed: the batch reached its time limit"
    hint = "Send the files that were not processed in another batch"


class BackendUnavailable(Exception):
    """The configured inference backend or precision cannot run here: a start-up error naming the settings."""
