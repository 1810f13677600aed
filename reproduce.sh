#!/usr/bin/env bash
# Run the paper's story: every notebooks/NN_*.ipynb in order, headless, with papermill.
#
#   ./reproduce.sh                       # the embedded default (profile "mini": offline data, CPU, minutes)
#   ./reproduce.sh --profile paper       # the real thing on a GPU machine with internet access
#   ./reproduce.sh --only 03,04          # just these notebooks (numbers or names, comma-separated)
#   ./reproduce.sh --from 04             # this notebook and every later one
#   ./reproduce.sh --force               # ignore the stamps of finished notebooks
#
# Executed copies go to runs/<profile>/notebooks/ (git-ignored); figures and results to the folders
# named in profiles/<profile>.yaml.  A notebook that finishes leaves a stamp (runs/<profile>/stamps/),
# keyed by the notebook's and the profile's content, so a rerun resumes after the last success.
# Exits non-zero as soon as a notebook fails.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"

profile=mini only="" from="" force=0
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --profile) profile="${2:?--profile needs a name}"; shift 2 ;;
    --profile=*) profile="${1#*=}"; shift ;;
    --only) only="${2:?--only needs notebook numbers}"; shift 2 ;;
    --only=*) only="${1#*=}"; shift ;;
    --from) from="${2:?--from needs a notebook number}"; shift 2 ;;
    --from=*) from="${1#*=}"; shift ;;
    --force) force=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "reproduce.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ ! -f "profiles/$profile.yaml" ]]; then
  echo "reproduce.sh: no profile '$profile' (profiles/$profile.yaml); available: $(ls profiles | sed 's/\.yaml$//' | tr '\n' ' ')" >&2
  exit 2
fi

scripts/bootstrap.sh
py="${W2C_VENV:-$root/.venv}/bin/python"
"$py" -m w2clib.pipeline --profile "$profile" ${only:+--only "$only"} ${from:+--from "$from"} \
  $( ((force)) && echo --force )
# The README's tables keep showing the committed run; say which ones this run's result files now differ from.
"$py" scripts/render_readme.py --check || true
