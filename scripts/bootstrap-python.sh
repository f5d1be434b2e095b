#!/usr/bin/env bash
# Make sure the given Python can create virtual environments (Debian splits venv out).
set -euo pipefail
py=${1:-python3}
if ! command -v "$py" >/dev/null 2>&1; then
    echo "[bootstrap-python] $py not found: install Python 3.11 or newer" >&2; exit 1
fi
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "[bootstrap-python] $py is older than 3.11" >&2; exit 1; }
if ! "$py" -m venv --help >/dev/null 2>&1 || ! "$py" -c 'import ensurepip' >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    ver=$("$py" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "python$ver-venv" >/dev/null || $SUDO apt-get install -y -qq python3-venv >/dev/null
fi
