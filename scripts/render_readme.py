#!/usr/bin/env python3
"""Render the README's measured tables from the files behind them (never typed by hand).

Blocks between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` are replaced:

  embed-bench   benchmarks/results/embed.json        (benchmarks/bench_embed.py)
  train-bench   benchmarks/results/train_step_cpu.json (benchmarks/bench_train.py)
  reproduce     results/reproduce_mini.json          (./reproduce.sh, written by w2clib.pipeline)
  results       results/summary.csv                  (the evaluation notebooks)
  csv:PATH      any CSV file, e.g. csv:results/data_sizes.csv

    python scripts/render_readme.py           # rewrite README.md
    python scripts/render_readme.py --check   # exit 1 if README.md is out of date
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
    return "\n".join(lines)


def results() -> str:
    path = ROOT / "results/summary.csv"
    if not path.exists():
        return "_not produced yet: run `./reproduce.sh`_"
    from w2clib.results import read_summary, render_markdown

    return render_markdown(read_summary(path))


BLOCKS = {"embed-bench": embed_bench, "train-bench": train_bench, "reproduce": reproduce, "results": results}


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
    readme = ROOT / "README.md"
    old = readme.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md tables are out of date: run scripts/render_readme.py")
            return 1
        return 0
    readme.write_text(new)
    print("README.md", "updated" if new != old else "already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
