#!/usr/bin/env bash
# Install docker-compose v1 (Debian package) when it is missing; it is all the offline
# validation of docker/compose.yaml needs (`docker-compose config`: no Docker engine).
# --no-install-recommends keeps docker.io (the engine) out. Idempotent; about 7 s.
set -euo pipefail

command -v docker-compose >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "docker-compose is missing; run this as root, or:" \
    "sudo apt-get install -y --no-install-recommends docker-compose" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y -qq --no-install-recommends docker-compose >/dev/null; }
apt_install 2>/dev/null || { apt-get update -qq && apt_install; }
docker-compose version --short
