#!/usr/bin/env bash
# Run the test suite: unit and fixture tests, then every notebook under nbval (smoke profile).
#
#   ./run_tests.sh              # the default suite: unit tests + the twelve smoke notebooks
#   ./run_tests.sh --rehearsal  # only the paper path end to end (reproduce.sh --profile rehearsal, ~10 min)
#   ./run_tests.sh --ci         # what CI runs: the default suite and the rehearsal
#   ./run_tests.sh --slow       # everything: also the slow checks (real-package data preparation, ViT-B-32
#                               #   weights layout, the real HEAR validator, both README commands in order)
#   ./run_tests.sh -k hear      # extra arguments go to pytest
# Without extra arguments the notebooks (one process, in order: each reads what the one before wrote)
# run beside tests/ (W2C_TEST_WORKERS pytest-xdist workers, default 2; 0: in one process); their log is
# printed when both are done.  With extra arguments, one pytest process runs tests/ and notebooks/ in order.
# The full embedded check is ./reproduce.sh itself: every notebook asserts what it must show.
#
# Sets up .venv first (scripts/bootstrap.sh), so it works on a fresh clone by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
marker=(-m "not slow and not rehearsal")
notebooks=1
case "${1:-}" in
  --rehearsal) marker=(-m "rehearsal"); notebooks=0; shift ;;
  --ci) marker=(-m "not slow"); shift ;;
  --slow)
    marker=(-m "slow or not slow"); shift
    export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-slow}" W2C_FAULT_POINTS="${W2C_FAULT_POINTS:-10}" ;;
esac
scripts/bootstrap.sh
# One math thread per process: the tests' models are tiny, and on a busy 2-core machine two spinning
# threads per process made a 30-step training test 3-7x slower (measured 39-101 s vs 14 s, interleaved).
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}" OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}"
# Threads that a test does start (a two-thread training test) wait by sleeping, as in reproduce.sh.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
pytest=("${W2C_VENV:-.venv}/bin/python" -m pytest)
# --durations: every run (and CI's log) says where the time went
if [[ $# -gt 0 ]]; then
  exec "${pytest[@]}" tests notebooks --nbval-lax --durations=25 "${marker[@]}" "$@"
fi
workers="${W2C_TEST_WORKERS:-2}"
parallel=()
if [[ "$workers" != "0" ]]; then parallel=(-n "$workers" --dist loadfile); fi
started=$SECONDS
nb_pid="" nb_log="$(mktemp -t w2c-notebooks.XXXXXX.log)"
trap '[[ -n "$nb_pid" ]] && kill "$nb_pid" 2>/dev/null; rm -f "$nb_log"' EXIT
if ((notebooks)); then
  "${pytest[@]}" notebooks --nbval-lax --durations=10 "${marker[@]}" >"$nb_log" 2>&1 &
  nb_pid=$!
  echo "run_tests: the smoke notebooks run beside tests/ (pid $nb_pid); their log follows the tests'"
fi
set +e
"${pytest[@]}" tests --durations=25 "${parallel[@]}" "${marker[@]}"
tests_rc=$?
nb_rc=0
if ((notebooks)); then
  wait "$nb_pid"; nb_rc=$?; nb_pid=""
  echo; echo "================================ notebooks (nbval) ================================"
  cat "$nb_log"
fi
set -e
echo "run_tests: tests/ exit $tests_rc, notebooks exit $nb_rc, $((SECONDS - started)) s"
exit $(( tests_rc != 0 ? tests_rc : nb_rc ))
