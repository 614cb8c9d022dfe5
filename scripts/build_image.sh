#!/usr/bin/env bash
# Build the image here: wheels made on the host first (a build on these machines has no TLS
# route to PyPI), build args from git. Tag with IMAGE (default lawvriksh/blog:<sha>).
#   BASE_IMAGE=lawvriksh/python-base:3.13-trixie scripts/build_image.sh
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."
sha="$(git rev-parse HEAD)"
image="${IMAGE:-lawvriksh/blog:$sha}"
.venv/bin/python -m pip wheel -q -r requirements.txt -w wheelhouse 2>/dev/null
docker build \
  --build-arg BASE_IMAGE="${BASE_IMAGE:-python:3.13-slim}" \
  --build-arg GIT_SHA="$sha" \
  --build-arg APP_VERSION="${APP_VERSION:-$(git describe --tags --always)}" \
  --build-arg BUILD_TIME="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --tag "$image" .
echo "built $image"
