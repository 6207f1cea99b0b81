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

ensure_chromium() {
  # The browser lane drives Debian's Chromium through Playwright (its own browser download is
  # not reachable from here). Installed once, as root; idempotent.
  [ ! -x /usr/bin/chromium ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "chromium is missing and this is not root: install it (apt-get install chromium)" >&2
    return 1
  fi
  echo "installing chromium (apt-get)" >&2
  local log rc=0
  log=$(mktemp)
  { DEBIAN_FRONTEND=noninteractive apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
  } > "$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then tail -n 20 "$log" >&2; echo "apt-get failed ($rc)" >&2; fi
  rm -f "$log"
  return "$rc"
}

# Playwright for the browser lane, into .venv-ha under HA's constraints (greenlet is pinned
# there). Never `playwright install`: the lane uses /usr/bin/chromium.
PLAYWRIGHT_PIN=playwright==1.65.2

ensure_playwright() {
  local marker=.venv-ha/.kpn-ui-pins
  bash scripts/ha-venv.sh >/dev/null || return 1
  [ "$(cat "$marker" 2>/dev/null)" != "$PLAYWRIGHT_PIN" ] || return 0
  echo "pip install $PLAYWRIGHT_PIN into .venv-ha" >&2
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv-ha/bin/pip install -q \
    -c tests/homeassistant/constraints-2025.4.4.txt "$PLAYWRIGHT_PIN" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) || return 1
  .venv-ha/bin/pip check >&2 || return 1
  echo "$PLAYWRIGHT_PIN" > "$marker"
}

# The pins of the `lint` extra in pyproject.toml whose names start with one of the prefixes given:
# written there once, and read again here for .venv-ha.
lint_pins() {
  "$KPN_VENV/bin/python" - "$@" <<'PY'
import sys
import tomllib

with open("pyproject.toml", "rb") as f:
    pins = tomllib.load(f)["project"]["optional-dependencies"]["lint"]
print("\n".join(p for p in pins if p.startswith(tuple(sys.argv[1:]))))
PY
}

ensure_ha_mypy() {
  # .venv-ha (scripts/ha-venv.sh) plus the lint extra's mypy and stubs, under HA's constraints.
  # Reused while a marker holds the same pins.
  local pins marker=.venv-ha/.kpn-lint-pins
  pins=$(lint_pins mypy types-) || return 1
  bash scripts/ha-venv.sh >/dev/null || return 1
  [ "$(cat "$marker" 2>/dev/null)" != "$pins" ] || return 0
  echo "pip install ${pins//$'\n'/ } into .venv-ha" >&2
  # shellcheck disable=SC2086  # one pin a word
  PIP_DISABLE_PIP_VERSION_CHECK=1 .venv-ha/bin/pip install -q \
    -c tests/homeassistant/constraints-2025.4.4.txt $pins \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) || return 1
  echo "$pins" > "$marker"
}

lint_check() {  # lint_check NAME COMMAND...: run one check, tally it
  local name=$1 rc
  shift
  echo "--- lint: $name: $*"
  "$@"; rc=$?
  if [ "$rc" = 0 ]; then LINT_PASSED+=("$name"); else LINT_FAILED+=("$name (exit $rc)"); fi
}

lane_lint() {
  # ruff (lint and format) over everything; mypy --strict over the package in .venv, and over the
  # Home Assistant integration in .venv-ha, where homeassistant (which ships its types) is
  # installed; the documentation site built strictly (broken links, anchors, pages outside the
  # nav). Extra pytest arguments do not apply. The closing line reads like pytest's, so
  # the summary counts each check as a test.
  local start=$SECONDS ha_files site
  LINT_PASSED=() LINT_FAILED=()
  ensure_venv lint,docs || return 1
  lint_check "ruff check" "$KPN_VENV/bin/ruff" check .
  lint_check "ruff format" "$KPN_VENV/bin/ruff" format --check --diff .
  lint_check "mypy" "$KPN_VENV/bin/mypy"
  # Into a temporary directory: the built site is never written into the tree. Not -q: mkdocs
  # then drops the warnings that --strict counts. NO_MKDOCS_2_WARNING: material's banner.
  site=$(mktemp -d)
  NO_MKDOCS_2_WARNING=1 lint_check "mkdocs build --strict" \
    "$KPN_VENV/bin/mkdocs" build --strict --site-dir "$site"
  rm -rf "$site"
  # HA's code needs Python 3.13. Its files are named one by one: pyproject's exclude (there for
  # the core venv) applies to a directory given, not to files. The core modules they import are
  # checked again, on 3.13.
  if ensure_ha_mypy; then
    mapfile -t ha_files < <(find kpn_sms_notify/homeassistant -name '*.py' | sort)
    lint_check "mypy homeassistant" .venv-ha/bin/mypy --python-version 3.13 "${ha_files[@]}"
  else
    LINT_FAILED+=("mypy homeassistant (setting up .venv-ha failed)")
  fi
  [ ${#LINT_FAILED[@]} = 0 ] || printf 'FAILED lint: %s\n' "${LINT_FAILED[@]}"
  echo "lint: ${#LINT_PASSED[@]} passed, ${#LINT_FAILED[@]} failed in $((SECONDS - start))s"
  [ ${#LINT_FAILED[@]} = 0 ]
}

lane_core() {
  ensure_venv test,bench || return 1  # bench: its smoke test runs in this lane
  ensure_alertmanager
  # No silent skips: the Alertmanager e2e and the bench smoke test fail, not skip, when what
  # they need is missing here (a plain pytest run elsewhere skips them, saying why).
  export KPN_REQUIRE_ALERTMANAGER=1 KPN_REQUIRE_BENCH=1
  # -p no:homeassistant: harmless here, and keeps HA's harness (sockets blocked, thread checks)
  # away should it ever be installed in this venv.
  "$KPN_VENV/bin/python" -m pytest tests --ignore=tests/homeassistant --ignore=tests/browser \
    -p no:cacheprovider -p no:homeassistant "${PYTEST_COMMON[@]}" "$@"
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

lane_browser() {
  # Home Assistant's web UI in Debian's Chromium (Playwright), against a real hass (2025.4.4,
  # .venv-ha) and the emulator. Artifacts (screenshots; on failure FAIL-<step>.png, trace.zip,
  # hass.log) in .browser-artifacts/. -p no:homeassistant: hass runs as a subprocess, so HA's
  # harness (sockets blocked, thread checks) has no business in this pytest.
  [ -d tests/browser ] || { echo "no tests/browser"; return 5; }
  ensure_chromium || return 1
  ensure_playwright || return 1
  export KPN_REQUIRE_BROWSER=1
  .venv-ha/bin/python -m pytest tests/browser -p no:cacheprovider -p no:homeassistant \
    "${PYTEST_COMMON[@]}" "$@"
}
