# bgremover app node: gunicorn + the models, baked in at build time; runs as a non-root user, needs no network.
# Build with `make image` (docs/container.md). BASE_IMAGE is any image with Python 3.11 and its venv module:
# the official python image by default, or one made from Debian packages by deploy/base-image.sh.
ARG BASE_IMAGE=python:3.11-slim

# --- build: a virtualenv with the pinned requirements, the app installed into it, the models fetched ---------------
FROM ${BASE_IMAGE} AS build
# A mirror the builder's pip uses (passed on by `make image` when set); kept in this stage, which the image drops.
ARG PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore U2NET_HOME=/opt/models
COPY deploy/build-step.sh /usr/local/bin/build-step
RUN python3 -m venv /opt/venv
WORKDIR /app
COPY requirements.txt requirements-int8.txt ./
# build-step: the builder's CA bundle (a build secret, never in a layer) for pip; the pip cache stays in a cache mount
RUN --mount=type=secret,id=ca-bundle --mount=type=cache,target=/root/.cache/pip \
    build-step /opt/venv/bin/pip install -r requirements.txt
COPY pyproject.toml hatch_build.py README.md LICENSE gunicorn.conf.py ./
COPY bgremover ./bgremover
COPY templates ./templates
COPY static ./static
# Editable: the package is imported from /app, where templates/ and static/ sit beside it (bgremover/resources.py).
# `models fetch` provisions what the default settings load; no model is named here. The int8 IRs are built
# whatever the builder's CPU (`auto` runs them where the CPU that runs the image has VNNI), with the int8 extra
# in a folder of its own that the image never gets.
RUN --mount=type=secret,id=ca-bundle --mount=type=cache,target=/root/.cache/pip \
    build-step /opt/venv/bin/pip install --no-deps -e . \
    && build-step /opt/venv/bin/pip install -q --no-deps --target /tmp/int8-build -r requirements-int8.txt \
    && PYTHONPATH=/tmp/int8-build build-step /opt/venv/bin/bgremover models fetch --int8 \
    && rm -rf /tmp/int8-build \
    && /opt/venv/bin/pip uninstall -q -y pip \
    && /opt/venv/bin/python -m compileall -q /app/bgremover \
    && chmod -R a+rX /opt/models

# --- the image: the base, the virtualenv, the app and the models; no compiler, pip or pip cache -------------------
FROM ${BASE_IMAGE}
# HOST=0.0.0.0: the container's own interface. TRUSTED_PROXY_HOPS=0: a container published on its own believes
# no X-Forwarded-For (else any client could forge its address); behind nginx, set 1 (docker-compose.yml does).
ENV PATH=/opt/venv/bin:$PATH LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    U2NET_HOME=/opt/models HOST=0.0.0.0 PORT=5001 TRUSTED_PROXY_HOPS=0
# uid and gid 10001: deploy/kubernetes/deployment.yaml runs as these numbers
RUN groupadd --gid 10001 bgremover \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin bgremover
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/models /opt/models
COPY --from=build /app /app
WORKDIR /app

USER bgremover
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import os,sys,urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:%s/health/ready' % os.environ['PORT'], timeout=2).status != 200)"
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
