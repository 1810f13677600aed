#!/usr/bin/env bash
# Run the paper's story: every notebooks/NN_*.ipynb in order, headless, with papermill.
#
#   ./reproduce.sh                       # the embedded default (profile "mini": offline data, CPU, minutes)
#   ./reproduce.sh --profile paper       # the real thing on a GPU machine with internet access
#   ./reproduce.sh --profile my.yaml     # any profile file (it may say "extends: paper")
#   ./reproduce.sh --set pretrain.max_steps=100   # override one key (repeatable; value read as YAML)
#   ./reproduce.sh --only 03,04          # just these notebooks (numbers or names, comma-separated)
#   ./reproduce.sh --from 04             # this notebook and every later one
#   ./reproduce.sh --force               # ignore the stamps of finished notebooks
#   ./reproduce.sh --lab [ARGS]          # open the notebooks in JupyterLab on 127.0.0.1 (ARGS go to `jupyter lab`)
#
# The resolved profile (extends and overrides applied) is written to <run_dir>/profile.yaml and every
# notebook loads exactly that file.  Executed copies go to <run_dir>/notebooks/ (git-ignored); figures
# and results to the folders the profile names.  A notebook that finishes leaves a stamp
# (<run_dir>/stamps/), keyed by the notebook's and the resolved profile's content, so a rerun resumes
# after the last success.
# Exits non-zero as soon as a notebook fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
caller="$PWD"
cd "$root"

profile=mini only="" from="" force=0 sets=()
lab=0 lab_args=()
usage() { sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; }  # the comment block above
while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) profile="${2:?--profile needs a name}"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --only) only="${2:?--only needs notebook numbers}"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --from) from="${2:?--from needs a notebook number}"; shift 2 ;;
    --from=*) from="${1#*=}"; shift ;;
    --set) sets+=(--set "${2:?--set needs section.key=value}"); shift 2 ;;
    --set=*) sets+=(--set "${1#*=}"); shift ;;
    --force) force=1; shift ;;
    --lab) lab=1; shift; lab_args=("$@"); break ;;
    -h|--help) usage; exit 0 ;;
    *) echo "reproduce.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
# a profile given as a file path is read relative to where the command was typed
if [[ "$profile" == *.y*ml && "$profile" != /* && -f "$caller/$profile" ]]; then profile="$caller/$profile"; fi
if [[ ! -f "profiles/$profile.yaml" && ! ( "$profile" == *.y*ml && -f "$profile" ) ]]; then
  echo "reproduce.sh: no profile '$profile' (profiles/$profile.yaml); available: $(ls profiles | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
  exit 2
fi

scripts/bootstrap.sh
# OpenMP threads that wait by sleeping, not spinning: on a busy 2-core machine, pre-training with two
# threads took 7.71 s per step spinning against 2.40 s passive (one thread: 2.41-2.47 s), measured
# interleaved under load (2026-11-29).  The notebook kernels inherit it; set OMP_WAIT_POLICY to override.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
venv="${W2C_VENV:-$root/.venv}"
py="$venv/bin/python"
if ((lab)); then
  # The notebooks' kernel "python3" must be this venv's interpreter (ipykernel ships that kernel
  # spec into the venv; reinstall it if it is missing).  Local only unless ARGS say otherwise.
  [[ -f "$venv/share/jupyter/kernels/python3/kernel.json" ]] || "$py" -m ipykernel install --sys-prefix --name python3
  exec "$venv/bin/jupyter" lab --ip 127.0.0.1 --ServerApp.root_dir="$root" \
    --LabApp.default_url=/lab/tree/notebooks $( ((EUID == 0)) && echo --allow-root ) "${lab_args[@]}"
fi
"$py" -m w2clib.pipeline --profile "$profile" ${only:+--only "$only"} ${from:+--from "$from"} \
  "${sets[@]}" $( ((force)) && echo --force )
# The README's tables keep showing the committed run; say which ones this run's result files now differ from.
"$py" scripts/render_readme.py --check || true
