"""Every custom response header, named once (as flask-limiter's HeaderNames): views, CORS and OpenAPI use these."""

from __future__ import annotations

from enum import StrEnum

from bgremover.processing.segment import UNSURE_CERTAINTY


class Header(StrEnum):
    """Response headers this service sets, each with a one-line meaning (`Header.X.doc`)."""

    REQUEST_ID = "X-Request-ID"
    OPTIMIZATION_USED = "X-Optimization-Used"
    ORIGINAL_SIZE = "X-Original-Size"
    OPTIMIZED_SIZE = "X-Optimized-Size"
    PROCESSING_TIME = "X-Processing-Time-Ms"
    IMAGE_WIDTH = "X-Image-Width"
    IMAGE_HEIGHT = "X-Image-Height"
    CERTAINTY = "X-Cutout-Certainty"
    RATE_LIMIT = "X-RateLimit-Limit"
    RATE_REMAINING = "X-RateLimit-Remaining"
    RATE_RESET = "X-RateLimit-Reset"
    RETRY_AFTER = "Retry-After"
    CONTENT_DISPOSITION = "Content-Disposition"
    WIDTH = "X-Width"
    HEIGHT = "X-Height"
    TYPE = "X-Type"
    CREDITS_CHARGED = "X-Credits-Charged"
    FOREGROUND_TOP = "X-Foreground-Top"
    FOREGROUND_LEFT = "X-Foreground-Left"
    FOREGROUND_WIDTH = "X-Foreground-Width"
    FOREGROUND_HEIGHT = "X-Foreground-Height"

    @property
    def doc(self) -> str:
        """What the header carries."""
        return DOCS[self]


DOCS: dict[Header, str] = {
    Header.REQUEST_ID: "the request's id (echoed if the client sent a valid one)",
    Header.OPTIMIZATION_USED: "true when an option beyond the defaults shaped the output",
    Header.ORIGINAL_SIZE: "input bytes",
    Header.OPTIMIZED_SIZE: "output image bytes",
    Header.PROCESSING_TIME: "engine time in milliseconds",
    Header.IMAGE_WIDTH: "output width in pixels",
    Header.IMAGE_HEIGHT: "output height in pixels",
    Header.CERTAINTY: f"how sure the cut-out is, 0 to 1 (below {UNSURE_CERTAINTY}: worth a person's look)",
    Header.RATE_LIMIT: "requests allowed per hour",
    Header.RATE_REMAINING: "requests left in this window",
    Header.RATE_RESET: "when the window resets (epoch seconds)",
    Header.RETRY_AFTER: "seconds to wait before retrying",
    Header.CONTENT_DISPOSITION: "the download's file name",
    Header.WIDTH: "remove.bg API: output width in pixels",
    Header.HEIGHT: "remove.bg API: output height in pixels",
    Header.TYPE: "remove.bg API: the foreground type as requested (the model does not classify)",
    Header.CREDITS_CHARGED: "remove.bg API: requests of the hourly limit this one used (always 1)",
    Header.FOREGROUND_TOP: "remove.bg API: top of the subject's box in the output",
    Header.FOREGROUND_LEFT: "remove.bg API: left of the subject's box in the output",
    Header.FOREGROUND_WIDTH: "remove.bg API: width of the subject's box",
    Header.FOREGROUND_HEIGHT: "remove.bg API: height of the subject's box",
}
RESULT_HEADERS = (
    Header.OPTIMIZATION_USED,
    Header.ORIGINAL_SIZE,
    Header.OPTIMIZED_SIZE,
    Header.PROCESSING_TIME,
    Header.IMAGE_WIDTH,
    Header.IMAGE_HEIGHT,
    Header.CERTAINTY,
)
RATE_LIMIT_HEADERS = (Header.RATE_LIMIT, Header.RATE_REMAINING, Header.RATE_RESET)
REMOVEBG_HEADERS = (
    Header.WIDTH,
    Header.HEIGHT,
    Header.TYPE,
    Header.CREDITS_CHARGED,
    Header.FOREGROUND_TOP,
    Header.FOREGROUND_LEFT,
    Header.FOREGROUND_WIDTH,
    Header.FOREGROUND_HEIGHT,
)
