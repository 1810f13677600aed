#!/usr/bin/env bash
# Idempotent environment setup: creates .venv with pip and installs w2clib with its test and
# notebook extras.  Skips all work when nothing that affects the environment has changed.
#
#   scripts/bootstrap.sh            # .venv with the [dev] extra (tests + notebooks)
#   W2C_PYTHON=python3.11 scripts/bootstrap.sh
#
# Uses pip on purpose: uv/poetry ignore the local wheel mirror and would download ~3 GB of CUDA torch.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${W2C_VENV:-$root/.venv}"
python="${W2C_PYTHON:-python3}"
extras="${W2C_EXTRAS:-dev}"

stamp_inputs=(pyproject.toml requirements/constraints.txt scripts/bootstrap.sh)
want="$(cat "${stamp_inputs[@]}" | sha256sum | cut -d' ' -f1) extras=$extras"
if [[ -f "$venv/.bootstrap-stamp" && "$(cat "$venv/.bootstrap-stamp")" == "$want" ]]; then
  exit 0
fi

if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  echo "bootstrap: need Python >= 3.10 (set W2C_PYTHON to its path)" >&2
  exit 1
fi
echo "bootstrap: setting up $venv (extras: $extras) ..." >&2
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q --upgrade pip setuptools wheel
"${pip[@]}" install -q -c requirements/constraints.txt -e ".[$extras]"
# tinysoundfont declares pyaudio (an audio-device binding that does not build headless); the
# project only renders offline, so install it without dependencies.
"${pip[@]}" install -q --no-deps "tinysoundfont>=0.3"
echo "$want" > "$venv/.bootstrap-stamp"
echo "bootstrap: ready ($("$venv/bin/python" -c 'import torch, torchaudio; print("torch", torch.__version__, "torchaudio", torchaudio.__version__)'))" >&2
