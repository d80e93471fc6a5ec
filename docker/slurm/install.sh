#!/usr/bin/env bash
# Install what a single-host Slurm needs (Debian packages), only when something is missing.
#   install.sh            the host's own Slurm: slurm-wlm, munge, slurmrestd, slurmdbd
#   install.sh --chroot   only what the host needs to run another release from a chroot
#                         (debootstrap; the chroot gets its Slurm from chroot.sh)
# Both: a MariaDB server and client (slurmdbd's database; skipped with
# QCB_SLURM_ACCOUNTING=none), curl, and the account slurmrestd runs as.
# Idempotent; takes about 11 s on a fresh Debian 12 machine (more with MariaDB), nothing
# when all is there.
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin"

missing=()
need() { # command:package ...
  local tool
  for tool in "$@"; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool##*:}")
  done
}
need curl:curl
if [ "${1:-}" = --chroot ]; then
  need debootstrap:debootstrap chroot:coreutils
else
  need slurmctld:slurm-wlm slurmd:slurm-wlm sbatch:slurm-client munged:munge \
    slurmrestd:slurmrestd slurmdbd:slurmdbd
fi
if [ "${QCB_SLURM_ACCOUNTING:-slurmdbd}" = slurmdbd ]; then
  need mysql:mariadb-client
  # A server on 127.0.0.1:3306 may be another machine's or a container's: install one only
  # when nothing answers there.
  if ! command -v mariadbd >/dev/null 2>&1 && ! (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null; then
    missing+=(mariadb-server)
  fi
fi
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
id slurmrest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin slurmrest
