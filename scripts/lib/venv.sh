# shellcheck shell=bash
# ensure_venv [EXTRAS]: create or reuse <repo>/.venv (Python >= 3.11 as python3) with the package
# installed editable, with the optional extras named (e.g. "test"). Sourced by scripts/demo and
# scripts/test. Reuse is decided by a marker holding a hash of pyproject.toml and the extras, so
# a second run installs nothing and takes well under a second.

KPN_REPO=${KPN_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
KPN_VENV=${KPN_VENV:-$KPN_REPO/.venv}

_pick_python() {
  local py
  for py in "${PYTHON:-}" python3 python3.11 python3.12 python3.13; do
    if [ -z "$py" ] || ! command -v "$py" >/dev/null 2>&1; then continue; fi
    if "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "no Python >= 3.11 found (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

_stamp() { { echo "$1"; cat "$KPN_REPO/pyproject.toml"; } | sha256sum | cut -c1-32; }

ensure_venv() {
  local extras=${1:-} spec want marker py other extras_of
  spec=$KPN_REPO${extras:+[$extras]}
  marker=$KPN_VENV/.kpn-sms-stamp${extras:+-$extras}
  want=$(_stamp "$extras")
  if [ -x "$KPN_VENV/bin/python" ] && [ "$(cat "$marker" 2>/dev/null)" = "$want" ] \
      && "$KPN_VENV/bin/python" -c '' 2>/dev/null; then
    return 0
  fi
  if ! "$KPN_VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    py=$(_pick_python) || return 1
    echo "creating $KPN_VENV with $("$py" --version)" >&2
    rm -rf "$KPN_VENV"
    "$py" -m venv "$KPN_VENV"
  fi
  echo "pip install -e .${extras:+[$extras]} into $KPN_VENV" >&2
  # The host's find-links folder may not exist; pip then warns once per package: drop that noise.
  PIP_DISABLE_PIP_VERSION_CHECK=1 "$KPN_VENV/bin/pip" install -q -e "$spec" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2) || return 1
  # Installs only add: the markers of other extras stay valid unless pyproject.toml changed
  # (scripts/test installs "lint", then "test,bench"). Stale ones go.
  for other in "$KPN_VENV"/.kpn-sms-stamp*; do
    [ -e "$other" ] || continue
    extras_of=${other#"$KPN_VENV"/.kpn-sms-stamp}
    [ "$(cat "$other")" = "$(_stamp "${extras_of#-}")" ] || rm -f "$other"
  done
  echo "$want" > "$marker"
  # The test extra includes the base install: a later `scripts/demo` needs nothing more.
  [ -z "$extras" ] || _stamp "" > "$KPN_VENV/.kpn-sms-stamp"
}
