"""The notebook pipeline behind ``reproduce.sh``: papermill, stamps, resume.

The profile (a name or a YAML path, with ``extends`` and ``--set section.key=value`` overrides) is
resolved once and written to ``<run_dir>/profile.yaml``; each ``notebooks/NN_name.ipynb`` runs headless
with the parameter ``profile`` set to *that file*, so every notebook sees exactly the configuration
this run was given.  Its executed copy goes to ``<run_dir>/notebooks/``.  When it finishes, ``<run_dir>/stamps/NN_name.json`` records
its key, wall time, the kernel's peak memory and which run of the notebook before it it followed.
The key hashes the notebook, the resolved profile and the key of the notebook before it, so changing a
notebook or the profile (or an override) reruns it and everything after it; so does rerunning a notebook (e.g.
``--only 03 --force``): a stamp is valid only while the stamp before it is the one it followed.  An
interrupted run resumes at the first notebook without a valid stamp.  Library changes do not
invalidate stamps: pass ``--force`` after editing ``w2clib``.  Each stamp also lists what it was
computed from (``inputs``: the notebook's and profile's SHA-256 and the pre-trained encoder it saw,
with its weights' hash and whether its training run had finished).

    python -m w2clib.pipeline --profile mini [--set pretrain.max_steps=10] [--only 03,04] [--from 04] [--force]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

from collections.abc import Iterator

from ._io import atomic_write_json, environment
from .config import Profile, load_profile, project_root
from .diskspace import free_space_problems, min_free_gib, written_folders

__all__ = ["list_notebooks", "select_notebooks", "notebook_keys", "run_pipeline", "main"]


def list_notebooks(root: Path | None = None) -> list[Path]:
    """``notebooks/NN_*.ipynb`` in order."""
    folder = (root or project_root()) / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def _matches(notebook: Path, token: str) -> bool:
    token = token.strip()
    stem = notebook.stem
    return token == stem or token == stem[:2] or (token.isdigit() and int(token) == int(stem[:2])) or (
        not token.isdigit() and stem[3:] == token
    )


def select_notebooks(notebooks: list[Path], only: str | None = None, start: str | None = None) -> list[Path]:
    """Apply ``--only a,b`` (numbers or names) and ``--from N``; unknown tokens are errors."""
    chosen = notebooks
    if only:
        tokens = [t for t in only.split(",") if t.strip()]
        for token in tokens:
            if not any(_matches(nb, token) for nb in notebooks):
                raise SystemExit(f"--only: no notebook matches {token!r}; have {[nb.stem for nb in notebooks]}")
        chosen = [nb for nb in chosen if any(_matches(nb, t) for t in tokens)]
    if start:
        index = next((i for i, nb in enumerate(notebooks) if _matches(nb, start)), None)
        if index is None:
            raise SystemExit(f"--from: no notebook matches {start!r}; have {[nb.stem for nb in notebooks]}")
        chosen = [nb for nb in chosen if nb in notebooks[index:]]
    return chosen


def notebook_keys(notebooks: list[Path], profile: Profile) -> dict[Path, str]:
    """Chained content keys: each depends on its notebook, the profile and the previous key."""
    keys: dict[Path, str] = {}
    previous = hashlib.sha256(yaml.safe_dump(profile.sections, sort_keys=True).encode()).hexdigest()
    for nb in notebooks:
        digest = hashlib.sha256(previous.encode() + nb.read_bytes()).hexdigest()
        keys[nb] = previous = digest
    return keys


def _execute_one(notebook: Path, output: Path, profile: str) -> None:
    """Run in a child process so its kernel's peak memory can be read from rusage."""
    import papermill

    tmp = output.with_name(f".{output.name}.running")
    try:
        papermill.execute_notebook(
            str(notebook), str(tmp), parameters={"profile": profile}, kernel_name="python3",
            cwd=str(notebook.parent), progress_bar=False, log_output=True,
        )
    finally:
        if tmp.exists():
            os.replace(tmp, output)  # keep the executed copy, failed or not, for inspection
    # The kernel is the only child this process waits for.  (Its figure is at least this process's size
    # when it forked, ~0.2 GB, which every notebook importing torch exceeds anyway.)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({"kernel_peak_rss_mib": round(peak_kib / 1024, 1)}), flush=True)


RESOLVED_PROFILE = "profile.yaml"  # <run_dir>/profile.yaml: the resolved profile every notebook loads

# The profile's `sources:` section: where downloads go (set for every notebook of the run).
SOURCE_ENV = {"data_home": "W2C_DATA_HOME", "cache_dir": "W2C_CACHE_DIR", "checkpoint_dir": "W2C_CHECKPOINT_DIR"}


@contextlib.contextmanager
def profile_sources(profile: Profile) -> Iterator[dict[str, str]]:
    """Apply the profile's ``sources:`` section to ``os.environ`` for the block (notebooks inherit it).

    ``data_home``, ``cache_dir``, ``checkpoint_dir``: folders (relative to the project root) that
    replace the user's default data home and caches -- a rehearsal must never leave stand-in data
    where a real run would take it for the real thing.  ``stand_ins``: a folder of local stand-ins
    for every download (:mod:`w2clib.rehearsal`), built if missing and served on 127.0.0.1 while
    the block runs, with ``$W2C_MIRROR`` pointing every downloader at it; its path is also put in
    ``$W2C_STAND_INS`` (profile values such as ``teacher.weights`` may use it).
    """
    section = profile.section("sources")
    unknown = sorted(set(section) - {*SOURCE_ENV, "stand_ins"})
    if unknown:
        raise ValueError(f"profile {profile.path}: unknown keys {unknown} in sources:; known: "
                         f"{sorted({*SOURCE_ENV, 'stand_ins'})}")
    env = {SOURCE_ENV[k]: str(profile.resolve(v)) for k, v in section.items() if k in SOURCE_ENV and v}
    if not section.get("stand_ins"):
        with environment(env):
            yield env
        return
    from .rehearsal import mirror_session

    folder = profile.resolve(section["stand_ins"])
    with environment({**env, "W2C_STAND_INS": str(folder)}), mirror_session(folder) as session:
        print(f"[{profile.name}] serving the stand-ins in {folder} at {session.url}", flush=True)
        yield {**env, **session.environment, "W2C_STAND_INS": str(folder)}


def run_pipeline(profile_name: str, only: str | None = None, start: str | None = None, force: bool = False,
                 overrides: list[str] | tuple[str, ...] = ()) -> int:
    """Run the profile's notebooks in order (see the module docstring); 0 on success, 1 on a failure."""
    profile = load_profile(profile_name, overrides)
    with profile_sources(profile) as env:
        if env:
            print(f"[{profile.name}] sources: " + ", ".join(f"{k}={v}" for k, v in sorted(env.items())), flush=True)
        return _run_notebooks(profile, only, start, force)


def _run_notebooks(profile: Profile, only: str | None, start: str | None, force: bool) -> int:
    notebooks = list_notebooks()
    if not notebooks:
        raise SystemExit("no notebooks/NN_*.ipynb found")
    keys = notebook_keys(notebooks, profile)
    need_gib = min_free_gib(profile.section("outputs"), where=f"profile {profile.path}")
    out_dir, stamp_dir = profile.run_dir / "notebooks", profile.run_dir / "stamps"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp_dir.mkdir(parents=True, exist_ok=True)
    resolved = profile.write_resolved(profile.run_dir / RESOLVED_PROFILE)
    print(f"[{profile.name}] profile {profile.path}" + (f" with {', '.join(profile.overrides)}" if profile.overrides
                                                        else "") + f" -> {resolved}", flush=True)
    summary = []
    cold = _caches_empty()  # recorded with the timings: a cold run includes data preparation and downloads
    previous = {nb: (notebooks[i - 1] if i else None) for i, nb in enumerate(notebooks)}

    def run_id(nb: Path | None) -> str | None:
        path = stamp_dir / f"{nb.stem}.json" if nb is not None else None
        return read_stamp(path).get("run_id") if path is not None else None

    for nb in select_notebooks(notebooks, only, start):
        stamp = stamp_dir / f"{nb.stem}.json"
        saved = read_stamp(stamp)
        if not force and saved.get("key") == keys[nb] and saved.get("after") == run_id(previous[nb]):
            print(f"[{profile.name}] {nb.stem}: up to date (stamp {stamp.relative_to(project_root())})")
            continue
        short = free_space_problems(written_folders(profile.run_dir), need_gib)
        if short:  # before the notebook starts: a full disk mid-notebook is a traceback from some library
            for problem in short:
                print(f"[{profile.name}] {nb.stem} not started: {problem}", file=sys.stderr)
            return 1
        stamp.unlink(missing_ok=True)
        print(f"[{profile.name}] {nb.stem}: running ...", flush=True)
        began = time.time()
        child = subprocess.run(
            [sys.executable, "-m", "w2clib.pipeline", "--execute-one", str(nb), str(out_dir / nb.name), str(resolved)],
            stdout=subprocess.PIPE, text=True,
        )
        wall = time.time() - began
        lines = child.stdout.strip().splitlines()
        if child.returncode != 0:
            print("\n".join(lines[-40:]), file=sys.stderr)
            print(
                f"[{profile.name}] {nb.stem}: FAILED after {wall:.0f} s; executed copy with the error: "
                f"{out_dir / nb.name}", file=sys.stderr,
            )
            return 1
        memory = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
        record = {"notebook": nb.name, "profile": profile.name, "key": keys[nb], "wall_s": round(wall, 1),
                  "run_id": f"{nb.stem}@{time.time():.6f}", "after": run_id(previous[nb]),
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%S"), "caches_empty_at_start": cold,
                  "inputs": stamp_inputs(nb, profile), **memory}
        atomic_write_json(stamp, record)
        summary.append(record)
        print(f"[{profile.name}] {nb.stem}: done in {wall:.0f} s, kernel peak {memory.get('kernel_peak_rss_mib', '?')} MiB")
    if summary:
        total = sum(r["wall_s"] for r in summary)
        peak = max((r.get("kernel_peak_rss_mib", 0) for r in summary), default=0)
        print(f"[{profile.name}] finished {len(summary)} notebook(s) in {total:.0f} s; peak kernel memory {peak} MiB")
    _write_timings(profile, notebooks, stamp_dir)
    return 0


def read_stamp(path: Path) -> dict[str, object]:
    """A stamp's record; ``{}`` (no valid stamp: the notebook reruns) when missing or damaged."""
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def stamp_inputs(notebook: Path, profile: Profile) -> dict[str, object]:
    """What a notebook's result was computed from: its file, the profile, the run's encoder (if any)."""
    inputs: dict[str, object] = {
        "notebook_sha256": hashlib.sha256(notebook.read_bytes()).hexdigest(),
        "profile_sha256": hashlib.sha256(profile.path.read_bytes()).hexdigest(),
    }
    config = profile.run_dir / "pretrain" / "config.json"
    if config.is_file():
        try:
            meta = json.loads(config.read_text())
        except ValueError:
            meta = None
        meta = meta if isinstance(meta, dict) else {}
        training = meta.get("training") if isinstance(meta.get("training"), dict) else {}
        inputs["encoder"] = {"path": str(config.parent), "sha256": meta.get("sha256"),
                             "step": training.get("step"), "finished": training.get("finished")}
    return inputs


def _caches_empty() -> bool:
    """True when the data home and the feature/teacher caches hold nothing yet (a fresh machine)."""
    from ._io import user_cache_dir
    from .data import resolve_data_home

    folders = [resolve_data_home(), user_cache_dir() / "features", user_cache_dir() / "teachers"]
    return not any(f.is_dir() and any(f.iterdir()) for f in folders)


def _write_timings(profile: Profile, notebooks: list[Path], stamp_dir: Path) -> None:
    """``<results_dir>/reproduce_<profile>.json``: wall time and peak memory of the latest run of every
    notebook (from the stamps), so the README's timing claims come from a file, not from memory."""
    records = [r for nb in notebooks if (r := read_stamp(stamp_dir / f"{nb.stem}.json")).get("key")]
    if not records:
        return
    atomic_write_json(profile.results_dir / f"reproduce_{profile.name}.json", {
        "profile": profile.name,
        "notebooks": [{k: r.get(k) for k in ("notebook", "wall_s", "kernel_peak_rss_mib", "finished",
                                              "caches_empty_at_start")} for r in records],
        "complete": len(records) == len(notebooks),
        "total_wall_s": round(sum(r["wall_s"] for r in records), 1),
        "peak_kernel_rss_mib": max(r.get("kernel_peak_rss_mib", 0) for r in records),
    })


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m w2clib.pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="mini", help="a profile name (profiles/NAME.yaml) or a YAML path")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override one key of the profile (value read as YAML); repeatable")
    parser.add_argument("--only", default=None, help="comma-separated notebook numbers or names")
    parser.add_argument("--from", dest="start", default=None, help="start at this notebook")
    parser.add_argument("--force", action="store_true", help="ignore stamps")
    parser.add_argument("--execute-one", nargs=3, metavar=("NOTEBOOK", "OUTPUT", "PROFILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.execute_one:
        notebook, output, profile = args.execute_one
        _execute_one(Path(notebook), Path(output), profile)
        return 0
    try:
        return run_pipeline(args.profile, args.only, args.start, args.force, args.overrides)
    except (FileNotFoundError, ValueError) as err:
        print(f"w2clib.pipeline: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
