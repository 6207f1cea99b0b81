#!/usr/bin/env bash
# Run the Home Assistant test suite on *current* Home Assistant (2026.x, Python 3.14) inside a
# Debian minbase chroot: the machine's own Pythons stop at HA 2025.4.4 (issue 8).
#
#   scripts/ha-chroot.sh [pytest args...]        default args: tests/homeassistant
#
# Environment (all optional):
#   HA_CHROOT_SUITE=sid|trixie   sid (default): Python 3.14, HA 2026.10.4, harness 0.13.375.
#                                trixie: fallback if sid moves and breaks (Python 3.13.5,
#                                HA 2026.2.3, harness 0.13.316).
#   HA_CHROOT_DIR=PATH           where the chroot lives (default /var/cache/kpn-sms-notify/ha-SUITE);
#                                outside the git tree, 1.7 GB.
#   HA_CHROOT_MIRROR=URL         Debian mirror for debootstrap (default: the main Debian archive
#                                this machine's apt uses, from /etc/apt's sources; see
#                                scripts/lib/apt_mirror.sh).
#   HA_CHROOT_HA / HA_CHROOT_PHCC  override the HA / pytest-homeassistant-custom-component pins.
#   HA_CHROOT_REBUILD=1          throw the chroot away and build it again.
#
# The chroot is built when missing (about 3.5 min) and reused otherwise (about 1 s). Every
# mount is undone on exit, whatever pytest's outcome; pytest's exit code is passed through.
# Needs root (debootstrap, chroot, mount).
set -euo pipefail

SUITE=${HA_CHROOT_SUITE:-sid}
case "$SUITE" in
  sid)    DEF_HA=2026.10.4 DEF_PHCC=0.13.375 ;;
  trixie) DEF_HA=2026.2.3  DEF_PHCC=0.13.316 ;;
  *) echo "ha-chroot: HA_CHROOT_SUITE must be sid or trixie, not '$SUITE'" >&2; exit 2 ;;
esac
HA=${HA_CHROOT_HA:-$DEF_HA}
PHCC=${HA_CHROOT_PHCC:-$DEF_PHCC}
ROOT=${HA_CHROOT_DIR:-/var/cache/kpn-sms-notify/ha-$SUITE}
ROOT=$(realpath -m "$ROOT")   # canonical: compared with /proc/PID/root and findmnt's output
MIRROR=${HA_CHROOT_MIRROR:-}   # resolved when the base system is built (build_base)
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The tree bind-mounted at /src (HA_CHROOT_PROJECT: another test project, for developing this).
PROJECT=$(cd "${HA_CHROOT_PROJECT:-$SCRIPTS/..}" && pwd)
VENV=/opt/venv
# HA's own pins, applied to everything installed beside it (as HA does for integrations).
HA_CONSTRAINTS=/opt/ha-constraints.txt
# Bump when a build step changes, so that existing chroots are brought up to date.
RECIPE_BASE=2 RECIPE_VENV=4
# Compilers: trixie's pinned lru-dict and the boot-time requirements of a real `hass`
# (pymicro-vad, pyspeex-noise) build from source. debootstrap installs all of these itself.
APT_PKGS="python3,python3-venv,python3-dev,build-essential,ca-certificates"
# Test tools the repository's pytest configuration uses besides the HA harness.
EXTRA_PKGS=${HA_CHROOT_EXTRA_PKGS:-pytest-timeout}
# setuptools in the venv: the project's editable install then needs no isolated build env.
BUILD_PKGS="setuptools>=68"

# shellcheck source=scripts/lib/apt_mirror.sh
. "$SCRIPTS/lib/apt_mirror.sh"

log() { printf 'ha-chroot: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount)"
case "$ROOT/" in "$PROJECT"/*) die "HA_CHROOT_DIR must be outside the repository ($PROJECT)" ;; esac
case "$ROOT" in /|/var|/var/cache|/tmp|/root|"") die "refusing HA_CHROOT_DIR='$ROOT'" ;; esac

# Commands inside the chroot get a clean environment: the host's PIP_FIND_LINKS, pip.conf
# constraints etc. point at paths that do not exist there.
CENV=(/usr/bin/env -i PATH="$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
      HOME=/root LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
      PIP_DEFAULT_TIMEOUT=120 DEBIAN_FRONTEND=noninteractive
      CI="${CI:-}")   # tests that must not skip in CI read it
# 9>&-: the run's lock (fd 9) must not be inherited by anything that might outlive the run.
in_root() { chroot "$ROOT" "${CENV[@]}" "$@" 9>&-; }

# ---- mounts: every one is recorded and undone by the EXIT trap --------------------------------
MOUNTED=()
mounts_under_root() {
  local t
  findmnt -rn -o TARGET | while read -r t; do
    case "$t" in "$ROOT"|"$ROOT"/*) echo "$t" ;; esac
  done
}

mount_bind() {  # mount_bind SRC DEST [ro]
  mkdir -p "$2"
  mount --bind "$1" "$2"
  MOUNTED+=("$2")
  mount --make-private "$2" 2>/dev/null || true
  [ "${3:-}" != ro ] || mount -o remount,bind,ro "$2"
}

mount_all() {
  mkdir -p "$ROOT/proc"
  mount -t proc proc "$ROOT/proc"; MOUNTED+=("$ROOT/proc")
  mount_bind /dev "$ROOT/dev"
  mount_bind /dev/pts "$ROOT/dev/pts"
  mount_bind "$PROJECT" "$ROOT/src"
  mount_bind "$SCRIPTS" "$ROOT/opt/kpn-scripts" ro
}

# shellcheck disable=SC2317  # called from the EXIT trap
kill_chroot_procs() {
  # A test that leaves a `hass` child running would keep /src busy: end the processes whose
  # root is this chroot (all of them started by this script), by pid.
  local pids p i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    pids=()
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/root" 2>/dev/null)" = "$ROOT" ] && pids+=("${p#/proc/}")
    done
    [ ${#pids[@]} -gt 0 ] || return 0
    if [ "$i" = 1 ]; then log "ending leftover processes in the chroot: ${pids[*]}"; fi
    if [ "$i" -lt 8 ]; then kill -TERM "${pids[@]}" 2>/dev/null || true
    else kill -KILL "${pids[@]}" 2>/dev/null || true; fi
    sleep 0.5
  done
}

# shellcheck disable=SC2317
cleanup() {
  local rc=$? i m left
  trap - EXIT INT TERM
  kill_chroot_procs
  for ((i=${#MOUNTED[@]}-1; i>=0; i--)); do
    m=${MOUNTED[$i]}
    umount "$m" 2>/dev/null || { sleep 1; umount "$m" 2>/dev/null; } || umount -l "$m" \
      || log "could not unmount $m"
  done
  MOUNTED=()
  left=$(mounts_under_root)
  if [ -n "$left" ]; then log "still mounted under $ROOT: $left"; [ "$rc" != 0 ] || rc=1; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- one run at a time per chroot; clear mounts a killed earlier run left behind --------------
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -w 1800 9 || die "another run holds $ROOT.lock"
for m in $(mounts_under_root | sort -r); do
  log "unmounting stale $m"; umount "$m" 2>/dev/null || umount -l "$m"
done
[ -z "$(mounts_under_root)" ] || die "stale mounts under $ROOT could not be removed"

STAMP=$ROOT/.kpn-sms-notify   # made before debootstrap runs: marks the directory as ours

remove_root() {
  [ -z "$(mounts_under_root)" ] || die "mounts under $ROOT; not removing it"
  # Only a chroot this script made (or an empty directory) is ever deleted.
  if [ -d "$ROOT" ] && [ ! -d "$STAMP" ] && [ -n "$(ls -A "$ROOT")" ]; then
    die "$ROOT is not a chroot made by this script; set HA_CHROOT_DIR to another directory"
  fi
  rm -rf --one-file-system "$ROOT"
}

BASE_OK=$STAMP/base-$SUITE-r$RECIPE_BASE
VENV_OK=$STAMP/venv-$HA-$PHCC-r$RECIPE_VENV

[ "${HA_CHROOT_REBUILD:-0}" = 0 ] || { log "HA_CHROOT_REBUILD set: removing $ROOT"; remove_root; }

sync_host_files() {
  # Name resolution and the egress proxy's CA (pip fails TLS verification without it).
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  local crt changed=0
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -e "$crt" ] || continue
    cmp -s "$crt" "$ROOT/usr/local/share/ca-certificates/${crt##*/}" && continue
    cp "$crt" "$ROOT/usr/local/share/ca-certificates/"; changed=1
  done
  [ "$changed" = 0 ] || in_root update-ca-certificates >/dev/null
}

build_base() {
  local t0=$SECONDS
  if [ -d "$ROOT" ] && [ ! -e "$BASE_OK" ]; then
    log "incomplete chroot at $ROOT (no $BASE_OK): starting over"; remove_root
  fi
  command -v debootstrap >/dev/null || {
    log "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
  }
  local from=HA_CHROOT_MIRROR
  if [ -z "$MIRROR" ]; then
    from="this machine's apt sources"
    MIRROR=$(apt_mirror) || die "no Debian archive found in this machine's apt sources \
(/etc/apt/sources.list, /etc/apt/sources.list.d/*.list|*.sources): set HA_CHROOT_MIRROR=URL"
  fi
  log "debootstrap --variant=minbase $SUITE -> $ROOT (mirror: $from)"
  local tries=0
  mkdir -p "$STAMP"
  until debootstrap --variant=minbase --include="$APT_PKGS" \
      "$SUITE" "$ROOT" "$MIRROR" > "$ROOT.debootstrap.log" 2>&1; do
    tries=$((tries + 1))
    tail -n 20 "$ROOT.debootstrap.log" >&2
    [ "$tries" -lt 2 ] || die "debootstrap failed twice (log: $ROOT.debootstrap.log)"
    log "debootstrap failed; retrying once from scratch"; remove_root; mkdir -p "$STAMP"
  done
  # sid's Release file is often past Valid-Until on the mirror; debootstrap does not check it.
  echo 'Acquire::Check-Valid-Until "false";' > "$ROOT/etc/apt/apt.conf.d/99no-check-valid-until"
  in_root apt-get clean
  sync_host_files
  touch "$BASE_OK"
  log "base system ready in $((SECONDS - t0)) s ($(in_root python3 --version))"
}

build_venv() {
  local t0=$SECONDS
  rm -rf --one-file-system "$ROOT$VENV" "$ROOT$HA_CONSTRAINTS" "$STAMP"/venv-* "$STAMP"/project-*
  in_root python3 -m venv "$VENV"
  # --no-compile: byte-compiling HA's 15,000 modules at install took about 40% of the install
  # time; Python caches only the few hundred a test run imports, on first use.
  log "pip install homeassistant==$HA pytest-homeassistant-custom-component==$PHCC"
  in_root pip install -q --no-compile "homeassistant==$HA" "pytest-homeassistant-custom-component==$PHCC" \
    || die "pip install of HA $HA / harness $PHCC failed (if sid moved: HA_CHROOT_SUITE=trixie)"
  in_root python /opt/kpn-scripts/ha_boot_requirements.py --constraints > "$ROOT$HA_CONSTRAINTS"
  # A real `hass` process (the end-to-end test) needs the frontend HA pins and the requirements
  # of the integrations HA always loads; HA's own constraints keep its pins intact.
  local reqs
  reqs=$(in_root python /opt/kpn-scripts/ha_boot_requirements.py) || die "reading HA's manifests failed"
  log "pip install the frontend, boot-time requirements and $EXTRA_PKGS: ${reqs//$'\n'/ }"
  # shellcheck disable=SC2086
  in_root pip install -q --no-compile -c "$HA_CONSTRAINTS" $reqs $EXTRA_PKGS "$BUILD_PKGS" \
    || die "pip install failed"
  touch "$VENV_OK"
  log "venv ready in $((SECONDS - t0)) s"
}

install_project() {
  # Editable, so the bind-mounted work tree is what runs; reinstalled when its metadata changes.
  local key
  [ -e "$PROJECT/pyproject.toml" ] || return 0
  key=$(cat "$PROJECT/pyproject.toml" "$PROJECT/manifest.json" 2>/dev/null | sha256sum | cut -c1-16)
  [ ! -e "$STAMP/project-$key" ] || return 0
  log "pip install -e /src (the project, under HA's constraints)"
  rm -f "$STAMP"/project-*
  sync_host_files
  in_root pip install -q --no-build-isolation -c "$HA_CONSTRAINTS" -e /src \
    || die "pip install -e /src failed"
  touch "$STAMP/project-$key"
}

T0=$SECONDS
[ -e "$BASE_OK" ] || build_base
[ ${#MOUNTED[@]} -gt 0 ] || mount_all
if [ ! -e "$VENV_OK" ]; then sync_host_files; build_venv; fi
install_project
log "chroot ready in $((SECONDS - T0)) s: $ROOT ($(in_root python --version), HA $HA, harness $PHCC)"

[ $# -gt 0 ] || set -- tests/homeassistant
# In the background plus `wait`, so that a TERM or INT to this script is acted on at once
# (bash runs traps only between foreground commands): the EXIT trap then ends pytest and unmounts.
in_root sh -c 'cd /src && exec python -m pytest -p no:cacheprovider "$@"' pytest "$@" <&0 &
set +e
wait $!
rc=$?
set -e
exit "$rc"
