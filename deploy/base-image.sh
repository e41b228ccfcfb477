#!/usr/bin/env bash
# Build an image from Debian packages alone (no image registry needed) and tag it locally.
#   deploy/base-image.sh [TAG]        default TAG: localhost/bgremover-base:bookworm
# By default it is the Python base of the app image; then: make image BASE_IMAGE=localhost/bgremover-base:bookworm
# PACKAGES, CMD, WORKDIR and HOOK (a last mmdebstrap customize hook, on the root "$1") make another one:
# `make redis-image`, Redis for the pods of tests/deploy/test_kube_play.py.
# Needs mmdebstrap (Debian package) and podman or docker; run as root, or as a user with subuids for mmdebstrap.
set -euo pipefail
TAG="${1:-localhost/bgremover-base:bookworm}"
SUITE="${SUITE:-bookworm}"  # bookworm's python3 is 3.11, the version of the default base image
PACKAGES="${PACKAGES:-python3,python3-venv,ca-certificates}"  # comma-separated, as mmdebstrap's --include
CMD="${CMD:-python3}"
WORKDIR="${WORKDIR:-/}"
HOOK="${HOOK:-true}"
ENGINE="${ENGINE:-$(command -v podman || command -v docker || true)}"
[ -n "$ENGINE" ] || { echo "base-image.sh: neither podman nor docker is installed" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "base-image.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

# minbase: essential packages and apt only; docs, man pages and translations are left out as the slim images do.
# PATH: an imported image has no environment, and an engine does not always supply a default.
mmdebstrap --variant=minbase --include="$PACKAGES" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  --customize-hook="mkdir -p \"\$1$WORKDIR\"" --customize-hook="$HOOK" \
  "$SUITE" - \
  | "$ENGINE" import --change 'ENV LANG=C.UTF-8' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change "WORKDIR $WORKDIR" --change "CMD [\"$CMD\"]" - "$TAG"
echo "built $TAG"
