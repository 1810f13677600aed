#!/usr/bin/env bash
# Run the test suite: unit and fixture tests, then every notebook under nbval (smoke profile).
#
#   ./run_tests.sh            # the default suite (what CI runs)
#   ./run_tests.sh --slow     # also the slow checks (real-package data preparation, ViT-B-32 weights layout,
#                             #   the real HEAR validator, both README commands in order on a fresh copy)
#   ./run_tests.sh -k hear    # extra arguments go to pytest
# The full embedded check is ./reproduce.sh itself: every notebook asserts what it must show.
#
# Sets up .venv first (scripts/bootstrap.sh), so it works on a fresh clone by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
marker=(-m "not slow")
if [[ "${1:-}" == "--slow" ]]; then
  marker=(-m "slow or not slow"); shift
  export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-slow}" W2C_FAULT_POINTS="${W2C_FAULT_POINTS:-10}"
fi
scripts/bootstrap.sh
# One math thread per process: the tests' models are tiny, and on a busy 2-core machine two spinning
# threads per process made a 30-step training test 3-7x slower (measured 39-101 s vs 14 s, interleaved).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
# --durations: every run (and CI's log) says where the time went
exec "${W2C_VENV:-.venv}/bin/python" -m pytest tests notebooks --nbval-lax --durations=25 "${marker[@]}" "$@"
