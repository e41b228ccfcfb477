# Two commands set everything up: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEV    := $(VENV)/.dev-installed
# The int8 build's extra (NNCF), installed into a folder of its own that only the build puts on its path
INT8_LIB      := $(VENV)/int8-build
INT8_STAMP    := $(INT8_LIB)/.installed
# axe-core, the page tests' accessibility audit: a pinned npm package installed beside those tests, never served
AXE    := tests/page/node_modules/axe-core/axe.min.js
CHECKOV_VENV  ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: run test install dev checkov model quality triage bench soak lint clean image base-image test-image wheel messages

# The container engine: podman, else docker (docs/container.md)
ENGINE     ?= $(shell command -v podman 2>/dev/null || command -v docker 2>/dev/null)
IMAGE      ?= localhost/bgremover:latest
BASE_IMAGE ?= python:3.11-slim
BASE_TAG   ?= localhost/bgremover-base:bookworm
# Redis from Debian packages: the image the played pods of `make test-kube` run for redis.yaml's
REDIS_IMAGE ?= localhost/bgremover-redis:bookworm
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

$(INT8_STAMP): requirements-int8.txt $(STAMP)
	rm -rf $(INT8_LIB)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --target $(INT8_LIB) -r requirements-int8.txt
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

## model: provision the models the settings load (u2netp and u2net by default) into U2NET_HOME (~/.u2net), offline,
## and where the settings run int8 here (a CPU with VNNI), build their int8 IRs with the int8 extra on the side
model: $(STAMP)
	$(BIN)/bgremover models fetch --no-int8
	if $(BIN)/bgremover models needs-int8 >/dev/null; then \
	  $(MAKE) --no-print-directory $(INT8_STAMP) && PYTHONPATH=$(abspath $(INT8_LIB)) $(BIN)/bgremover models fetch; \
	fi

## run: the production server (gunicorn with gunicorn.conf.py, through `bgremover serve`) on HOST:PORT
## (default 127.0.0.1:5001)
run: model
	exec $(BIN)/bgremover serve

## wheel: dist/bgremover-<version>-py3-none-any.whl, the page, its assets and gunicorn.conf.py inside the package
wheel: dev
	$(BIN)/python -m build --wheel --outdir dist .

## test: the lint gates, then the whole suite (real model, Redis, nginx and Chromium where installed) with
## coverage, then the API suite again on onnxruntime (the fallback backend)
test: lint model checkov $(AXE)
	$(BIN)/pytest --cov --cov-report=term -m "not image"
	INFERENCE_BACKEND=onnxruntime $(BIN)/pytest -q -p no:cacheprovider tests/api

## quality: MAE/IoU/SAD of each refinement level beside plain rembg, then the triage figures (docs/quality.md)
quality: model
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.triage

## triage: how much of the error the cut-outs each signal is least sure of hold, per set (bench/triage.py)
triage: model
	$(BIN)/python -m bench.triage

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

## lint: ruff (lint and format), mypy on bgremover/ (config in pyproject.toml), codespell, and the alert rules
## with promtool where it is installed (Debian's prometheus package; CI has it)
lint: dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/codespell bgremover bench tests static templates nginx docs deploy/prometheus deploy/grafana README.md \
	  BENCHMARKS.md Makefile CONTRIBUTING.md SECURITY.md CHANGELOG.md hatch_build.py
	@if command -v promtool >/dev/null 2>&1; then promtool check rules deploy/prometheus/bgremover-rules.yml; \
	else echo "lint: promtool not installed, alert rules not checked"; fi

## image: the app image IMAGE from BASE_IMAGE (default python:3.11-slim, pulled first if not here), models baked in
image:
	@test -n "$(ENGINE)" || { echo "make image: install podman or docker" >&2; exit 1; }
	@$(ENGINE) image inspect $(BASE_IMAGE) >/dev/null 2>&1 || $(ENGINE) pull -q $(BASE_IMAGE) >/dev/null || { \
	  echo "make image: the base image $(BASE_IMAGE) is not here and cannot be pulled (no registry reachable?)." >&2; \
	  echo "  Build a base from Debian packages, then the image on it (docs/container.md):" >&2; \
	  echo "    make base-image && make image BASE_IMAGE=$(BASE_TAG)" >&2; exit 1; }
	$(ENGINE) build $(if $(findstring podman,$(notdir $(ENGINE))),--format docker) --network host \
	  --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	  $(foreach v,PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST,$(if $($(v)),--build-arg $(v))) \
	  $(if $(wildcard $(CA_BUNDLE)),--secret id=ca-bundle$(,)src=$(CA_BUNDLE)) -t $(IMAGE) .

## base-image: a Python base from Debian packages (mmdebstrap), for builders that reach no image registry
base-image:
	ENGINE=$(ENGINE) deploy/base-image.sh $(BASE_TAG)

.PHONY: redis-image test-kube
## redis-image: Redis from Debian packages (mmdebstrap), for `make test-kube` where no registry is reachable.
## Like the official image it has no /etc/redis (the played Secret is mounted there) and works in /data.
redis-image:
	ENGINE=$(ENGINE) PACKAGES=redis-server CMD=redis-server WORKDIR=/data HOOK='rm -rf "$$1/etc/redis"' \
	  deploy/base-image.sh $(REDIS_IMAGE)

## test-image: build the image, then run it and check it end to end (tests/deploy/test_image.py, test_compose.py)
test-image: image dev
	BGREMOVER_IMAGE=$(IMAGE) CONTAINER_ENGINE=$(ENGINE) \
	  $(BIN)/pytest -q -p no:cacheprovider tests/deploy/test_image.py tests/deploy/test_compose.py

## test-kube: the kustomize base played as pods by `podman kube play` on that image and a Redis image
## (`make redis-image`, built when absent), checked end to end (tests/deploy/test_kube_play.py)
test-kube: image dev
	$(ENGINE) image inspect $(REDIS_IMAGE) >/dev/null 2>&1 || $(MAKE) redis-image
	BGREMOVER_IMAGE=$(IMAGE) REDIS_IMAGE=$(REDIS_IMAGE) CONTAINER_ENGINE=$(ENGINE) \
	  $(BIN)/pytest -q -p no:cacheprovider tests/deploy/test_kube_play.py

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .ruff_cache .mypy_cache .coverage dist
