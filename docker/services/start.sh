#!/usr/bin/env bash
# Start the services a qcbroker deployment (and the service-mode tests) need, each requiring
# a password: nothing here accepts a connection without one. Idempotent: what runs is left
# alone; what is missing is installed (Debian packages) and started.
#   - PostgreSQL: a cluster of our own in $RUN/pg (port $QCB_PG_PORT, default 15432,
#     127.0.0.1 only), scram-sha-256 for every connection, local ones included; superuser
#     qcb_admin (the tests make one database and one role per deployment with it) and the
#     role and database qcb of the README's example.
#   - Redis on 127.0.0.1:$QCB_REDIS_PORT (default 16379) with requirepass.
# Passwords are made once, kept in $RUN (root only, mode 600), and written into
#   $RUN/pg.url   the admin URL (the tests read it; QCB_TEST_PG_URL overrides it)
#   $RUN/env.sh   QCB_DATABASE_URL and QCB_BROKER_URL for the README's service example.
# RUN is $QCB_SERVICES_RUN, default /tmp/qcb-services. Needs root.
set -euo pipefail

RUN="${QCB_SERVICES_RUN:-/tmp/qcb-services}"
PG_PORT="${QCB_PG_PORT:-15432}"
REDIS_PORT="${QCB_REDIS_PORT:-16379}"
PATH="$PATH:/usr/sbin:/sbin"

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
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
need_root "the services' own accounts"

umask 077
mkdir -p "$RUN" && chmod 711 "$RUN"
# "qcbsecret-" marks a password of ours wherever it turns up (the isolation tests look for it)
secret() { [ -s "$RUN/$1" ] || echo "qcbsecret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$RUN/$1"; cat "$RUN/$1"; }
ADMIN_PW=$(secret pg-admin.password)
APP_PW=$(secret pg-qcb.password)
REDIS_PW=$(secret redis.password)

# --- PostgreSQL -----------------------------------------------------------------------
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
PGDATA="$RUN/pg/data"
as_pg() { runuser -u postgres -- "$@"; }
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  install -d -o postgres -g postgres -m 700 "$RUN/pg" "$RUN/pg/sock"
  printf '%s\n' "$ADMIN_PW" >"$RUN/pg/admin.pw"
  chown postgres "$RUN/pg/admin.pw"
  as_pg "$BIN/initdb" -D "$PGDATA" -U qcb_admin --pwfile="$RUN/pg/admin.pw" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >"$RUN/pg/initdb.log"
  rm -f "$RUN/pg/admin.pw"
fi
if ! as_pg "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$RUN/pg/postgres.log" -w -t 60 start -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$RUN/pg/sock" \
    >/dev/null
fi
export PGPASSWORD="$ADMIN_PW"
psql_admin() { psql -h 127.0.0.1 -p "$PG_PORT" -U qcb_admin -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'qcb'")" ]; then
  psql_admin -c "CREATE ROLE qcb LOGIN PASSWORD '$APP_PW'"
  psql_admin -c "CREATE DATABASE qcb OWNER qcb"
fi
unset PGPASSWORD

# --- Redis ----------------------------------------------------------------------------
mkdir -p "$RUN/redis"
cat >"$RUN/redis/redis.conf" <<CONF
port $REDIS_PORT
bind 127.0.0.1
protected-mode yes
requirepass $REDIS_PW
save ""
appendonly no
dir $RUN/redis
pidfile $RUN/redis/redis.pid
logfile $RUN/redis/redis.log
daemonize yes
CONF
if ! { [ -f "$RUN/redis/redis.pid" ] && kill -0 "$(cat "$RUN/redis/redis.pid")" 2>/dev/null; }; then
  redis-server "$RUN/redis/redis.conf"
  for _ in $(seq 100); do [ -f "$RUN/redis/redis.pid" ] && break; sleep 0.05; done
fi

printf 'postgresql+psycopg://qcb_admin:%s@127.0.0.1:%s/postgres\n' "$ADMIN_PW" "$PG_PORT" >"$RUN/pg.url"
cat >"$RUN/env.sh" <<ENV
export QCB_DATABASE_URL=postgresql+psycopg://qcb:$APP_PW@127.0.0.1:$PG_PORT/qcb
export QCB_BROKER_URL=redis://:$REDIS_PW@127.0.0.1:$REDIS_PORT/0
ENV
chmod 600 "$RUN/pg.url" "$RUN/env.sh" "$RUN"/*.password
echo "PostgreSQL on 127.0.0.1:$PG_PORT and Redis on 127.0.0.1:$REDIS_PORT, both with passwords (env: . $RUN/env.sh)"
