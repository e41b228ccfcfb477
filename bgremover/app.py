"""The Flask application factory."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from bgremover.apikeys import KeyStore
from bgremover.models.registry import ModelRegistry
from bgremover.processing import Engine, Limits, matting
from bgremover.resources import resource
from bgremover.settings import Settings, load_settings
from bgremover.web import api, errors, i18n, observability, ops, pages, rembg_api, removebg, services
from bgremover.web.addresses import AllowList
from bgremover.web.extensions import cors, limiter
from bgremover.web.headers import Header

REDIS_TIMEOUT_S = 0.3  # a dead Redis costs a request at most this, then in-process limits take over


def create_app(settings: Settings | None = None, registry: ModelRegistry | None = None) -> Flask:
    """Build the app; loads and warms the models unless a loaded registry is given (tests share one).

    Settings are plain values; here they become what they configure, and a value that only its user can judge
    (an API key entry, an allow-listed host) is refused before any model loads, with a message naming the setting.
    """
    settings = settings or load_settings()
    keys = KeyStore.load(settings.api_keys, settings.api_keys_file) if settings.api_keys_enabled else None
    AllowList.parse(settings.image_url_allow_hosts)  # parsed again by each fetch; checked here, at the start
    limits = Limits(settings.min_image_side, settings.max_image_side, settings.max_image_pixels)
    app = Flask(__name__, template_folder=resource("templates"), static_folder=resource("static"))
    app.json.sort_keys = False  # type: ignore[attr-defined]  # JSON keys in the order the spec lists them
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SEND_FILE_MAX_AGE_DEFAULT=31536000,
        RATELIMIT_ENABLED=settings.ratelimit_enabled,
        RATELIMIT_STORAGE_URI=settings.limiter_storage_uri,
        RATELIMIT_STORAGE_OPTIONS={"socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S}
        if settings.limiter_storage_uri.startswith("redis")
        else {},
        RATELIMIT_HEADERS_ENABLED=True,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=True,
        RATELIMIT_SWALLOW_ERRORS=True,
        RATELIMIT_KEY_PREFIX="bgremover",
    )
    if settings.trusted_proxy_hops:
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    observability.setup_logging(settings.log_level, settings.log_file)
    if registry is None:
        registry = ModelRegistry.from_settings(settings)
        for name in settings.model_names:
            registry.load(name)  # each model is warmed as it loads
    engine = Engine(registry, settings.model_name, limits, settings.cascade_model)
    matting.solver_threads.configure(settings.solver_threads)
    services.init_app(app, services.Services(settings, registry, engine, keys))

    observability.init_app(app)  # first: request ids exist before the limiter can refuse a request
    limiter.init_app(app)
    cors.init_app(
        app,
        origins=settings.cors_origins,
        expose_headers=list(Header),
    )
    errors.register(app, shapes=[(removebg.PREFIX, removebg.error_shape), (rembg_api.PATH, rembg_api.error_shape)])
    i18n.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(removebg.bp)
    app.register_blueprint(rembg_api.bp)
    return app
