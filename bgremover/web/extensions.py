"""Flask extensions, created unbound here and attached to the app in create_app()."""

from __future__ import annotations

from flask_cors import CORS
from flask_limiter import Limiter

from bgremover.web.auth import rate_limit_key

# The key is the API key's name when one authenticated, else the client address as ProxyFix left it
# (X-Forwarded-For counts only for trusted hops).
limiter = Limiter(key_func=rate_limit_key)
cors = CORS()
