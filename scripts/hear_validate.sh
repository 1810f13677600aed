#!/usr/bin/env bash
# Check w2clib.hear with the real HEAR 2021 checker, `hear-validator` (PyPI `hearvalidator`).
#
#   scripts/hear_validate.sh                      # random-weights checkpoint (width 16), CPU
#   scripts/hear_validate.sh --width 64           # the paper architecture (slower)
#   scripts/hear_validate.sh --model PATH         # any checkpoint w2clib can load
#   scripts/hear_validate.sh --setup-only         # just build .venv-hear
#   scripts/hear_validate.sh --log FILE           # also keep the checker's full output in FILE
#
# hearvalidator imports TensorFlow at module level, which the main environment does not need, so
# the checker gets its own environment, .venv-hear (git-ignored).  It is layered over .venv: a .pth
# file adds .venv's site-packages (torch, torchaudio, w2clib's dependencies) *after* its own, so
# only TensorFlow and the checker are installed, and .venv itself is never modified.  Setup is
# idempotent (a stamp records what was installed) and serialised by a lock, so concurrent callers
# (a test and a person) do not race.
#
# Exit status: 0 when the checker says "Looks good!"; 3 when TensorFlow/hearvalidator cannot be
# installed (the test suite skips on that, naming the reason); anything else is a failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
main_venv="${W2C_VENV:-$root/.venv}"
hear_venv="${W2C_HEAR_VENV:-$root/.venv-hear}"
# tensorflow-cpu, not tensorflow: the same `tensorflow` module without the CUDA wheels.  The checker
# is installed with --no-deps because it names `tensorflow`, which tensorflow-cpu does not satisfy.
tf_spec="${W2C_HEAR_TF:-tensorflow-cpu>=2.16,<3}"
validator_spec="hearvalidator==2021.0.2"

model="" width=16 device=cpu setup_only=0 log=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --model) model="$2"; shift 2 ;;
    --width) width="$2"; shift 2 ;;
    --device) device="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --setup-only) setup_only=1; shift ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "hear_validate: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [[ ! -x "$main_venv/bin/python" ]]; then
  echo "hear_validate: $main_venv/bin/python not found; run scripts/bootstrap.sh first" >&2
  exit 2
fi

setup() {
  local want main_site
  main_site="$("$main_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  want="$tf_spec $validator_spec layer=$main_site"
  if [[ -f "$hear_venv/.hear-stamp" && "$(cat "$hear_venv/.hear-stamp")" == "$want" ]]; then
    return 0
  fi
  echo "hear_validate: setting up $hear_venv ($tf_spec, $validator_spec) ..." >&2
  local start=$SECONDS
  # `python -m venv` run by a venv's interpreter builds on the same base interpreter.
  [[ -x "$hear_venv/bin/python" ]] || "$main_venv/bin/python" -m venv "$hear_venv"
  local own_site
  own_site="$("$hear_venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  # addsitedir (not a bare path line) so .venv's own .pth files run too: w2clib's editable install.
  printf 'import site; site.addsitedir(%s)\n' "'$main_site'" > "$own_site/_w2clib_main_venv.pth"
  local pip=("$hear_venv/bin/python" -m pip --disable-pip-version-check -q)
  # pip sees the layered packages as installed (numpy, torch, ...) and adds only what is missing
  # or too old; it never uninstalls outside .venv-hear, so .venv stays untouched.
  if ! "${pip[@]}" install "$tf_spec" || ! "${pip[@]}" install --no-deps "$validator_spec"; then
    echo "hear_validate: could not install $tf_spec and $validator_spec into $hear_venv" >&2
    return 3
  fi
  echo "$want" > "$hear_venv/.hear-stamp.tmp" && mv "$hear_venv/.hear-stamp.tmp" "$hear_venv/.hear-stamp"
  echo "hear_validate: $hear_venv ready in $((SECONDS - start)) s ($(du -sh "$hear_venv" | cut -f1))" >&2
}

mkdir -p "$(dirname "$hear_venv")"
status=0
{
  # flock is util-linux (Linux); elsewhere run unlocked.
  if command -v flock >/dev/null; then flock 9; fi
  setup || status=$?
} 9>"$hear_venv.lock"
[[ $status -eq 0 ]] || exit "$status"
[[ $setup_only -eq 1 ]] && exit 0

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [[ -z "$model" ]]; then
  model="$tmp/checkpoint"
  "$main_venv/bin/python" - "$model" "$width" <<'EOF'
import sys
from w2clib.checkpoints import save_checkpoint
from w2clib.model import ModelConfig, build_model

save_checkpoint(build_model(ModelConfig(width=int(sys.argv[2])), seed=0), sys.argv[1],
                extra={"note": "random weights for hear-validator"})
EOF
fi

# PYTHONPATH: validate this checkout's w2clib, whatever is installed.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
out="$tmp/validator.log"
set +e
"$hear_venv/bin/hear-validator" w2clib.hear --model "$model" --device "$device" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
[[ -n "$log" ]] && cp "$out" "$log"
if [[ $rc -ne 0 ]] || ! grep -q '^Looks good!$' "$out"; then
  echo "hear_validate: hear-validator FAILED (exit $rc) on w2clib.hear with $model" >&2
  exit 1
fi
echo "hear_validate: hear-validator passed on w2clib.hear with $model" >&2
