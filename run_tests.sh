#!/usr/bin/env bash
# Run the test suite: unit and fixture tests, then every notebook under nbval (smoke profile).
#
#   ./run_tests.sh            # the default suite (what CI runs)
#   ./run_tests.sh --slow     # also the slow checks (the full embedded reproduce)
#   ./run_tests.sh -k hear    # extra arguments go to pytest
#
# Sets up .venv first (scripts/bootstrap.sh), so it works on a fresh clone by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
marker=(-m "not slow")
if [[ "${1:-}" == "--slow" ]]; then marker=(-m "slow or not slow"); shift; fi
scripts/bootstrap.sh
exec .venv/bin/python -m pytest tests notebooks --nbval-lax "${marker[@]}" "$@"
