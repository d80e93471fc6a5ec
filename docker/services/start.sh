#!/usr/bin/env bash
# Make sure the service-mode tests find what they need on this machine, installing and
# starting it only when missing (idempotent; nothing to do on a machine that has both):
#   - redis-server (the tests start private instances of it on free ports);
#   - PostgreSQL on 127.0.0.1:5432 where user postgres logs in with password "postgres"
#     (the tests create and drop their own databases; QCB_TEST_PG_URL overrides the URL).
set -euo pipefail

PG_URL_HOST=127.0.0.1
need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing: $1 (run as root, or: sudo apt-get install -y $1)" >&2
    exit 1
  fi
}

apt_install() {
  need_root "$*"
  echo "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}

command -v redis-server >/dev/null 2>&1 || apt_install redis-server

pg_ready() { pg_isready -q -h "$PG_URL_HOST" -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1 || ! pg_ready; then
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql
  need_root postgresql
  if ! pg_ready; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -1)
    pg_lsclusters -h | grep -q "^$version main" || pg_createcluster "$version" main >/dev/null
    pg_ctlcluster "$version" main start || true
    for _ in $(seq 50); do pg_ready && break; sleep 0.2; done
    pg_ready || { echo "PostgreSQL did not start; see /var/log/postgresql/" >&2; exit 1; }
  fi
  # A cluster installed here authenticates local TCP clients by password: give postgres one.
  runuser -u postgres -- psql -q -c "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
fi
echo "redis-server: $(command -v redis-server); PostgreSQL ready on $PG_URL_HOST:5432"
