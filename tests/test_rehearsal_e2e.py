"""The paper path end to end, through ``./reproduce.sh --profile rehearsal``: every notebook, every stage.

Only the sources differ from ``--profile paper``: stand-ins in the real formats served on 127.0.0.1
(started and stopped by the pipeline), a random-weight ``Wav2CLIP.pt`` and CLIP file, and a data home
and caches of the run's own.  The numbers mean nothing; the test checks that each stage ran and left
what the next one needs, and that nothing of the rehearsal reached the user's caches.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.rehearsal


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    base = tmp_path_factory.mktemp("rehearsal")
    home = base / "home"  # the user's default caches: must stay empty
    env = {k: v for k, v in os.environ.items() if not k.startswith(("W2C_", "HF_ENDPOINT"))}
    env.update({"XDG_CACHE_HOME": str(home), "W2C_PROJECT_ROOT": str(ROOT), "PYTHONUNBUFFERED": "1"})
    sets = [f"outputs.run_dir={base / 'run'}", f"outputs.results_dir={base / 'run/results'}",
            f"outputs.figures_dir={base / 'run/figures'}", f"sources.stand_ins={base / 'stand-ins'}",
            f"sources.data_home={base / 'data'}", f"sources.cache_dir={base / 'cache'}",
            f"sources.checkpoint_dir={base / 'checkpoints'}"]
    command = [str(ROOT / "reproduce.sh"), "--profile", "rehearsal"] + [a for s in sets for a in ("--set", s)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    (base / "reproduce.log").write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-6000:] + done.stderr[-6000:])
    return base, home, done


def test_reproduce_runs_every_notebook_of_the_paper_path(rehearsal):
    base, _, done = rehearsal
    assert done.returncode == 0, f"reproduce.sh --profile rehearsal failed; log: {base / 'reproduce.log'}"
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    stamps = sorted(p.stem for p in (base / "run" / "stamps").glob("*.json"))
    assert stamps == notebooks
    timings = json.loads((base / "run/results/reproduce_rehearsal.json").read_text())
    assert timings["complete"] and len(timings["notebooks"]) == len(notebooks)


def test_the_notebooks_loaded_the_resolved_profile_with_the_overrides(rehearsal):
    base, _, _ = rehearsal
    resolved = yaml.safe_load((base / "run" / "profile.yaml").read_text())
    assert resolved["name"] == "rehearsal" and resolved["compare_with_paper"] is True
    assert "extends" not in resolved and any(o.startswith("sources.stand_ins=") for o in resolved["overrides"])
    assert resolved["pretrain"]["nproc_per_node"] == 1  # trained under torchrun


def test_every_paper_dataset_was_downloaded_from_the_stand_ins_and_prepared(rehearsal):
    base, _, _ = rehearsal
    for name in ("esc50", "urbansound8k", "vggsound", "clotho", "tau2020", "fsd50k", "musdb18_7s"):
        manifest = pd.read_csv(base / "data" / name / "manifest.csv")
        assert len(manifest) > 0, name
    status = pd.read_csv(base / "run/results/data_status.csv")
    assert set(status["dataset"]) >= {"esc50", "vggsound", "fsd50k"}


def test_training_input_and_pretraining_ran_on_vggsound(rehearsal):
    base, _, _ = rehearsal
    shards = base / "run" / "training" / "shards"
    train = json.loads((shards / "vggsound-train" / "index.json").read_text())
    valid = json.loads((shards / "vggsound-valid" / "index.json").read_text())
    assert train["n_clips"] > 0 and valid["n_clips"] > 0
    config = json.loads((base / "run" / "pretrain" / "config.json").read_text())
    teacher = config["model"]["teacher"]
    assert config["training"]["world_size"] == 1 and teacher["model_name"] == "ViT-B-32"
    assert teacher.get("weights_sha256")  # the CLIP file, recorded so evaluation reloads it
    assert config["training"].get("finished") is True
    assert (base / "run" / "pretrain" / "done.json").is_file()


def test_summary_has_rows_with_paper_values_tolerances_and_statuses(rehearsal):
    base, _, _ = rehearsal
    summary = pd.read_csv(base / "run/results/summary.csv")
    assert set(summary["profile"]) == {"rehearsal"}
    compared = summary[summary["paper"].notna()]
    assert len(compared) > 0 and compared["tolerance"].notna().all()
    assert set(compared["status"]) <= {"match", "within_tolerance", "mismatch"}
    assert {"classification", "zero-shot", "retrieval", "data-fraction"} <= set(summary["task"])


def test_nothing_reached_the_users_caches(rehearsal):
    _, home, _ = rehearsal
    leftovers = [p for p in home.rglob("*") if p.is_file()] if home.exists() else []
    assert not [p for p in leftovers if "w2clib" in p.parts], leftovers[:5]
