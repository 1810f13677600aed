#!/usr/bin/env python3
"""Render the measured tables of README.md and docs/*.md from the files behind them (never typed by hand).

Blocks between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` are replaced:

  embed-bench   benchmarks/results/embed.json        (benchmarks/bench_embed.py)
  train-bench   benchmarks/results/train_step_cpu.json (benchmarks/bench_train.py)
  reproduce     results/reproduce_mini.json          (./reproduce.sh, written by w2clib.pipeline)
  pretrain      results/pretrain_heldout.csv         (notebook 03_pretrain)
  results       results/summary.csv                  (the evaluation notebooks)
  csv:PATH      any CSV file, e.g. csv:results/data_sizes.csv

    python scripts/render_readme.py           # rewrite README.md and docs/*.md
    python scripts/render_readme.py --check   # exit 1 if any page is out of date
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load(path: str) -> dict | None:
    p = ROOT / path
    return json.loads(p.read_text()) if p.exists() else None


def embed_bench() -> str:
    data = _load("benchmarks/results/embed.json")
    if not data:
        return "_not measured yet: run `benchmarks/bench_embed.py`_"
    lines = ["| batch | reference clips/s | exact (fp32) clips/s | speed-up | max abs diff | fast (bf16) clips/s | speed-up | min cosine to exact |",
             "|---|---|---|---|---|---|---|---|"]
    for case, r in data["throughput"].items():
        ref, ex, fa = r["reference"], r["exact"], r["fast"]
        lines.append(f"| {case.replace('x', ' × ')} | {ref['clips_per_s']:.1f} | {ex['clips_per_s']:.1f} | "
                     f"{ex['speedup_vs_reference']:.2f}× | {ex['max_abs_diff_vs_reference']:.1e} | "
                     f"{fa['clips_per_s']:.1f} | {fa['speedup_vs_reference']:.2f}× | {fa['min_cosine_vs_exact']:.5f} |")
    mem = data.get("memory", {})
    if mem:
        lines += ["", "| memory case | peak RSS (MiB) | of which the call (MiB) |", "|---|---|---|"]
        names = {"reference-64x10": "reference, 64 × 10 s in one call",
                 "w2clib-64x10": "w2clib exact, 64 × 10 s in one call",
                 "w2clib-files-1h": "w2clib `embed_files`, " + mem.get("w2clib-files-1h", {}).get("file", "1-hour file")}
        for key, label in names.items():
            if key in mem:
                m = mem[key]
                lines.append(f"| {label} | {m['peak_rss_mib']:.0f} | {m.get('call_increment_mib', float('nan')):.0f} |")
    machine = data["machine"]
    lines += ["", f"_Measured {data['date']} on {machine['cpu_count']} CPU cores ({machine['processor'] or machine['platform']}), "
              f"torch {machine['torch']}, {machine['threads']} threads; medians of interleaved runs. "
              "Peak RSS includes ~0.5 GB for importing PyTorch._"]
    return "\n".join(lines)


def train_bench() -> str:
    data = _load("benchmarks/results/train_step_cpu.json")
    if not data:
        return "_not measured yet: run `benchmarks/bench_train.py`_"
    lines = [f"| training step (batch {data['batch']} × 10 s, {data['device']}) | clips/s | vs reference |",
             "|---|---|---|"]
    for name, v in data["summary"].items():
        lines.append(f"| {name} | {v['median_clips_per_s']:.2f} | {v['speedup_vs_reference']:.2f}× |")
    lines += ["", f"_{data['when']}, `{data['command']}`; machine: {data['machine'].get('cpu', '?')}, "
                  f"{data['machine'].get('cpus', '?')} cores; loss of both implementations on the same weights "
                  f"differs by {data.get('equivalence', {}).get('abs_diff', float('nan')):.1e}._"]
    return "\n".join(lines)


def reproduce() -> str:
    data = _load("results/reproduce_mini.json")
    if not data:
        return "_not measured yet: run `./reproduce.sh`_"
    lines = ["| notebook | wall time (s) | kernel peak memory (MiB) |", "|---|---|---|"]
    for r in data["notebooks"]:
        lines.append(f"| {r['notebook']} | {r['wall_s']:.0f} | {r['kernel_peak_rss_mib']:.0f} |")
    lines.append(f"| **total** | **{data['total_wall_s']:.0f}** ({data['total_wall_s'] / 60:.1f} min) | "
                 f"**{data['peak_kernel_rss_mib']:.0f}** (max) |")
    cold = {r.get("caches_empty_at_start") for r in data["notebooks"]}
    if cold == {True}:
        lines += ["", "_Started with empty data, feature and teacher caches: includes fetching the registry "
                      "packages' data, rendering the instrument clips and computing the teacher targets._"]
    elif cold == {False}:
        lines += ["", "_Started with the data and teacher caches already filled (a rerun)._"]
    return "\n".join(lines)


def results() -> str:
    path = ROOT / "results/summary.csv"
    if not path.exists():
        return "_not produced yet: run `./reproduce.sh`_"
    from w2clib.results import render_report

    return render_report(path, profile="mini", header="Results of the embedded default (profile `mini`).")


def pretrain() -> str:
    """Notebook 03's final held-out table, one row per (task, metric): trained, random weights, chance."""
    import pandas as pd

    path = ROOT / "results/pretrain_heldout.csv"
    if not path.exists():
        return "_not produced yet: run `./reproduce.sh`_"
    table = pd.read_csv(path)
    wide = table.pivot_table(index=["task", "metric"], columns="model", values="value", sort=False)
    first = table.groupby(["task", "metric"], sort=False)[["chance", "n_queries", "n_items"]].first()
    lines = ["| held-out task | metric | trained | random weights | chance | queries → items |", "|---|---|---|---|---|---|"]
    for (task, metric), row in wide.iterrows():
        f = first.loc[(task, metric)]
        lines.append(f"| {task} | {metric} | **{row['trained']:.3f}** | {row['random weights']:.3f} | "
                     f"{f['chance']:.3f} | {int(f['n_queries'])} → {int(f['n_items'])} |")
    step, seed = int(table["step"].iloc[0]), int(table["seed"].iloc[0])
    lines += ["", f"_profile `{table['profile'].iloc[0]}`, step {step}, seed {seed}; `results/pretrain_heldout.csv`._"]
    return "\n".join(lines)


BLOCKS = {"embed-bench": embed_bench, "pretrain": pretrain, "train-bench": train_bench, "reproduce": reproduce, "results": results}


def csv_table(path: str) -> str:
    """Any CSV of results/ as a markdown table (floats to 3 decimals)."""
    import pandas as pd

    p = ROOT / path
    if not p.exists():
        return f"_not produced yet: {path} comes from ./reproduce.sh_"
    frame = pd.read_csv(p)
    head = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * len(frame.columns)
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) and not v.is_integer() else ("" if pd.isna(v) else str(v))  # noqa: E731
    rows = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, *rows])


def render(text: str) -> str:
    generic = re.compile(r"(<!-- begin:csv:(?P<path>[^ ]+) -->\n)(?:.*?\n)?(<!-- end:csv:(?P=path) -->)", re.S)
    text = generic.sub(lambda m: m.group(1) + csv_table(m.group("path")) + "\n" + m.group(3), text)
    for name, make in BLOCKS.items():
        pattern = re.compile(rf"(<!-- begin:{name} -->\n)(?:.*?\n)?(<!-- end:{name} -->)", re.S)
        text = pattern.sub(lambda m, body=make(): m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        old = page.read_text()
        new = render(old)
        name = page.relative_to(ROOT)
        if new != old:
            stale.append(str(name))
            if not args.check:
                page.write_text(new)
        if not args.check:
            print(name, "updated" if new != old else "already up to date")
    if args.check and stale:
        print(f"tables are out of date in {', '.join(stale)}: run scripts/render_readme.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
