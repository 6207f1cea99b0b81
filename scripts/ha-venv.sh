#!/usr/bin/env bash
# Create (or reuse) the Home Assistant test venv: Python 3.13.0, homeassistant 2025.4.4,
# its pytest harness and frontend, plus this package (editable).
#
#   scripts/ha-venv.sh            # creates/reuses <repo>/.venv-ha, prints its path
#   VENV=/tmp/x scripts/ha-venv.sh
#
# Idempotent: a marker inside the venv records a hash of the pins, the constraints file and
# pyproject.toml; when it matches, nothing is installed again (takes well under a second).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv-ha}"
CONSTRAINTS="$REPO/tests/homeassistant/constraints-2025.4.4.txt"
PINS=(homeassistant==2025.4.4 pytest-homeassistant-custom-component==0.13.236
      home-assistant-frontend==20250411.0)
MARKER="$VENV/.kpn-ha-venv"

want="$( { printf '%s\n' "${PINS[@]}"; cat "$CONSTRAINTS" "$REPO/pyproject.toml"; } | sha256sum | cut -d' ' -f1)"
if [ -x "$VENV/bin/python" ] && [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$want" ]; then
    echo "$VENV"
    exit 0
fi

# python3.13 is a pyenv shim that only answers when pyenv is told to expose it.
py313="python3.13"
if command -v pyenv >/dev/null 2>&1 && [ -x "$(pyenv root)/versions/3.13.0/bin/python3.13" ]; then
    py313="$(pyenv root)/versions/3.13.0/bin/python3.13"
fi
[ -x "$VENV/bin/python" ] || PYENV_VERSION=3.13.0 "$py313" -m venv "$VENV"

export PIP_DISABLE_PIP_VERSION_CHECK=1
# pip warns once per package about find-links dirs this machine does not have: drop that noise.
pip_quiet() { "$VENV/bin/pip" "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
pip_quiet install -q -c "$CONSTRAINTS" "${PINS[@]}" >&2
# The package itself (its requirement is what manifest.json lists; phcc sets skip_pip).
pip_quiet install -q -c "$CONSTRAINTS" -e "$REPO" >&2
pip_quiet check >&2
echo "$want" > "$MARKER"
echo "$VENV"
