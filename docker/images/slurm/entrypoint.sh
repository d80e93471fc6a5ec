#!/usr/bin/env bash
# Entrypoint of the qcbroker Slurm image, and of the broker image (role `client`).
#   entrypoint.sh slurmctld | slurmd | slurmrestd      run that daemon in the foreground
#   entrypoint.sh client CMD [ARG...]                  run CMD as user qcb
# Every role starts munged first (a client only where the shared munge key is mounted).
# The munge key lives in a shared volume at $MUNGE_SHARED; slurmctld creates it (and the JWT
# key) on first start, and each container copies it to /etc/munge with its own munge owner.
set -euo pipefail

role="${1:?usage: entrypoint.sh slurmctld|slurmd|slurmrestd|client [CMD...]}"
shift
MUNGE_SHARED="${MUNGE_SHARED:-/etc/munge-shared}"
TOKEN_DIR="${QCB_SLURM_TOKEN_DIR:-/var/lib/qcb-slurm}"
TOKEN_LIFESPAN="${QCB_SLURM_TOKEN_LIFESPAN:-604800}"
JWT_KEY=/var/spool/slurmctld/jwt_hs256.key
RUN_AS="${QCB_RUN_AS:-qcb}"

log() { echo "entrypoint[$role]: $*" >&2; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds="$1" what="$2"
  shift 2
  for _ in $(seq 1 "$((seconds * 2))"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  log "gave up waiting ${seconds}s for $what"
  return 1
}

start_munged() {
  if [ "$role" = slurmctld ] && [ ! -s "$MUNGE_SHARED/munge.key" ]; then
    mkdir -p "$MUNGE_SHARED"
    mungekey --create --keyfile="$MUNGE_SHARED/munge.key.new"
    mv "$MUNGE_SHARED/munge.key.new" "$MUNGE_SHARED/munge.key"
    log "created a munge key"
  fi
  wait_for 120 "the munge key from slurmctld" test -s "$MUNGE_SHARED/munge.key"
  install -o munge -g munge -m 400 "$MUNGE_SHARED/munge.key" /etc/munge/munge.key
  install -d -o munge -g munge -m 755 /run/munge
  setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --force
  wait_for 10 munged sh -c 'munge -n | unmunge'
}

mint_token() {  # a JWT for the broker's slurmrest backend (root may mint one for any user)
  local token
  token="$(scontrol token username="$RUN_AS" lifespan="$TOKEN_LIFESPAN")"
  install -d -m 755 "$TOKEN_DIR"
  printf '%s\n' "${token#SLURM_JWT=}" >"$TOKEN_DIR/jwt.token.new"
  chown "$RUN_AS:" "$TOKEN_DIR/jwt.token.new"
  chmod 600 "$TOKEN_DIR/jwt.token.new"
  mv "$TOKEN_DIR/jwt.token.new" "$TOKEN_DIR/jwt.token"
}

if [ -d /scratch ]; then install -d -m 1777 /scratch/qcb; fi

case "$role" in
  slurmctld)
    start_munged
    install -d -m 700 /var/spool/slurmctld
    if [ ! -s "$JWT_KEY" ]; then
      head -c 32 /dev/urandom >"$JWT_KEY.new" && chmod 600 "$JWT_KEY.new"
      mv "$JWT_KEY.new" "$JWT_KEY"
    fi
    exec slurmctld -D -i
    ;;
  slurmd)
    start_munged
    install -d -m 755 /var/spool/slurmd
    exec slurmd -D
    ;;
  slurmrestd)
    start_munged
    wait_for 120 slurmctld sh -c 'scontrol ping | grep -q "is UP"'
    mint_token
    # Renew the token well before it expires; the broker re-reads it on a 401.
    (while sleep "$((TOKEN_LIFESPAN / 2))"; do mint_token || log "token renewal failed"; done) &
    # slurmrestd refuses to run as root or SlurmUser; it has no -D (it never daemonizes).
    exec setpriv --reuid=slurmrest --regid=slurmrest --init-groups \
      env SLURM_JWT=daemon slurmrestd -a rest_auth/jwt -s openapi/v0.0.38 0.0.0.0:6820
    ;;
  client)
    [ "$#" -gt 0 ] || set -- bash
    if [ -s "$MUNGE_SHARED/munge.key" ]; then start_munged; fi
    if [ "$(id -u)" = 0 ] && id "$RUN_AS" >/dev/null 2>&1; then
      HOME="$(getent passwd "$RUN_AS" | cut -d: -f6)"
      export HOME USER="$RUN_AS"
      exec setpriv --reuid="$RUN_AS" --regid="$RUN_AS" --init-groups "$@"
    fi
    exec "$@"
    ;;
  *)
    log "unknown role $role (slurmctld | slurmd | slurmrestd | client)"
    exit 2
    ;;
esac
