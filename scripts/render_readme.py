#!/usr/bin/env python3
"""Render the measured tables of README.md and docs/*.md from the files behind them (never typed by hand).

Blocks between ``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` are replaced:

  embed-bench   benchmarks/results/embed.json        (benchmarks/bench_embed.py)
  embed-bench-fallback  benchmarks/results/embed_fallback.json  (bench_embed.py on a CPU without bf16)
  train-bench   benchmarks/results/train_step_cpu.json (benchmarks/bench_train.py)
  reproduce     results/reproduce_mini.json          (./reproduce.sh, written by w2clib.pipeline)
  pretrain      results/pretrain_heldout.csv         (notebook 03_pretrain)
  results       results/summary.csv                  (the evaluation notebooks)
  csv:PATH      any CSV file, e.g. csv:results/data_sizes.csv

    python scripts/render_readme.py           # rewrite README.md and docs/*.md from the files here
    python scripts/render_readme.py --check   # exit 1 if a table matches neither its file here nor the
                                              # committed (git HEAD) version of that file

``--check`` accepts either version on purpose: a local ``./reproduce.sh`` rewrites ``results/`` with
numbers of its own (other CPUs, other library builds), and the pages keep showing the committed run
until someone re-renders them; it lists such tables and exits 0.  A table that matches no version
(hand-edited, or a result file committed without re-rendering) fails.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from w2clib.evaluate.results import markdown_table  # noqa: E402


def md_table(rows: list[list[str]], header: list[str]) -> str:
    """Formatted cells as a markdown table (``DataFrame.to_markdown``, via :func:`w2clib.evaluate.results.markdown_table`)."""
    import pandas as pd

    return markdown_table(pd.DataFrame(rows, columns=header))


def _load(path: str, base: Path) -> dict | None:
    p = base / path
    return json.loads(p.read_text()) if p.exists() else None


def _cpu_note(machine: dict) -> str:
    """Which CPU a benchmark ran on, and whether it had bf16 in hardware (recorded by bench_embed)."""
    if "cpu" not in machine:
        return f"{machine['cpu_count']} CPU cores (CPU model and flags not recorded)"
    flags = machine.get("cpu_flags", {})
    has = [f for f in ("avx2", "avx512_f", "avx512_bf16", "amx_bf16", "bf16", "sve_bf16") if flags.get(f)]
    bf16 = "native bf16" if machine.get("bf16_native") else "no native bf16, so bf16 runs as fp32"
    load = f", load average {machine['load_average_1min']:.0f}" if "load_average_1min" in machine else ""
    return f"{machine['cpu']}, {machine['cpu_count']} cores{load} (flags: {', '.join(has) or 'none of note'}; {bf16})"


def embed_bench(base: Path, path: str = "benchmarks/results/embed.json") -> str:
    data = _load(path, base)
    if not data:
        return f"_not measured yet: run `benchmarks/bench_embed.py --out {path}`_"
    machine = data["machine"]
    fast_name = "fast (bf16)" if machine.get("bf16_native", True) else "fast (bf16 → fp32)"
    rows, fallback = [], []
    for case, r in data["throughput"].items():
        ref, ex, fa = r["reference"], r["exact"], r["fast"]
        rows.append([case.replace('x', ' × '), f"{ref['clips_per_s']:.3g}", f"{ex['clips_per_s']:.3g}",
                     f"{ex['speedup_vs_reference']:.2f}×", f"{ex['max_abs_diff_vs_reference']:.1e}",
                     f"{fa['clips_per_s']:.3g}", f"{fa['speedup_vs_reference']:.2f}×", f"{fa['min_cosine_vs_exact']:.5f}"])
        if "clip_fp32" in r:
            fallback.append(f"{case.replace('x', ' × ')}: {fa['vs_clip_fp32']:.3f}"
                            + (f" (emulated bf16: {r['bf16_emulated']['vs_clip_fp32']:.2f})" if "bf16_emulated" in r else ""))
    lines = [md_table(rows, ["batch", "reference clips/s", "exact (fp32) clips/s", "speed-up", "max abs diff",
                          f"{fast_name} clips/s", "speed-up", "min cosine to exact"])]
    mem = data.get("memory", {})
    if mem:
        names = {"reference-64x10": "reference, 64 × 10 s in one call",
                 "w2clib-64x10": "w2clib exact, 64 × 10 s in one call",
                 "w2clib-files-1h": "w2clib `embed_files`, " + mem.get("w2clib-files-1h", {}).get("file", "1-hour file")}
        rows = [[label, f"{mem[key]['peak_rss_mib']:.0f}", f"{mem[key].get('call_increment_mib', float('nan')):.0f}"]
                for key, label in names.items() if key in mem]
        lines += ["", md_table(rows, ["memory case", "peak RSS (MiB)", "of which the call (MiB)"])]
    text = (f"Throughput measured {data['date']} on {_cpu_note(machine)}, {machine['platform']}, torch "
            f"{machine['torch']}, {machine['threads']} threads; medians of interleaved runs.")
    if fallback:
        emulated = any("emulated" in f for f in fallback)
        text += (" Speed of `precision=\"bf16\"` (the fp32 fallback) relative to `precision=\"fp32\"`, same "
                 f"normalisation, interleaved: {'; '.join(fallback)}"
                 + (" (in brackets: bf16 autocast with the fallback switched off)" if emulated else "") + ".")
    if mem:
        where = data.get("memory_machine", machine)
        text += (f" Memory measured {data.get('memory_date', data['date'])} on {_cpu_note(where)}; "
                 "peak RSS includes ~0.5 GB for importing PyTorch.")
    lines += ["", f"_{text}_"]
    return "\n".join(lines)


def train_bench(base: Path) -> str:
    data = _load("benchmarks/results/train_step_cpu.json", base)
    if not data:
        return "_not measured yet: run `benchmarks/bench_train.py`_"
    rows = [[name, f"{v['median_clips_per_s']:.2f}", f"{v['speedup_vs_reference']:.2f}×"]
            for name, v in data["summary"].items()]
    lines = [md_table(rows, [f"training step (batch {data['batch']} × 10 s, {data['device']})", "clips/s", "vs reference"])]
    lines += ["", f"_{data['when']}, `{data['command']}`; machine: {data['machine'].get('cpu', '?')}, "
                  f"{data['machine'].get('cpus', '?')} cores; loss of both implementations on the same weights "
                  f"differs by {data.get('equivalence', {}).get('abs_diff', float('nan')):.1e}._"]
    return "\n".join(lines)


def reproduce(base: Path) -> str:
    data = _load("results/reproduce_mini.json", base)
    if not data:
        return "_not measured yet: run `./reproduce.sh`_"
    rows = [[r["notebook"], f"{r['wall_s']:.0f}", f"{r['kernel_peak_rss_mib']:.0f}"] for r in data["notebooks"]]
    rows.append(["**total**", f"**{data['total_wall_s']:.0f}** ({data['total_wall_s'] / 60:.1f} min)",
                 f"**{data['peak_kernel_rss_mib']:.0f}** (max)"])
    lines = [md_table(rows, ["notebook", "wall time (s)", "kernel peak memory (MiB)"])]
    cold = {r.get("caches_empty_at_start") for r in data["notebooks"]}
    if cold == {True}:
        lines += ["", "_Started with empty data, feature and teacher caches: includes fetching the registry "
                      "packages' data, rendering the instrument clips and computing the teacher targets._"]
    elif cold == {False}:
        lines += ["", "_Started with the data and teacher caches already filled (a rerun)._"]
    return "\n".join(lines)


def results(base: Path) -> str:
    path = base / "results/summary.csv"
    if not path.exists():
        return "_not produced yet: run `./reproduce.sh`_"
    from w2clib.evaluate.results import render_report

    return render_report(path, profile="mini", header="Results of the embedded default (profile `mini`).")


def pretrain(base: Path) -> str:
    """Notebook 03's final held-out table, one row per (task, metric): trained, random weights, chance."""
    import pandas as pd

    path = base / "results/pretrain_heldout.csv"
    if not path.exists():
        return "_not produced yet: run `./reproduce.sh`_"
    table = pd.read_csv(path)
    wide = table.pivot_table(index=["task", "metric"], columns="model", values="value", sort=False)
    first = table.groupby(["task", "metric"], sort=False)[["chance", "n_queries", "n_items"]].first()
    rows = []
    for (task, metric), row in wide.iterrows():
        f = first.loc[(task, metric)]
        rows.append([task, metric, f"**{row['trained']:.3f}**", f"{row['random weights']:.3f}", f"{f['chance']:.3f}",
                     f"{int(f['n_queries'])} → {int(f['n_items'])}"])
    lines = [md_table(rows, ["held-out task", "metric", "trained", "random weights", "chance", "queries → items"])]
    step, seed = int(table["step"].iloc[0]), int(table["seed"].iloc[0])
    lines += ["", f"_profile `{table['profile'].iloc[0]}`, step {step}, seed {seed}; `results/pretrain_heldout.csv`._"]
    return "\n".join(lines)


def embed_bench_fallback(base: Path) -> str:
    return embed_bench(base, "benchmarks/results/embed_fallback.json")


BLOCKS = {"embed-bench": embed_bench, "embed-bench-fallback": embed_bench_fallback, "pretrain": pretrain, "train-bench": train_bench, "reproduce": reproduce, "results": results}
SOURCES = {"embed-bench": "benchmarks/results/embed.json",
           "embed-bench-fallback": "benchmarks/results/embed_fallback.json", "train-bench": "benchmarks/results/train_step_cpu.json",
           "reproduce": "results/reproduce_mini.json", "pretrain": "results/pretrain_heldout.csv",
           "results": "results/summary.csv"}
BLOCK = re.compile(r"(<!-- begin:(?P<name>[^ ]+) -->\n)(?P<body>(?:.*?\n)?)(<!-- end:(?P=name) -->)", re.S)


def source_of(name: str) -> str | None:
    """The file a block is rendered from (``None`` for blocks this script does not know)."""
    return name[len("csv:"):] if name.startswith("csv:") else SOURCES.get(name)


def csv_table(path: str, base: Path) -> str:
    """Any CSV of results/ as a markdown table (floats to 3 decimals)."""
    import pandas as pd

    p = base / path
    if not p.exists():
        return f"_not produced yet: {path} comes from ./reproduce.sh_"
    frame = pd.read_csv(p)
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) and not v.is_integer() else ("" if pd.isna(v) else str(v))  # noqa: E731
    return markdown_table(frame.map(fmt))


def render_block(name: str, base: Path) -> str | None:
    """The body of block ``name`` rendered from the files under ``base`` (``None``: unknown block)."""
    if name.startswith("csv:"):
        return csv_table(source_of(name), base) + "\n"
    return BLOCKS[name](base) + "\n" if name in BLOCKS else None


def render(text: str, base: Path = ROOT) -> str:
    def replace(m: re.Match[str]) -> str:
        body = render_block(m.group("name"), base)
        return m.group(0) if body is None else m.group(1) + body + m.group(4)

    return BLOCK.sub(replace, text)


def committed_sources(root: Path, paths: set[str], into: Path) -> Path | None:
    """Copy the git HEAD version of each of ``paths`` under ``into``; ``None`` outside a git checkout."""
    inside = subprocess.run(["git", "-C", str(root), "rev-parse", "--is-inside-work-tree"], capture_output=True, text=True)
    if inside.returncode != 0 or inside.stdout.strip() != "true":
        return None
    for path in paths:
        shown = subprocess.run(["git", "-C", str(root), "show", f"HEAD:./{path}"], capture_output=True)
        if shown.returncode == 0:  # files not committed yet have no committed version
            (into / path).parent.mkdir(parents=True, exist_ok=True)
            (into / path).write_bytes(shown.stdout)
    return into


def check_page(text: str, root: Path, committed: Path | None) -> tuple[list[str], list[str]]:
    """(stale blocks, blocks that show the committed file while the file here differs)."""
    stale, committed_only = [], []
    for m in BLOCK.finditer(text):
        name = m.group("name")
        here = render_block(name, root)
        if here is None or m.group("body") == here:
            continue
        if committed is not None and m.group("body") == render_block(name, committed):
            committed_only.append(name)
        else:
            stale.append(name)
    return stale, committed_only


def pages(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--root", type=Path, default=ROOT, help="project checkout (default: this one)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    if not args.check:
        for page in pages(root):
            old = page.read_text()
            new = render(old, root)
            if new != old:
                page.write_text(new)
            print(page.relative_to(root), "updated" if new != old else "already up to date")
        return 0
    texts = {page: page.read_text() for page in pages(root)}
    needed = {source_of(m.group("name")) for text in texts.values() for m in BLOCK.finditer(text)} - {None}
    with tempfile.TemporaryDirectory() as tmp:
        committed = committed_sources(root, needed, Path(tmp))
        stale, local = {}, {}
        for page, text in texts.items():
            name = str(page.relative_to(root))
            bad, mine = check_page(text, root, committed)
            stale.update({name: bad} if bad else {})
            local.update({name: mine} if mine else {})
    for name, blocks in local.items():
        print(f"{name}: {', '.join(blocks)} show the committed results; the files here differ (a local run?): "
              "`python scripts/render_readme.py` re-renders them")
    if stale:
        print("tables are out of date: " + "; ".join(f"{n} ({', '.join(b)})" for n, b in stale.items())
              + ": run scripts/render_readme.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
