#!/usr/bin/env bash
# Start a real single-host Slurm of one release:
#   start.sh [--release 22.05|24.11|26.05]      (default: the host's own, 22.05 on Debian 12)
# munged, slurmdbd (on the machine's MariaDB, 127.0.0.1:3306), slurmctld, three slurmd
# (logical nodes n1-n3) and slurmrestd with JWT on 127.0.0.1, serving the slurmdbd plugin
# too. The host's own release runs natively; the others from a Debian chroot (chroot.sh
# builds it once, ~30 s, cached under /var/cache/qcb-slurm). See release.sh for the run
# directories and ports: all three releases can run side by side.
# Idempotent: daemons whose recorded PID is alive are left alone. Everything lives in the
# run directory ($QCB_SLURM_RUN; /tmp/qcb-slurm for the host's release):
#   slurm.conf, cgroup.conf, slurmdbd.conf, pids/*.pid, log/, spool/, state/, jobs/,
#   jwt_hs256.key, jwt.token, env.sh, backends.yaml (qcbroker backend options for this
#   cluster), bin/ (sbatch, squeue, ... of this release, for people and scripts), and for a
#   chroot release `mounts` (what this script mounted; stop.sh unmounts them).
# Stop it with stop.sh --release R (by those PIDs). Needs root (slurmd runs jobs as their
# users). QCB_SLURM_ACCOUNTING=none runs without slurmdbd (no MariaDB needed).
#
# A chroot release shares with the host (bind mounts, see mount_chroot below):
# - the accounts: the host's /etc at /run/host-etc (read-only), the chroot's passwd, group,
#   shadow, gshadow and hosts being symlinks into it (chroot.sh), so accounts the broker
#   creates at any time run jobs with the same uids on both sides;
# - /tmp (run directory, task directories, pytest's), the checkout holding this script (its
#   .venv), the host's Python (/usr/bin/pythonX.Y, /usr/lib/pythonX.Y, read-only), so jobs
#   and pilots find the broker's Python at the same paths; QCB_SLURM_BINDS=dir1:dir2 adds
#   directories (same path inside, read-write);
# - not munge: each chroot runs its own munged (its own key and socket in the chroot's
#   /run/munge), so that no release depends on another's daemons.
set -euo pipefail

# Physical paths: reached through a symlink (a test's work dir links docker/), the checkout
# is still the one bound into a chroot, never the directory holding the link.
HERE="$(cd -P "$(dirname "$0")" && pwd -P)"
REPO="$(cd -P "$HERE/../.." && pwd -P)"
PATH="$PATH:/usr/sbin:/sbin"
# shellcheck source-path=SCRIPTDIR source=release.sh
. "$HERE/release.sh"
NODES="${QCB_SLURM_NODES:-3}"
ACCOUNTING="${QCB_SLURM_ACCOUNTING:-slurmdbd}"
STATE="${QCB_SLURM_STATE:-/var/lib/qcb-slurm}" # root-only: database passwords
t0=$(date +%s.%N)

if [ "$MODE" = native ]; then
  "$HERE/install.sh"
else
  "$HERE/install.sh" --chroot
  "$HERE/chroot.sh" "$SUITE" >/dev/null
fi
mkdir -p "$RUN"/{pids,log,spool,state,jobs,pilots,bin} && chmod 755 "$RUN"
for i in $(seq 1 "$NODES"); do mkdir -p "$RUN/spool/n$i"; done
# The daemons keep this working directory: never the caller's, which may be deleted under
# them (slurmrestd then fails each submission on getcwd and dies).
cd "$RUN"
# Task directories: the broker's; accounts may pass through to their own, never list them.
chmod 711 "$RUN/jobs"
chmod 700 "$RUN/state" "$RUN/pilots" # jobs' environments; the broker's own pilot jobs

# A live process: kill -0 also answers for a zombie, and this machine's init reaps the
# daemons' zombies only every 2 s or so.
running() { kill -0 "$1" 2>/dev/null && [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" != Z ]; }
alive() { [ -f "$RUN/pids/$1.pid" ] && running "$(cat "$RUN/pids/$1.pid")"; }
stop_daemon() { # name: stop the recorded process (TERM, then KILL after 15 s)
  local pid
  alive "$1" || { rm -f "$RUN/pids/$1.pid"; return 0; }
  pid=$(cat "$RUN/pids/$1.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do running "$pid" || break; sleep 0.05; done
  if running "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  rm -f "$RUN/pids/$1.pid"
}
wait_pidfile() { # file: wait until it names a live process
  for _ in $(seq 1 100); do
    [ -s "$1" ] && running "$(cat "$1")" && return 0
    sleep 0.05
  done
  return 1
}

# --- chroot: mounts -------------------------------------------------------------------
is_mounted() { awk -v t="$1" '$5 == t {f = 1} END {exit !f}' /proc/self/mountinfo; }
# mount_at TARGET-IN-CHROOT MOUNT-ARGS...: mount unless something is mounted there already;
# record it in $RUN/mounts for stop.sh (in mount order).
mount_at() {
  local target="$CHROOT$1"
  shift
  if ! is_mounted "$target"; then
    mount "$@" "$target"
  fi
  grep -qxF "$target" "$RUN/mounts" 2>/dev/null || echo "$target" >>"$RUN/mounts"
}
bind_same() { # PATH [ro]: the host's PATH at the same path inside
  local src="$1" mode="${2:-rw}"
  # Under /tmp (bound whole, first): seen inside already; a mount of its own there would
  # make the host's directory a busy mount point that no rm can remove.
  case "$src" in /tmp/*) return 0 ;; esac
  if [ -d "$src" ]; then mkdir -p "$CHROOT$src"; else
    mkdir -p "$(dirname "$CHROOT$src")"
    [ -e "$CHROOT$src" ] || : >"$CHROOT$src"
  fi
  mount_at "$src" --bind -o "bind,$mode" "$src"
}
mount_chroot() {
  touch "$RUN/mounts"
  mount_at /proc -t proc proc
  mount_at /sys -t sysfs -o ro sysfs
  mkdir -p "$CHROOT/dev/shm"
  mount_at /dev/shm --bind /dev/shm # POSIX semaphores of multiprocessing (Celery's prefork)
  mkdir -p "$CHROOT/run/host-etc"
  mount_at /run/host-etc --bind -o bind,ro /etc
  bind_same /tmp
  bind_same "$REPO"
  local extra
  IFS=: read -ra extra <<<"${QCB_SLURM_BINDS:-}"
  for dir in "${extra[@]}"; do [ -n "$dir" ] && bind_same "$dir"; done
  # The broker's Python: the venv's interpreter is a chain of symlinks (.venv/bin/python ->
  # python3 -> /usr/bin/python3 -> python3.11). Recreate the chain's links outside the
  # checkout, bind the real binary and its standard library (read-only); the chroot has no
  # Python of its own that could shadow them.
  local py="${QCB_SLURM_PYTHON:-$REPO/.venv/bin/python}" next real
  [ -e "$py" ] || py=/usr/bin/python3
  while [ -L "$py" ]; do
    next=$(readlink "$py")
    case "$next" in /*) ;; *) next="$(dirname "$py")/$next" ;; esac
    case "$py" in
      "$REPO"/*) ;;
      *) if [ ! -e "$CHROOT$py" ] && [ ! -L "$CHROOT$py" ]; then
           mkdir -p "$(dirname "$CHROOT$py")"
           ln -s "$(readlink "$py")" "$CHROOT$py"
         fi ;;
    esac
    py="$next"
  done
  real=$(readlink -f "$py")
  bind_same "$real" ro
  [ -d "/usr/lib/$(basename "$real")" ] && bind_same "/usr/lib/$(basename "$real")" ro
  return 0
}
[ "$MODE" = chroot ] && mount_chroot

# --- munge ----------------------------------------------------------------------------
if [ "$MODE" = native ]; then
  if ! alive munged; then
    install -d -o munge -g munge -m 755 /run/munge
    [ -f /etc/munge/munge.key ] || { mungekey -c -f 2>/dev/null || create-munge-key -f; }
    if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
      rm -f /run/munge/munged.pid
      runuser -u munge -- /usr/sbin/munged --force
    fi
    # munged's own pid file (pgrep could name the parent that is about to exit)
    if wait_pidfile /run/munge/munged.pid; then
      cp /run/munge/munged.pid "$RUN/pids/munged.pid"
    else
      pgrep -o -x munged >"$RUN/pids/munged.pid"
    fi
  fi
elif ! alive munged; then
  install -d -o munge -g munge -m 755 "$CHROOT/run/munge"
  if ! slurm sh -c 'munge -n | unmunge' >/dev/null 2>&1; then
    rm -f "$CHROOT/run/munge/munged.pid"
    chroot --userspec=munge:munge "$CHROOT" /usr/sbin/munged --force
  fi
  wait_pidfile "$CHROOT/run/munge/munged.pid"
  cp "$CHROOT/run/munge/munged.pid" "$RUN/pids/munged.pid"
fi

# --- configuration --------------------------------------------------------------------
[ -f "$RUN/jwt_hs256.key" ] || { head -c 32 /dev/urandom >"$RUN/jwt_hs256.key"; }
chown slurmrest "$RUN/jwt_hs256.key" 2>/dev/null || true
chmod 600 "$RUN/jwt_hs256.key"
CPUS=2
MEM=2048
last=$((NODE_PORT0 + NODES - 1))
if [ "$ACCOUNTING" = slurmdbd ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT"
else
  ACCT="AccountingStorageType=accounting_storage/none"
fi
# Slurm 23.02 dropped switch/none (the default then is no switch plugin).
SWITCH=""
[ "$RELEASE" = 22.05 ] && SWITCH="SwitchType=switch/none"
cat >"$RUN/slurm.conf.new" <<CONF
# Generated by docker/slurm/start.sh (Slurm $RELEASE); edit that script, not this file.
ClusterName=qcb
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$RUN/jwt_hs256.key
CredType=cred/munge
SlurmctldPort=$CTLD_PORT
SlurmdPort=$NODE_PORT0
StateSaveLocation=$RUN/state
SlurmdSpoolDir=$RUN/spool/%n
SlurmctldPidFile=$RUN/pids/slurmctld.pid
SlurmdPidFile=$RUN/pids/slurmd-%n.pid
SlurmctldLogFile=$RUN/log/slurmctld.log
SlurmdLogFile=$RUN/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
# Every 2 s (default 30): the memory use of short jobs gets recorded too.
JobAcctGatherFrequency=task=2
$ACCT
JobCompType=jobcomp/filetxt
JobCompLoc=$RUN/log/jobcomp.txt
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
EnforcePartLimits=ALL
MinJobAge=3600
KillWait=5
MpiDefault=none
$SWITCH
MailProg=/bin/true
ReturnToService=2
NodeName=n[1-$NODES] NodeHostname=localhost NodeAddr=127.0.0.1 Port=$NODE_PORT0-$last CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxNodes=$NODES MaxTime=30 MaxMemPerNode=$MEM State=UP
$(for k in $(seq 1 "$NODES"); do
  # first-k: the first k nodes only, for measuring how a job scales with nodes
  echo "PartitionName=first-$k Nodes=n[1-$k] MaxNodes=$k MaxTime=30 MaxMemPerNode=$MEM State=UP"
done)
CONF
# Newer slurmd need a cgroup plugin unless told there is none (no cgroup file system in the
# chroot); 22.05 reads the file too and ignores it when nothing uses cgroups.
[ "$RELEASE" = 22.05 ] || printf '# Generated by docker/slurm/start.sh\nCgroupPlugin=disabled\n' \
  >"$RUN/cgroup.conf"
changed=0 restart=0
if [ -f "$RUN/slurm.conf" ]; then
  if ! cmp -s "$RUN/slurm.conf.new" "$RUN/slurm.conf"; then
    changed=1
    # Settings that `scontrol reconfigure` does not take: the daemons are restarted.
    keys='^(AccountingStorage|JobAcctGatherType|Auth|Cred|ClusterName|Slurm[a-z]*Port|NodeName|Proctrack|Select|Switch)'
    if ! cmp -s <(grep -E "$keys" "$RUN/slurm.conf") <(grep -E "$keys" "$RUN/slurm.conf.new"); then
      restart=1
    fi
  fi
fi
mv "$RUN/slurm.conf.new" "$RUN/slurm.conf"

# --- slurmdbd on MariaDB --------------------------------------------------------------
mysql_root() { mysql --protocol=socket -uroot "$@" 2>/dev/null || mysql -uroot -h127.0.0.1 "$@"; }
if [ "$ACCOUNTING" = slurmdbd ] && ! alive slurmdbd; then
  if ! mysql_root -e 'SELECT 1' >/dev/null 2>&1 && [ -x /etc/init.d/mariadb ]; then
    /etc/init.d/mariadb start >/dev/null 2>&1 || true # no systemd here: its init script
  fi
  mysql_root -e 'SELECT 1' >/dev/null || {
    echo "slurmdbd needs MariaDB on 127.0.0.1:3306 (root without password);" \
      "or QCB_SLURM_ACCOUNTING=none" >&2
    exit 1
  }
  # One database and one account per release; the password in a root-only file.
  db="slurm_acct_$TAG" dbuser="qcb_slurm_$TAG"
  install -d -m 700 "$STATE"
  pwfile="$STATE/mariadb-$dbuser.password"
  [ -s "$pwfile" ] || (umask 077 && head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$pwfile")
  chmod 600 "$pwfile"
  pw=$(cat "$pwfile")
  mysql_root <<SQL
CREATE DATABASE IF NOT EXISTS $db;
CREATE USER IF NOT EXISTS '$dbuser'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS '$dbuser'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER '$dbuser'@'localhost' IDENTIFIED BY '$pw';
ALTER USER '$dbuser'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT ALL ON $db.* TO '$dbuser'@'localhost';
GRANT ALL ON $db.* TO '$dbuser'@'127.0.0.1';
SQL
  # slurmdbd reads slurmdbd.conf next to slurm.conf; it must be the SlurmUser's, mode 600.
  (umask 077 && cat >"$RUN/slurmdbd.conf" <<DBD
# Generated by docker/slurm/start.sh (Slurm $RELEASE); edit that script, not this file.
AuthType=auth/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=$RUN/jwt_hs256.key
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=root
PidFile=$RUN/pids/slurmdbd.pid
LogFile=$RUN/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=$dbuser
StoragePass=$pw
StorageLoc=$db
DBD
  )
  chmod 600 "$RUN/slurmdbd.conf"
  slurm slurmdbd
  wait_pidfile "$RUN/pids/slurmdbd.pid" || true
  # The first start creates the tables (a few seconds); sacctmgr answers once it is up.
  ok=0
  for _ in $(seq 1 300); do
    if slurm sacctmgr -n -P show cluster format=cluster >"$RUN/clusters.txt" 2>/dev/null; then
      ok=1
      break
    fi
    sleep 0.1
  done
  [ "$ok" = 1 ] || { echo "slurmdbd did not answer; see $RUN/log/slurmdbd.log" >&2; exit 1; }
  if ! grep -qx qcb "$RUN/clusters.txt"; then
    slurm sacctmgr -i add cluster qcb >/dev/null
    # A controller running without the cluster registered must start again.
    alive slurmctld && restart=1
  fi
  rm -f "$RUN/clusters.txt"
fi

# --- daemons --------------------------------------------------------------------------
if [ "$restart" = 1 ]; then
  # Running jobs survive (their slurmstepd go on); the controller keeps its state.
  stop_daemon slurmctld
  for i in $(seq 1 "$NODES"); do stop_daemon "slurmd-n$i"; done
elif alive slurmctld && [ "$changed" = 1 ]; then
  slurm scontrol reconfigure
fi
alive slurmctld || slurm slurmctld -i
for i in $(seq 1 "$NODES"); do
  alive "slurmd-n$i" || slurm slurmd -N "n$i"
done
for _ in $(seq 1 200); do
  idle=$(slurm sinfo -h -N -o '%N %t' 2>/dev/null | sort -u | awk '$2 ~ /^(idle|mix|alloc)/' | wc -l)
  [ "$idle" -ge "$NODES" ] && break
  sleep 0.05
done
if [ "$idle" -lt "$NODES" ]; then
  # A node left down by an earlier run (e.g. a killed slurmd) is returned to service.
  slurm scontrol update nodename="n[1-$NODES]" state=resume 2>/dev/null || true
  sleep 0.5
fi

if [ "$RELEASE" = 22.05 ]; then
  PLUGINS=openapi/v0.0.38 PING=/slurm/v0.0.38/ping
  [ "$ACCOUNTING" = slurmdbd ] && PLUGINS="$PLUGINS,openapi/dbv0.0.38"
else
  PLUGINS=openapi/slurmctld PING=/slurm/v0.0.42/ping
  [ "$ACCOUNTING" = slurmdbd ] && PLUGINS="$PLUGINS,openapi/slurmdbd"
fi
REST_ARGS="-a rest_auth/jwt -s $PLUGINS 127.0.0.1:$REST_PORT"
if alive slurmrestd && [ "$(cat "$RUN/slurmrestd.args" 2>/dev/null)" != "$REST_ARGS" ]; then
  stop_daemon slurmrestd # started with other plugins or port
fi
if ! alive slurmrestd; then
  # slurmrestd does not daemonize: setsid puts it in a session of its own, so that a signal
  # to the process group or session that ran this script (a test harness stopping a job,
  # a closed terminal) does not take it down with them. It refuses to run as root.
  # shellcheck disable=SC2086 # REST_ARGS: words
  if [ "$MODE" = native ]; then
    setsid runuser -u slurmrest -- env SLURM_CONF="$SLURM_CONF" SLURM_JWT=daemon \
      slurmrestd $REST_ARGS >>"$RUN/log/slurmrestd.log" 2>&1 &
  else
    setsid chroot --userspec=slurmrest:slurmrest "$CHROOT" env -i PATH=/usr/sbin:/usr/bin \
      LANG=C.UTF-8 SLURM_CONF="$SLURM_CONF" SLURM_JWT=daemon \
      slurmrestd $REST_ARGS >>"$RUN/log/slurmrestd.log" 2>&1 &
  fi
  echo $! >"$RUN/pids/slurmrestd.pid"
  echo "$REST_ARGS" >"$RUN/slurmrestd.args"
fi

# A token for the broker (root may create tokens for any user); renewed on every start.
slurm scontrol token username=root lifespan=604800 | sed 's/^SLURM_JWT=//' >"$RUN/jwt.token"
chmod 600 "$RUN/jwt.token"
for _ in $(seq 1 200); do
  curl -fsS -o /dev/null -H "X-SLURM-USER-NAME: root" -H "X-SLURM-USER-TOKEN: $(cat "$RUN/jwt.token")" \
    "http://127.0.0.1:$REST_PORT$PING" 2>/dev/null && break
  sleep 0.05
done

# --- files for people and for the broker ----------------------------------------------
# bin/: this release's client tools (the host's 22.05 tools cannot talk to a newer
# controller). In the chroot they run as root, in the caller's directory when the chroot
# sees it (it does for /tmp and the checkout), else in /.
for tool in sbatch squeue scancel scontrol sinfo sacct salloc srun sacctmgr sstat sprio sshare sdiag; do
  if [ "$MODE" = chroot ]; then
    # The chroot sees /tmp, so these wrappers too, through a PATH that names them (jobs
    # inherit the submitter's): there, where the chroot's directory does not exist, they run
    # the tool itself.
    path=$(slurm sh -c "command -v $tool" || echo "/usr/bin/$tool")
    cat >"$RUN/bin/$tool.new" <<WRAP
#!/bin/sh
# Slurm $RELEASE's $tool, run in $CHROOT (generated by docker/slurm/start.sh)
[ -d $CHROOT ] || SLURM_CONF=$SLURM_CONF exec $path "\$@"
exec chroot $CHROOT /bin/sh -c 'cd "\$1" 2>/dev/null; shift; exec env SLURM_CONF=$SLURM_CONF "\$@"' \\
  sh "\$PWD" $path "\$@"
WRAP
  else
    cat >"$RUN/bin/$tool.new" <<WRAP
#!/bin/sh
# Slurm $RELEASE's $tool (generated by docker/slurm/start.sh)
SLURM_CONF=$SLURM_CONF exec $(command -v "$tool" || echo "/usr/bin/$tool") "\$@"
WRAP
  fi
  chmod 755 "$RUN/bin/$tool.new"
  mv "$RUN/bin/$tool.new" "$RUN/bin/$tool"
done

{
  echo "export SLURM_CONF=$SLURM_CONF"
  echo "export QCB_SLURM_RUN=$RUN"
  echo "export QCB_BACKENDS_FILE=$RUN/backends.yaml"
  echo "export QCB_SLURM_RELEASE=$RELEASE"
  if [ "$MODE" = chroot ]; then
    echo "export QCB_SLURM_CHROOT=$CHROOT"
    echo "export PATH=$RUN/bin:\$PATH  # this release's sbatch, squeue, ..."
  fi
} >"$RUN/env.sh"
CHROOT_OPTION=""
[ "$MODE" = chroot ] && CHROOT_OPTION="
  chroot: $CHROOT"
cat >"$RUN/backends.yaml" <<YAML
# qcbroker backend options for the cluster started by docker/slurm/start.sh (Slurm $RELEASE)
slurm:
  slurm_conf: $SLURM_CONF
  workdir: $RUN/jobs$CHROOT_OPTION
slurmrest:
  url: http://127.0.0.1:$REST_PORT
  user: root
  token_file: $RUN/jwt.token
  jwt_key: $RUN/jwt_hs256.key
  workdir: $RUN/jobs
slurm-pilot:
  slurm_conf: $SLURM_CONF
  workdir: $RUN/jobs$CHROOT_OPTION
YAML
chmod 600 "$RUN/backends.yaml"
printf 'slurm %s (%s) up in %.1f s: %srest: http://127.0.0.1:%s (env: . %s/env.sh)\n' \
  "$RELEASE" "$MODE" "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {print b - a}')" \
  "$(slurm sinfo -h -N -o '%N:%t' | sort -u | tr '\n' ' ')" "$REST_PORT" "$RUN"
