# bgremover app node: gunicorn + the model, baked in at build time; runs as a non-root user.
FROM python:3.11-slim AS app

# HOST=0.0.0.0: the container's own interface. TRUSTED_PROXY_HOPS=0: a container published on its own believes
# no X-Forwarded-For (else any client could forge its address); behind nginx, set 1 (docker-compose.yml does).
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    U2NET_HOME=/opt/models HOST=0.0.0.0 PORT=5001 TRUSTED_PROXY_HOPS=0

RUN useradd --system --create-home --uid 10001 bgremover
WORKDIR /app

COPY requirements.txt pyproject.toml README.md ./
RUN pip install -r requirements.txt
COPY bgremover ./bgremover
COPY templates ./templates
COPY static ./static
COPY gunicorn.conf.py ./
RUN pip install --no-deps . \
    && bgremover models fetch u2netp \
    && chmod -R a+rX /opt/models

USER bgremover
EXPOSE 5001
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:5001/health/ready', timeout=2).status == 200 else 1)"
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
