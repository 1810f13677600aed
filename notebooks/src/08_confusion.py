# %% [markdown]
# # 08 · Where the classes get confused (Figure 3)
#
# The paper's Figure 3 shows the confusion matrix of a baseline (YAMNet), Wav2CLIP's, and their
# difference: which classes distillation from pictures helps, and which it hurts. Here each matrix
# comes from the MLP probe of notebook 04's protocol (first seed; under cross-validation every test
# fold is pooled, so each clip counts once). Rows are the true classes and columns the predictions,
# both in the **dataset's own class order**; each row is normalised to 1, so the diagonal is the
# per-class recall. In the difference panel blue on the diagonal means Wav2CLIP recalls the class
# better, blue off the diagonal means it confuses the pair more often.
#
# Offline profiles draw it on the 16 GM families (train FluidR3, test TimGM6mb) against the
# `evaluate.confusion_baseline` (YAMNet needs its downloaded weights; `logmel_stats` stands in).

# %% tags=["parameters"]
profile = "smoke"

# %%
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from w2clib.config import load_profile
from w2clib.evaluate.confusion import read_confusions, write_confusions
from w2clib.evaluate.steps import confusion_matrices, usable_models
from w2clib.evaluate.suite import evaluation_sets, load_context
from w2clib.evaluate.plots import figure_style, plot_confusions, save_figure

P = load_profile(profile)
ctx = load_context(P)
cfg = ctx.config
P.results_dir.mkdir(parents=True, exist_ok=True)
evalset = evaluation_sets(ctx, [cfg.confusion_dataset])[cfg.confusion_dataset]
# the profile's baseline, else the first baseline that runs here (skipped ones say why)
candidates, skipped = usable_models(ctx, [cfg.confusion_baseline, *cfg.baselines])
baseline = next(m for m in candidates if m != "wav2clip")
print(f"baseline: {baseline}" + (f" (skipped: {skipped})" if skipped else ""))
pd.DataFrame([evalset.summary()])

# %%
matrices, meta = confusion_matrices(ctx, evalset, baseline)
path = write_confusions(P.results_dir / "08_confusion.json", evalset.classes, matrices,
                        baseline=baseline, **meta)
classes, matrices, meta = read_confusions(path)
{k: round(v, 4) if isinstance(v, float) else v for k, v in meta.items()}

# %% [markdown]
# ## Figure 3

# %%
with figure_style():
    fig = plot_confusions((classes, matrices, meta), baseline=baseline)
    save_figure(fig, "08_confusion", P.figures_dir)
    plt.show()

# %% [markdown]
# Per-class recall (the diagonals) and the classes that gained or lost the most:

# %%
recall = pd.DataFrame({name: np.diag(m) for name, m in matrices.items()}, index=classes)
recall["difference"] = recall["wav2clip"] - recall[baseline]
recall.sort_values("difference").round(3)

# %% [markdown]
# ## Checks
# Both matrices are square in the dataset's class order, every row with a test clip sums to 1, the
# mean diagonal equals each model's pooled accuracy when classes are balanced (here: up to the class
# sizes), and the difference panel is exactly Wav2CLIP minus the baseline.

# %%
n = len(classes)
assert classes == evalset.classes
for name, m in matrices.items():
    assert m.shape == (n, n)
    sums = m.sum(axis=1)
    assert np.allclose(sums[sums > 0], 1.0), name
    assert 0.0 <= meta[f"accuracy_{name}"] <= 1.0
test_rows = np.concatenate([split.test for split in evalset.splits()])  # every clip scored once
counts = np.bincount(evalset.labels()[test_rows], minlength=n)
equal_folds = len({len(split.test) for split in evalset.splits()}) == 1
for name, m in matrices.items():  # class-weighted mean recall = pooled accuracy = the mean over equal folds
    if equal_folds:
        assert np.isclose((np.diag(m) * counts).sum() / counts.sum(), meta[f"accuracy_{name}"], atol=1e-6), name
assert np.allclose(recall["difference"], np.diag(matrices["wav2clip"] - matrices[baseline]))
print("checks passed")
