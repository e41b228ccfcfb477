"""Optional API keys: who a request is (by key name), and the rate-limit key and limit that follow from it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from flask import Request, g, request
from flask_limiter.util import get_remote_address

from bgremover.apikeys import ApiKey
from bgremover.errors import ApiKeyInvalid, ApiKeyMissing, ApiKeyRevoked
from bgremover.web.services import services

API_KEY_HEADER = "X-Api-Key"  # remove.bg's header; `Authorization: Bearer <key>` works too
MAX_KEY_LENGTH = 256
KEY_ATTR = "api_key"  # g.api_key: the authenticated ApiKey, set by authenticate()
View = TypeVar("View", bound=Callable[..., object])


def presented_key(req: Request) -> str | None:
    """The key the request carries in X-Api-Key or `Authorization: Bearer`, if any."""
    key = req.headers.get(API_KEY_HEADER, "").strip()
    if not key:
        scheme, _, token = req.headers.get("Authorization", "").partition(" ")
        key = token.strip() if scheme.lower() == "bearer" else ""
    return key or None


def authenticate(req: Request) -> str | None:
    """The name of the request's key; None when keys are off, or for a keyless request under PAGE_PUBLIC.

    Raises ApiKeyMissing (401), ApiKeyInvalid or ApiKeyRevoked (403). The result is kept for the request,
    so calling it again (or from rate_limit_key) costs nothing.
    """
    if "api_key_checked" in g:
        entry = g.get(KEY_ATTR)
        return entry.name if entry else None
    store = services().keys
    entry = None
    if store is not None:
        key = presented_key(req)
        if key is None:
            if not services().settings.page_public:
                raise ApiKeyMissing()
        else:
            entry = store.match(key) if len(key) <= MAX_KEY_LENGTH else None
            if entry is None:
                raise ApiKeyInvalid()
            if entry.revoked:
                raise ApiKeyRevoked()
    g.api_key_checked = True
    setattr(g, KEY_ATTR, entry)
    return entry.name if entry else None


def current_key() -> ApiKey | None:
    """The key authenticated for this request (None if anonymous or not checked)."""
    return g.get(KEY_ATTR)


def key_name() -> str | None:
    """The authenticated key's name, for logs (the key itself is never kept)."""
    entry = current_key()
    return entry.name if entry else None


def rate_limit_key() -> str:
    """The limiter's key: `key:<name>` for an authenticated request, else the client's address."""
    name = key_name()
    return f"key:{name}" if name else get_remote_address()


def hourly_limit(default_per_hour: int) -> str:
    """The request's hourly limit: the key's own limit when it has one, else the endpoint's default."""
    entry = current_key()
    per_hour = entry.limit_per_hour if entry and entry.limit_per_hour else default_per_hour
    return f"{per_hour}/hour"


def key_required(view: View) -> View:
    """Authenticate before the view (and before a rate limit decorated under this one, whose key depends on it)."""

    @functools.wraps(view)
    def wrapped(*args: object, **kwargs: object) -> object:
        authenticate(request)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
