#!/usr/bin/env bash
# Stop the daemons that start.sh started, by the PIDs it recorded. Idempotent.
set -uo pipefail
RUN="${QCB_SLURM_RUN:-/tmp/qcb-slurm}"
[ -d "$RUN/pids" ] || exit 0
for name in slurmrestd slurmd-n* slurmctld; do
  for file in "$RUN"/pids/$name.pid; do
    [ -f "$file" ] || continue
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null
    rm -f "$file"
  done
done
# munged is shared with anything else on the host that uses munge; stop it only if asked.
if [ "${1:-}" = "--all" ] && [ -f "$RUN/pids/munged.pid" ]; then
  kill "$(cat "$RUN/pids/munged.pid")" 2>/dev/null; rm -f "$RUN/pids/munged.pid"
fi
echo "slurm stopped"
