# shellcheck shell=bash
# The test lanes of scripts/test. Each lane_NAME sets up what it needs, then runs pytest with
# the extra arguments it is given; its exit code is pytest's (or non-zero when setup failed).
# Sourced by scripts/test in a fresh bash per lane, with the repository as working directory.

# shellcheck source=scripts/lib/venv.sh
. "$(dirname "${BASH_SOURCE[0]}")/venv.sh"

# pytest dumps every thread's stack when one test runs longer than 5 minutes: a deadlock
# that pytest-timeout's signal cannot break then still explains itself in the log.
PYTEST_COMMON=(--durations=10 -o faulthandler_timeout=300)

ensure_alertmanager() {
  # The serve suite drives a real Prometheus Alertmanager (Debian's binary is
  # prometheus-alertmanager). Install it without letting the package start its service, which
  # would listen on every interface: policy-rc.d says "no" to invoke-rc.d while apt runs.
  if command -v prometheus-alertmanager >/dev/null || command -v alertmanager >/dev/null; then
    return 0
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "prometheus-alertmanager is missing and this is not root: its tests will fail" >&2
    return 0
  fi
  echo "installing prometheus-alertmanager (apt-get)" >&2
  local policy=/usr/sbin/policy-rc.d made=0 rc=0 log
  log=$(mktemp)
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; made=1
  fi
  { DEBIAN_FRONTEND=noninteractive apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       prometheus-alertmanager; } > "$log" 2>&1 || rc=$?
  [ "$made" = 0 ] || rm -f "$policy"
  # Belt and braces, should a service have started anyway.
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now prometheus-alertmanager >/dev/null 2>&1 || true
  elif command -v service >/dev/null && service prometheus-alertmanager status >/dev/null 2>&1; then
    service prometheus-alertmanager stop >/dev/null 2>&1 || true
  fi
  if [ "$rc" != 0 ]; then tail -n 20 "$log" >&2; echo "apt-get failed ($rc)" >&2; fi
  rm -f "$log"
  return 0
}

lane_core() {
  ensure_venv test,bench || return 1  # bench: its smoke test runs in this lane
  ensure_alertmanager
  # No silent skips: the Alertmanager e2e and the bench smoke test fail, not skip, when what
  # they need is missing here (a plain pytest run elsewhere skips them, saying why).
  export KPN_REQUIRE_ALERTMANAGER=1 KPN_REQUIRE_BENCH=1
  # -p no:homeassistant: harmless here, and keeps HA's harness (sockets blocked, thread checks)
  # away should it ever be installed in this venv.
  "$KPN_VENV/bin/python" -m pytest tests --ignore=tests/homeassistant -p no:cacheprovider \
    -p no:homeassistant "${PYTEST_COMMON[@]}" "$@"
}

lane_ha() {
  [ -d tests/homeassistant ] || { echo "no tests/homeassistant"; return 5; }
  bash scripts/ha-venv.sh >/dev/null || return 1
  .venv-ha/bin/python -m pytest tests/homeassistant -p no:cacheprovider "${PYTEST_COMMON[@]}" "$@"
}

lane_ha-current() {
  [ -d tests/homeassistant ] || { echo "no tests/homeassistant"; return 5; }
  # ha-chroot.sh adds -p no:cacheprovider itself.
  bash scripts/ha-chroot.sh tests/homeassistant "${PYTEST_COMMON[@]}" "$@"
}
