#!/usr/bin/env bash
# Build (once) a Debian chroot holding another Slurm release than the host's:
#   chroot.sh SUITE        SUITE: trixie (Slurm 24.11), sid (26.05), bookworm (22.05)
# The chroot is $QCB_SLURM_CHROOTS/chroot-SUITE (default /var/cache/qcb-slurm/chroot-SUITE),
# outside the checkout. It is built in chroot-SUITE.build and renamed into place only when
# complete, with a marker file written last: an interrupted build leaves no marker and is
# redone from scratch on the next call; a complete one is left alone (prints its path).
#
# Users: the chroot has no users of its own. After its packages are installed (their
# postinsts create munge, slurm, ...), every file owned by one of its system users is
# chowned to the host's account of the same name (created on the host with `useradd
# --system` if missing), and /etc/passwd, group, shadow, gshadow (and hosts) become symlinks
# into /run/host-etc, where start.sh bind-mounts the host's /etc (read-only). So both sides
# see one account database, live: an account the broker creates on the host at any time
# (`useradd --system qcb-alice`) resolves inside the chroot at once, with the same uid.
# A bind mount of the file /etc/passwd itself would not do: useradd replaces the file by
# renaming a new one over it, and the mount would go on showing the old inode.
set -euo pipefail
PATH="$PATH:/usr/sbin:/sbin"

SUITE="${1:?usage: chroot.sh SUITE (trixie, sid, bookworm)}"
CHROOTS="${QCB_SLURM_CHROOTS:-/var/cache/qcb-slurm}"
DIR="$CHROOTS/chroot-$SUITE"
MARK="$DIR/.qcb-chroot-complete"
MIRROR="${QCB_DEBIAN_MIRROR:-}"
if [ -z "$MIRROR" ]; then
  # The mirror apt already uses here (deb822 or one-line sources), else Debian's own.
  MIRROR=$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
    /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^ ]+' | head -1 || true)
  MIRROR="${MIRROR:-http://deb.debian.org/debian}"
fi

# The build recipe's version: a chroot built by an older recipe (other packages) is rebuilt.
RECIPE=2
mounted_under() { awk -v r="$1" '$5 == r || index($5, r "/") == 1 {f = 1} END {exit !f}' \
  /proc/self/mountinfo; }
current() {
  [ -f "$MARK" ] || return 1
  grep -qx "recipe $RECIPE" "$MARK" && return 0
  if mounted_under "$DIR"; then
    echo "chroot.sh: $DIR is of an older recipe, but in use: stop its cluster to rebuild it" >&2
    return 0
  fi
  return 1
}
current && { echo "$DIR"; exit 0; }
[ "$(id -u)" = 0 ] || { echo "chroot.sh: needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}
mkdir -p "$CHROOTS"
chmod 755 "$CHROOTS"
exec 9>"$CHROOTS/.lock-$SUITE"
flock 9 # one build at a time; a second caller waits, then finds the marker
current && { echo "$DIR"; exit 0; }

# Unmount whatever is mounted at or under $1 (deepest first), then make sure nothing is:
# a directory with the host's /etc or /tmp mounted in it must never be deleted.
unmount_under() {
  local root="$1" target
  for _ in 1 2 3; do
    mapfile -t targets < <(awk -v r="$root" '$5 == r || index($5, r "/") == 1 {print $5}' \
      /proc/self/mountinfo | sort -r)
    [ "${#targets[@]}" = 0 ] && return 0
    for target in "${targets[@]}"; do umount "$target" 2>/dev/null || umount -l "$target"; done
  done
  echo "chroot.sh: cannot unmount everything under $root" >&2
  return 1
}
remove_tree() {
  [ -e "$1" ] || return 0
  unmount_under "$1"
  rm -rf --one-file-system "$1"
}

B="$DIR.build"
start=$(date +%s)
for old in "$B" "$DIR"; do remove_tree "$old"; done # an interrupted build, or no marker
echo "chroot.sh: debootstrap $SUITE from $MIRROR into $B" >&2
debootstrap --variant=minbase "$SUITE" "$B" "$MIRROR" >"$CHROOTS/debootstrap-$SUITE.log" 2>&1 \
  || { echo "chroot.sh: debootstrap failed; see $CHROOTS/debootstrap-$SUITE.log" >&2; exit 1; }
trap 'unmount_under "$B" || true' EXIT
mount -t proc proc "$B/proc"
printf '#!/bin/sh\nexit 101\n' >"$B/usr/sbin/policy-rc.d"
chmod 755 "$B/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$B/etc/resolv.conf" 2>/dev/null || true

# What the host's Python (bind-mounted in by start.sh) links against, by package name in
# trixie and sid (after the 64-bit time_t renames), plus libstdc++/libgcc for binary wheels.
libs="libbz2-1.0 libexpat1 libffi8 liblzma5 libsqlite3-0 zlib1g libncursesw6 libtinfo6 libuuid1
  libnsl2 libgssapi-krb5-2 libcrypt1 libstdc++6 libgcc-s1 libgomp1 libssl3t64 libssl3
  libreadline8t64 libreadline8 libtirpc3t64 libtirpc3 libdb5.3t64 libdb5.3"
in_chroot() { chroot "$B" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
  LC_ALL=C.UTF-8 "$@"; }
want=()
for pkg in $libs; do
  in_chroot apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 && want+=("$pkg")
done
in_chroot apt-get install -y --no-install-recommends slurm-wlm slurmrestd slurmdbd \
  slurm-wlm-jwt-plugin munge curl procps "${want[@]}" >"$CHROOTS/apt-$SUITE.log" 2>&1 \
  || { echo "chroot.sh: apt-get install failed; see $CHROOTS/apt-$SUITE.log" >&2; exit 1; }
in_chroot apt-get clean

# One account database: chown the chroot's system users' files to the host's accounts of
# the same names, then point the account files at the host's /etc (mounted by start.sh).
declare -A host_uid host_gid
while IFS=: read -r name _ uid _; do host_uid[$name]=$uid; done </etc/passwd
while IFS=: read -r name _ gid _; do host_gid[$name]=$gid; done </etc/group
uid_map=() gid_map=()
while IFS=: read -r name _ uid gid _ _ _; do
  if [ "$uid" -lt 100 ] || [ "$uid" = 65534 ]; then continue; fi # Debian's fixed ids: shared
  [ -n "$(find "$B" -xdev -uid "$uid" -print -quit)" ] || continue # owns no file
  if [ -z "${host_uid[$name]:-}" ]; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$name"
    host_uid[$name]=$(id -u "$name")
    host_gid[$name]=$(getent group "$name" | cut -d: -f3)
  fi
  [ "$uid" != "${host_uid[$name]}" ] && uid_map+=("$uid:${host_uid[$name]}")
done <"$B/etc/passwd"
while IFS=: read -r name _ gid _; do
  if [ "$gid" -lt 100 ] || [ "$gid" = 65534 ]; then continue; fi
  [ -n "$(find "$B" -xdev -gid "$gid" -print -quit)" ] || continue
  if [ -z "${host_gid[$name]:-}" ]; then
    groupadd --system "$name"
    host_gid[$name]=$(getent group "$name" | cut -d: -f3)
  fi
  [ "$gid" != "${host_gid[$name]}" ] && gid_map+=("$gid:${host_gid[$name]}")
done <"$B/etc/group"
umount "$B/proc"
# Two passes through a temporary id range, so that swapping ids cannot mix files up.
for pair in "${uid_map[@]}"; do
  find "$B" -xdev -uid "${pair%%:*}" -exec chown -h "$((${pair%%:*} + 3000000))" {} +
done
for pair in "${uid_map[@]}"; do
  find "$B" -xdev -uid "$((${pair%%:*} + 3000000))" -exec chown -h "${pair##*:}" {} +
done
for pair in "${gid_map[@]}"; do
  find "$B" -xdev -gid "${pair%%:*}" -exec chgrp -h "$((${pair%%:*} + 3000000))" {} +
done
for pair in "${gid_map[@]}"; do
  find "$B" -xdev -gid "$((${pair%%:*} + 3000000))" -exec chgrp -h "${pair##*:}" {} +
done
mkdir -p "$B/run/host-etc"
for f in passwd group shadow gshadow hosts; do
  [ -e "$B/etc/$f" ] && mv "$B/etc/$f" "$B/etc/$f.chroot"
  ln -s "/run/host-etc/$f" "$B/etc/$f"
done
mv "$B" "$DIR"
trap - EXIT
{
  echo "recipe $RECIPE"
  echo "built $(date -u +%FT%TZ) in $(($(date +%s) - start)) s from $MIRROR"
  # shellcheck disable=SC2016 # dpkg-query's format
  echo "slurm $(chroot "$DIR" dpkg-query -W -f '${Version}' slurm-wlm 2>/dev/null)"
} >"$MARK"
echo "chroot.sh: $SUITE ready in $(($(date +%s) - start)) s: $DIR" >&2
echo "$DIR"
