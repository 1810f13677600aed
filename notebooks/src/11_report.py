# %% [markdown]
# # 11 · The results table
#
# Every number the evaluation notebooks (04-08) measured is a row of `summary.csv` in the
# profile's results folder: one row per (paper table or figure cell, dataset, metric, model), with
# the columns
# `paper_ref, task, dataset, protocol, metric, model, paper, ours_mean, ours_std, n_seeds, chance,
# tolerance, status, profile, checkpoint_sha256, commit, note`. Values are in percent.
#
# `paper` is the paper's value where it is known ([docs/paper_numbers.md](../docs/paper_numbers.md);
# unknown cells stay empty), and the
# `tolerance` was declared before any run (`w2clib.evaluate.results.TOLERANCES`: 3 points for
# classification and tagging, 5 for zero-shot and retrieval). `status` says how a row compares:
# `match` (within our own spread, at least 0.5 points), `within_tolerance`, `mismatch`, or
# `not_comparable` -- every row of an embedded profile (other data, other teacher), every
# cell whose paper value is unknown, and every protocol the paper did not use (the linear probe).
# `skipped` rows name a model or dataset the profile asked for that could not run here (a pretrained
# baseline without its weights, a dataset that is not prepared), with the reason in `note`.
#
# This notebook renders the table as markdown (`summary.md`, the text the README shows), draws it,
# and checks it is complete and consistent.

# %% tags=["parameters"]
profile = "smoke"

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from w2clib._io import atomic_write_text
from w2clib.config import load_profile
from w2clib.evaluate.plots import figure_style, plot_summary_panels, save_figure
from w2clib.evaluate.results import (
    COLUMNS,
    STATUSES,
    TASKS,
    decide_status,
    paper_reference,
    paper_value,
    read_summary,
    render_report,
)

P = load_profile(profile)
path = P.results_dir / "summary.csv"
if not path.is_file():
    raise FileNotFoundError(f"{path} does not exist: run the evaluation notebooks 04-08 with profile {P.name!r} first")
summary = read_summary(path)
rows = summary[summary["profile"] == P.name]
print(f"{path}: {len(summary)} rows, {len(rows)} of profile {P.name!r}")
rows.groupby(["task", "model"]).size().unstack(fill_value=0)

# %% [markdown]
# ## The paper's numbers
# What the `paper` profile is held against, with independent re-runs of the released checkpoint
# for context (these are not the paper's numbers):

# %%
paper_reference()

# %% [markdown]
# ## The table

# %%
report = render_report(summary, profile=P.name, compare_with_paper=P.compare_with_paper)
atomic_write_text(P.results_dir / "summary.md", report)
display(Markdown(report))

# %% [markdown]
# ## Figure
# One panel per task, every row but the data-fraction curve (notebook 07 draws that) and, for
# retrieval, R@1 and MRR only (notebook 06 shows every metric): bars are mean ± std, dashed lines
# chance, black diamonds the paper's values where known.

# %%
with figure_style():
    fig = plot_summary_panels(rows, title=f"All results, profile {P.name}")
    save_figure(fig, "11_summary", P.figures_dir)
    plt.show()

# %% [markdown]
# ## Checks
# The file has exactly the columns above, a valid task and status on every row, no duplicate cell,
# every evaluation notebook contributed rows, and every status follows from the row's own numbers
# (recomputed here). Embedded rows are all `not_comparable` and carry no paper value; paper-profile
# rows of a known cell carry the paper's value and tolerance.

# %%
assert list(summary.columns) == COLUMNS
assert set(rows["task"]) <= set(TASKS) and set(rows["status"]) <= set(STATUSES)
assert not rows.duplicated(["paper_ref", "task", "dataset", "protocol", "metric", "model"]).any()
assert {"zero-shot", "retrieval", "data-fraction"} <= set(rows["task"]), set(rows["task"])
assert set(rows["task"]) & {"classification", "tagging"}
skipped = rows[rows["status"] == "skipped"]
assert skipped["ours_mean"].isna().all() and (skipped["note"].astype(str).str.len() > 0).all(), skipped
assert all(f"`{r.model}`" in report for r in skipped.itertuples(index=False))  # listed under their task
rows = rows[rows["status"] != "skipped"]
assert rows["ours_mean"].notna().all() and rows["commit"].astype(str).str.len().gt(0).all()
assert rows.loc[rows["model"] == "wav2clip", "checkpoint_sha256"].astype(str).str.len().eq(64).all()
for r in rows.itertuples(index=False):
    expected = decide_status(None if pd.isna(r.paper) else r.paper, r.ours_mean, r.ours_std, r.tolerance)
    assert r.status == expected, r
    if P.compare_with_paper and r.model == "wav2clip" and "linear" not in r.protocol:
        known = paper_value(r.task, r.dataset, r.metric)
        assert (known is None and pd.isna(r.paper)) or (known is not None and r.paper == known.value), r
if not P.compare_with_paper:
    assert (rows["status"] == "not_comparable").all() and rows["paper"].isna().all()
assert all(f"{v:.2f}" in report for v in rows["ours_mean"])  # every number is in the markdown
print("checks passed")
