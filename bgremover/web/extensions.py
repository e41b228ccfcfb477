"""Flask extensions, created unbound here and attached to the app in create_app()."""

from __future__ import annotations

from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

# The key is the client address as ProxyFix left it: X-Forwarded-For counts only for trusted hops.
limiter = Limiter(key_func=get_remote_address)
cors = CORS()
