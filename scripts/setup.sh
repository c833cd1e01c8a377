#!/usr/bin/env bash
# Idempotent set-up: the Python virtualenv (torch 2.11.0 = libtorch for tch, plus the
# reference implementations) and the real checkpoints, both kept in a cache outside the
# clone and linked in, so a second run or a fresh clone on the same machine reinstalls
# and reconverts nothing.
#
#   PAINTERS_CACHE   cache root (default: ${XDG_CACHE_HOME:-~/.cache}/painters)
#   PYTHON           interpreter that creates the virtualenv (default: python3)
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
CACHE="${PAINTERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/painters}"
PYTHON="${PYTHON:-python3}"

# What the machine needs before anything else (README, "What a machine needs").
need() { echo "setup: $*" >&2; exit 1; }
command -v cargo > /dev/null || need "no cargo: install Rust >= 1.85 (edition 2024) with rustup"
rust=$(rustc --version | sed -n 's/^rustc \([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
read -r major minor <<< "${rust:-0 0}"
[ "$major" -gt 1 ] || [ "$minor" -ge 85 ] || need "$(rustc --version) is too old: edition 2024 needs Rust >= 1.85 (rustup update)"
command -v "$PYTHON" > /dev/null || need "no $PYTHON: install Python 3.10-3.13 with its venv module (or set PYTHON)"
"$PYTHON" -c 'import sys; sys.exit(not (3, 10) <= sys.version_info[:2] <= (3, 13))' ||
  need "$("$PYTHON" --version 2>&1) is not supported: torch $TORCH_VERSION needs Python 3.10-3.13 (set PYTHON)"
"$PYTHON" -c 'import venv, ensurepip' 2> /dev/null || need "$PYTHON has no venv/ensurepip module (Debian: apt install python3-venv)"
PYVER=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV="$CACHE/venv-torch$TORCH_VERSION-py$PYVER"
mkdir -p "$CACHE"
if [ ! -f "$VENV/.painters-requirements" ]; then
  free_gb=$(df -Pk "$CACHE" | awk 'NR == 2 { print int($4 / 1048576) }')
  [ "$free_gb" -ge 10 ] || need "$CACHE has ${free_gb} GB free; the first set-up needs about 10 GB (or set PAINTERS_CACHE)"
fi

# One set-up at a time per cache (CI and a session may share a machine).
exec 9>"$CACHE/.setup.lock"
flock 9

stamp() { cat "$@" | sha256sum | cut -c1-16; }

req=$(stamp scripts/requirements.txt)
if [ "$(cat "$VENV/.painters-requirements" 2>/dev/null)" != "$req" ]; then
    echo "setup: installing Python packages into $VENV (first time: a few minutes, ~5 GB)"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements.txt
    echo "$req" >"$VENV/.painters-requirements"
fi
ln -sfn "$VENV" .venv

# torch-sys skips its own version check when LIBTORCH points at a wheel: check here.
torch_dir="$VENV/lib/python$PYVER/site-packages/torch"
found=$(sed -n "s/^__version__ = '\([0-9.]*\).*/\1/p" "$torch_dir/version.py")
if [ "$found" != "$TORCH_VERSION" ]; then
    echo "setup: $torch_dir is torch $found, but tch 0.24 needs torch $TORCH_VERSION" >&2
    exit 1
fi
ln -sfn "$torch_dir" .libtorch

models="$CACHE/models-$(stamp scripts/fetch_models.py scripts/models.txt)"
if [ ! -f "$models/smollm2-135m/config.json" ] || [ ! -f "$models/minilm-l6/config.json" ]; then
    echo "setup: fetching and converting checkpoints into $models"
    "$VENV/bin/python" scripts/fetch_models.py "$models"
fi
ln -sfn "$models" models

# The report's browser test (crates/painters/tests/report.rs): Debian's headless Chromium
# and its driver, installed where this user can; the test says why it skips otherwise.
if ! command -v chromium > /dev/null || ! command -v chromedriver > /dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
        echo "setup: installing Debian's chromium and chromium-driver for the report's browser test"
        install_chromium() { DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver > /dev/null; }
        install_chromium || { apt-get update -q > /dev/null && install_chromium; } ||
            echo "setup: chromium could not be installed; the report's browser test will be skipped" >&2
    else
        echo "setup: no chromium and chromedriver, and no root apt-get to install them: the report's browser test will be skipped" >&2
    fi
fi
