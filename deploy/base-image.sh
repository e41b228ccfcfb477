#!/usr/bin/env bash
# Build a Python base image from Debian packages alone (no image registry needed) and tag it locally.
#   deploy/base-image.sh [TAG]        default TAG: localhost/bgremover-base:bookworm
# Then: make image BASE_IMAGE=localhost/bgremover-base:bookworm
# Needs mmdebstrap (Debian package) and podman or docker; run as root, or as a user with subuids for mmdebstrap.
set -euo pipefail
TAG="${1:-localhost/bgremover-base:bookworm}"
SUITE="${SUITE:-bookworm}"  # bookworm's python3 is 3.11, the version of the default base image
ENGINE="${ENGINE:-$(command -v podman || command -v docker || true)}"
[ -n "$ENGINE" ] || { echo "base-image.sh: neither podman nor docker is installed" >&2; exit 1; }
command -v mmdebstrap >/dev/null || { echo "base-image.sh: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2; exit 1; }

# minbase: essential packages and apt only; docs, man pages and translations are left out as the slim images do.
mmdebstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  "$SUITE" - \
  | "$ENGINE" import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$TAG"
echo "built $TAG"
