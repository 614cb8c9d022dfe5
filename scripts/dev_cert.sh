#!/usr/bin/env bash
# A self-signed certificate for the compose "proxy" profile (development only):
# deploy/certs/dev.crt and dev.key for localhost. Browsers will warn; that is expected.
set -o errexit -o pipefail -o nounset
cd "$(dirname "$0")/.."
mkdir -p deploy/certs
openssl req -x509 -newkey rsa:2048 -nodes -days 365 \
  -subj "/CN=${CERT_HOST:-localhost}" \
  -addext "subjectAltName=DNS:${CERT_HOST:-localhost},IP:127.0.0.1" \
  -keyout deploy/certs/dev.key -out deploy/certs/dev.crt 2>/dev/null
chmod 600 deploy/certs/dev.key
echo "wrote deploy/certs/dev.crt and deploy/certs/dev.key (CN=${CERT_HOST:-localhost})"
