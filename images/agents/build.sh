#!/usr/bin/env bash
# Build one agent image: images/agents/build.sh <tui> [extra docker build args...]
#
# Why a script: where egress TLS is intercepted (as on this machine: a proxy re-signs
# pypi.org and registry.npmjs.org with its own CA, trusted only in the host's bundle), pip
# and npm inside the build fail with CERTIFICATE_VERIFY_FAILED. So the host's CA bundle
# (CAB_BUILD_CA_BUNDLE, default /etc/ssl/certs/ca-certificates.crt) is copied into the
# build context as build-ca.crt; the Dockerfiles use it for pip/npm during the build only.
# The tag is read from the Dockerfile's `# tag:` line, the same one config/images.toml lists.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tui="${1:?usage: build.sh <tui> [docker build args...]}"
shift
ctx="$here/$tui"
[ -f "$ctx/Dockerfile" ] || { echo "no Dockerfile at $ctx/Dockerfile" >&2; exit 2; }
tag="$(sed -n 's/^# tag: *//p' "$ctx/Dockerfile" | head -n 1)"
[ -n "$tag" ] || { echo "$ctx/Dockerfile has no '# tag:' line" >&2; exit 2; }
bundle="${CAB_BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
trap 'rm -f "$ctx/build-ca.crt"' EXIT
if [ -f "$bundle" ]; then cp "$bundle" "$ctx/build-ca.crt"; fi
docker build --network host -t "$tag" "$@" "$ctx"
