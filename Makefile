# Two commands set everything up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.dev-installed
# axe-core, the page tests' accessibility audit: a pinned npm package installed beside those tests, never served
AXE    := tests/page/node_modules/axe-core/axe.min.js
CHECKOV_VENV  ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: run test install dev checkov model quality bench soak lint clean image base-image test-image messages

# The container engine: podman, else docker (docs/container.md)
ENGINE     ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
IMAGE      ?= localhost/bgremover:latest
BASE_IMAGE ?= python:3.11-slim
BASE_TAG   ?= localhost/bgremover-base:bookworm
# lent to the build as a secret (pip's TLS), never stored in the image
CA_BUNDLE  ?= /etc/ssl/certs/ca-certificates.crt
, := ,

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(DEV): requirements-dev.txt requirements-int8.txt $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# without npm the audit skips (and fails under CI=true, as a missing Chromium does)
$(AXE): tests/page/package.json tests/page/package-lock.json
	if command -v npm >/dev/null; then npm ci --prefix tests/page --no-audit --no-fund --loglevel=error && touch $@; \
	else echo "npm is not installed: the page's accessibility audit will skip" >&2; fi

# checkov has its own venv: its dependencies conflict with requirements.txt (see requirements-checkov.txt)
$(CHECKOV_STAMP): requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-checkov.txt
	touch $@

install: $(STAMP)

dev: $(DEV) $(AXE)

checkov: $(CHECKOV_STAMP)

## model: provision the models the settings load (u2netp and u2net by default) into U2NET_HOME (~/.u2net), offline
model: $(STAMP)
	$(BIN)/bgremover models fetch

## run: the production server (gunicorn) on HOST:PORT (default 127.0.0.1:5001)
run: model
	exec $(BIN)/gunicorn -c gunicorn.conf.py "bgremover.app:create_app()"

## test: the lint gates, then the whole suite (real model, Redis, nginx and Chromium where installed) with
## coverage, then the API suite again on onnxruntime (the fallback backend)
test: lint model checkov $(AXE)
	$(BIN)/pytest --cov --cov-report=term -m "not image"
	INFERENCE_BACKEND=onnxruntime $(BIN)/pytest -q -p no:cacheprovider tests/api

## quality: MAE/IoU/SAD of each refinement level beside plain rembg (docs/quality.md)
quality: model
	$(BIN)/python -m bench.quality

## bench: throughput, latency, memory and cold start beside `rembg s` (writes BENCHMARKS.md)
bench: model
	$(BIN)/python -m bench.speed

## soak: ten minutes of mixed traffic through nginx → gunicorn → Redis while a worker is killed twice and Redis
## restarts (docs/soak.md; needs redis-server and nginx; not part of `make test`). SOAK_ARGS="--seconds 300" …
soak: model dev
	nice -n 10 $(BIN)/python -m bench.soak $(SOAK_ARGS)

## messages: the page's strings extracted again (babel.cfg), merged into each language's catalogue, compiled; a
## new or changed string is then left to translate in bgremover/translations/<code>/LC_MESSAGES/messages.po
messages: dev
	$(BIN)/pybabel -q extract -F babel.cfg -k _l --no-location --sort-output --omit-header \
	  -o bgremover/translations/messages.pot .
	$(BIN)/pybabel -q update -i bgremover/translations/messages.pot -d bgremover/translations -w 120 \
	  --ignore-obsolete --no-fuzzy-matching
	$(BIN)/pybabel -q compile -d bgremover/translations

## lint: ruff (lint and format), mypy on bgremover/ (config in pyproject.toml) and codespell
lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/codespell bgremover bench tests static templates nginx docs README.md BENCHMARKS.md Makefile

## image: the app image IMAGE from BASE_IMAGE (default python:3.11-slim), models baked in
image:
	@test -n "$(ENGINE)" || { echo "make image: install podman or docker" >&2; exit 1; }
	$(ENGINE) build $(if $(findstring podman,$(notdir $(ENGINE))),--format docker) --network host \
	  --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  $(foreach v,PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST,$(if $($(v)),--build-arg $(v))) \
	  $(if $(wildcard $(CA_BUNDLE)),--secret id=ca-bundle$(,)src=$(CA_BUNDLE)) -t $(IMAGE) .

## base-image: a Python base from Debian packages (mmdebstrap), for builders that reach no image registry
base-image:
	ENGINE=$(ENGINE) deploy/base-image.sh $(BASE_TAG)

## test-image: build the image, then run it and check it end to end (tests/deploy/test_image.py, test_compose.py)
test-image: image dev
	BGREMOVER_IMAGE=$(IMAGE) CONTAINER_ENGINE=$(ENGINE) \
	  $(BIN)/pytest -q -p no:cacheprovider tests/deploy/test_image.py tests/deploy/test_compose.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache .mypy_cache .coverage
