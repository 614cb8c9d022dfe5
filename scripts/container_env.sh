#!/usr/bin/env bash
# Start what the container tests need on this machine: a Docker Engine, a stand-in base image
# (no Docker Hub here), a local registry on 127.0.0.1:5000 and a single-node swarm.
#
#   scripts/container_env.sh start   # idempotent; prints the DOCKER_HOST line to export
#   scripts/container_env.sh stop    # stops the registry and the engine (by PID)
#
# State lives in $CONTAINER_ENV_DIR (default /var/lib/lawvriksh-docker), so the base image made
# by debootstrap (the slow part, ~40 s) survives between runs.
set -o errexit -o pipefail -o nounset

D="${CONTAINER_ENV_DIR:-/var/lib/lawvriksh-docker}"
SOCK="$D/docker.sock"
BASE_IMAGE="${CONTAINER_BASE_IMAGE:-lawvriksh/python-base:3.13-trixie}"
REGISTRY_ADDR="127.0.0.1:5000"
export DOCKER_HOST="unix://$SOCK"

log() { printf '== %s\n' "$*" >&2; }

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-registry >/dev/null || missing+=(docker-registry)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v rsync >/dev/null || missing+=(rsync)  # gitlab-ci-local's shell executor
  if ((${#missing[@]})); then
    log "Installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

engine_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# The engine also listens on TLS_ADDR with client-certificate auth (--tlsverify), so the
# backends' `tls` settings are tested against a real engine. Certificates in $D/tls.
TLS_ADDR="127.0.0.1:23760"
make_tls_certs() {
  local t="$D/tls"
  if [ -f "$t/client-cert.pem" ]; then return; fi
  mkdir -p "$t"
  (
    cd "$t"
    # Extensions as Python 3.13's strict verification wants them (key usage, key ids).
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=test-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
      -keyout server-key.pem -out server.csr 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1" "extendedKeyUsage=serverAuth" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "authorityKeyIdentifier=keyid,issuer" "subjectKeyIdentifier=hash" >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=deploy-worker" \
      -keyout client-key.pem -out client.csr 2>/dev/null
    printf '%s\n' "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature" \
      "authorityKeyIdentifier=keyid,issuer" "subjectKeyIdentifier=hash" >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile client.ext -out client-cert.pem 2>/dev/null
    chmod 600 ./*-key.pem
  )
}

start_engine() {
  mkdir -p "$D/data" "$D/exec"
  if engine_up; then return; fi
  make_tls_certs
  log "Starting dockerd ($SOCK, and tcp://$TLS_ADDR with TLS client certificates)"
  nohup dockerd --host "unix://$SOCK" --host "tcp://$TLS_ADDR" --tlsverify \
    --tlscacert "$D/tls/ca.pem" --tlscert "$D/tls/server-cert.pem" \
    --tlskey "$D/tls/server-key.pem" --data-root "$D/data" --exec-root "$D/exec" \
    --pidfile "$D/dockerd.pid" --storage-driver overlay2 >"$D/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do engine_up && return; sleep 0.5; done
  log "dockerd did not start; last lines of $D/dockerd.log:"
  tail -20 "$D/dockerd.log" >&2
  exit 1
}

make_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  log "Making the stand-in base image $BASE_IMAGE (debootstrap trixie: Python 3.13)"
  local rootfs="$D/rootfs"
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv trixie "$rootfs" \
    http://deb.debian.org/debian >"$D/debootstrap.log" 2>&1 ||
    { tail -20 "$D/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

start_registry() {
  if curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; then return; fi
  log "Starting a local registry on $REGISTRY_ADDR"
  mkdir -p "$D/registry"
  cat >"$D/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $D/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
EOF
  nohup docker-registry serve "$D/registry.yml" >"$D/registry.log" 2>&1 &
  echo $! >"$D/registry.pid"
  for _ in $(seq 1 40); do curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1 && return; sleep 0.25; done
  tail -20 "$D/registry.log" >&2
  exit 1
}

install_gitlab_ci_local() {
  # 4.74+ needs Node 22 (Set.prototype.union); the machines have Node 20.
  local here
  here="$(cd "$(dirname "$0")/.." && pwd)"
  if [ -x "$here/.tools/node_modules/.bin/gitlab-ci-local" ]; then return; fi
  log "Installing gitlab-ci-local@4.73.0 into .tools/"
  mkdir -p "$here/.tools"
  (cd "$here/.tools" && npm install --silent --no-audit --no-fund gitlab-ci-local@4.73.0 >/dev/null)
}

start_swarm() {
  if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" = "active" ]; then return; fi
  log "Starting a single-node swarm"
  docker swarm init --advertise-addr 127.0.0.1 --listen-addr 127.0.0.1:2377 >/dev/null
}

stop_all() {
  if [ -f "$D/registry.pid" ]; then kill "$(cat "$D/registry.pid")" 2>/dev/null || true; fi
  if [ -f "$D/dockerd.pid" ]; then
    local pid
    pid="$(cat "$D/dockerd.pid")"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
}

case "${1:-start}" in
  start)
    # Connections queued on a retiring listener move to the new one (SO_REUSEPORT switch
    # of the docker backend; see README "Deploy backends").
    sysctl -qw net.ipv4.tcp_migrate_req=1 || log "could not set net.ipv4.tcp_migrate_req"
    install_packages
    start_engine
    make_base_image
    start_registry
    start_swarm
    install_gitlab_ci_local
    echo "export DOCKER_HOST=$DOCKER_HOST CONTAINER_BASE_IMAGE=$BASE_IMAGE" \
      "CONTAINER_REGISTRY=$REGISTRY_ADDR CONTAINER_TLS_HOST=tcp://$TLS_ADDR CONTAINER_TLS_DIR=$D/tls"
    ;;
  stop) stop_all ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
