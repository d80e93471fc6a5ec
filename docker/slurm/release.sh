#!/usr/bin/env bash
# Sourced by start.sh and stop.sh (not run): which Slurm release, how it runs, where, on
# which ports. Reads --release R (or --release=R) from the arguments; the others are left in
# ARGS. Without --release: $QCB_SLURM_RELEASE, else the host's own release.
#
#   release  Debian suite  on a Debian 12 host                     default ports (ctld, slurmd
#                                                                   n1-n3, rest, dbd)
#   22.05    bookworm      native: /usr/sbin, run dir /tmp/qcb-slurm  6817, 17001-17003, 6820, 6819
#   24.11    trixie        chroot, run dir /tmp/qcb-slurm-24.11      16817, 16831-16833, 16820, 16819
#   26.05    sid           chroot, run dir /tmp/qcb-slurm-26.05      26817, 26831-26833, 26820, 26819
#
# The host's own release (22.05 on Debian 12, 24.11 on Debian 13) always runs natively with
# the classic layout (run dir /tmp/qcb-slurm, ports 6817/17001-/6820/6819) that the test
# suite uses; any other release runs from a chroot of its Debian suite (chroot.sh), with a
# run dir and ports of its own, so that all of them can run side by side. (On a Debian 13
# host, 22.05 would run from a bookworm chroot on 22817/22831-/22820/22819: untested.)
# Environment overrides: QCB_SLURM_RUN, QCB_SLURMCTLD_PORT, QCB_SLURMD_PORT0,
# QCB_SLURMREST_PORT, QCB_SLURMDBD_PORT, QCB_SLURM_CHROOTS (chroot cache directory).

# shellcheck disable=SC2034 # the scripts that source this file use these
ARGS=()
RELEASE="${QCB_SLURM_RELEASE:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    --release) RELEASE="${2:?--release needs a value: 22.05, 24.11 or 26.05}"; shift 2 ;;
    --release=*) RELEASE="${1#*=}"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

host_release() {
  local codename
  codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
  case "$codename" in
    bookworm) echo 22.05 ;;
    trixie) echo 24.11 ;;
    *) # another suite: whatever Slurm its apt offers
      apt-cache policy slurm-wlm 2>/dev/null | awk '/Candidate:/ {print $2}' \
        | sed -E 's/^([0-9]+\.[0-9]+).*/\1/' ;;
  esac
}
HOST_RELEASE="$(host_release)"
RELEASE="${RELEASE:-$HOST_RELEASE}"
case "$RELEASE" in
  22.05) SUITE=bookworm PORT_PREFIX=22 ;;
  24.11) SUITE=trixie PORT_PREFIX=16 ;;
  26.05) SUITE=sid PORT_PREFIX=26 ;;
  *) echo "unknown Slurm release '$RELEASE' (known: 22.05, 24.11, 26.05)" >&2; exit 2 ;;
esac
# The release's tag in names (databases, accounts): 24.11 -> 2411.
TAG="${RELEASE//./}"
CHROOTS="${QCB_SLURM_CHROOTS:-/var/cache/qcb-slurm}"
if [ "$RELEASE" = "$HOST_RELEASE" ]; then
  MODE=native
  CHROOT=""
  RUN="${QCB_SLURM_RUN:-/tmp/qcb-slurm}"
  CTLD_PORT="${QCB_SLURMCTLD_PORT:-6817}"
  NODE_PORT0="${QCB_SLURMD_PORT0:-17001}"
  REST_PORT="${QCB_SLURMREST_PORT:-6820}"
  DBD_PORT="${QCB_SLURMDBD_PORT:-6819}"
else
  MODE=chroot
  CHROOT="$CHROOTS/chroot-$SUITE"
  RUN="${QCB_SLURM_RUN:-/tmp/qcb-slurm-$RELEASE}"
  CTLD_PORT="${QCB_SLURMCTLD_PORT:-${PORT_PREFIX}817}"
  NODE_PORT0="${QCB_SLURMD_PORT0:-${PORT_PREFIX}831}"
  REST_PORT="${QCB_SLURMREST_PORT:-${PORT_PREFIX}820}"
  DBD_PORT="${QCB_SLURMDBD_PORT:-${PORT_PREFIX}819}"
fi
# A run directory belongs to one release: refuse to start or stop another one in it (say,
# with QCB_SLURM_RUN still exported from one release's env.sh and --release naming another).
if [ -f "$RUN/env.sh" ]; then
  recorded=$(sed -n 's/^export QCB_SLURM_RELEASE=//p' "$RUN/env.sh")
  if [ -n "$recorded" ] && [ "$recorded" != "$RELEASE" ]; then
    echo "$RUN holds Slurm $recorded, not $RELEASE: pass --release $recorded, or another" \
      "QCB_SLURM_RUN" >&2
    exit 2
  fi
fi
export SLURM_CONF="$RUN/slurm.conf"

# Run a Slurm tool or daemon of this release: in the chroot (a clean environment; the
# configuration is found through SLURM_CONF, at the same path inside as outside), or here.
slurm() {
  if [ "$MODE" = chroot ]; then
    chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      SLURM_CONF="$SLURM_CONF" "$@"
  else
    env SLURM_CONF="$SLURM_CONF" "$@"
  fi
}
