#!/usr/bin/env bash
# Stop the daemons that start.sh started, by the PIDs it recorded. Idempotent.
#   stop.sh [--release 22.05|24.11|26.05] [--all]
# A chroot release: first cancels its running jobs (pending ones stay queued), ends what
# still runs inside its chroot after its daemons, then unmounts what start.sh mounted there
# ($RUN/mounts), last mounted first; its munged is its own and always stops. The host's release: munged is shared with anything else on the
# host that uses munge, and stops only with --all.
set -uo pipefail
HERE="$(cd -P "$(dirname "$0")" && pwd -P)"
PATH="$PATH:/usr/sbin:/sbin"
# shellcheck source-path=SCRIPTDIR source=release.sh
. "$HERE/release.sh"
ALL=0
for arg in "${ARGS[@]}"; do [ "$arg" = --all ] && ALL=1; done

# A live process: kill -0 also answers for a zombie, and this machine's init reaps the
# daemons' zombies only every 2 s or so.
running() { kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
stop_pid() { # file
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 0
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 300); do running "$pid" || break; sleep 0.05; done
    running "$pid" && kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$1"
}
if [ "$MODE" = chroot ] && [ -f "$RUN/pids/slurmctld.pid" ] \
  && running "$(cat "$RUN/pids/slurmctld.pid")"; then
  # Running jobs cannot outlive the chroot's mounts: cancel them while the controller can
  # still record it (else they would stay RUNNING in its state forever); pending jobs stay.
  for state in RUNNING SUSPENDED CONFIGURING; do slurm scancel --state=$state 2>/dev/null; done
  for _ in $(seq 1 140); do
    [ -z "$(slurm squeue -h -t RUNNING,SUSPENDED,CONFIGURING,COMPLETING -o %i 2>/dev/null)" ] \
      && break
    sleep 0.05
  done
fi
if [ -d "$RUN/pids" ]; then
  for name in slurmrestd slurmd-n* slurmctld slurmdbd; do
    for file in "$RUN"/pids/$name.pid; do
      [ -f "$file" ] && stop_pid "$file"
    done
  done
  if [ -f "$RUN/pids/munged.pid" ] && { [ "$MODE" = chroot ] || [ "$ALL" = 1 ]; }; then
    stop_pid "$RUN/pids/munged.pid"
  fi
fi

if [ "$MODE" = chroot ] && [ -f "$RUN/mounts" ]; then
  # Processes whose root is this chroot were started by its daemons (job steps, tasks): no
  # one else runs there. They hold the mounts busy.
  inside() {
    find /proc -mindepth 2 -maxdepth 2 -path '/proc/[0-9]*/root' -lname "$CHROOT" -printf '%h\n' \
      2>/dev/null | cut -d/ -f3
  }
  pids=$(inside)
  if [ -n "$pids" ]; then
    # shellcheck disable=SC2086 # a list of PIDs
    kill $pids 2>/dev/null
    for _ in $(seq 1 40); do [ -z "$(inside)" ] && break; sleep 0.05; done
    pids=$(inside) # slurmstepd ignores SIGTERM
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    for _ in $(seq 1 40); do [ -z "$(inside)" ] && break; sleep 0.05; done
  fi
  mapfile -t targets < <(tac "$RUN/mounts")
  left=()
  for target in "${targets[@]}"; do
    awk -v t="$target" '$5 == t {f = 1} END {exit !f}' /proc/self/mountinfo || continue
    umount "$target" 2>/dev/null || { umount -l "$target" && left+=("$target"); }
  done
  rm -f "$RUN/mounts"
  [ "${#left[@]}" = 0 ] || echo "busy, detached lazily: ${left[*]}" >&2
fi
echo "slurm $RELEASE stopped"
