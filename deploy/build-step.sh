#!/bin/sh
# One command of the image build, with what the builder lent it: its CA bundle (a build secret, mounted only
# during the step) for pip and for model downloads, and a pip index given as a build argument when one was.
set -eu
bundle=/run/secrets/ca-bundle
if [ -s "$bundle" ]; then
  export PIP_CERT="$bundle" SSL_CERT_FILE="$bundle" REQUESTS_CA_BUNDLE="$bundle"
fi
for name in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST; do  # an empty build argument means unset
  eval "[ -n \"\${$name:-}\" ] || unset $name"
done
exec "$@"
