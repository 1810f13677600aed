"""Probes on frozen embeddings: an MLP (the paper's kind) and a linear (logistic) classifier.

The paper does not state the probe's hyper-parameters, so they are chosen here, per split, on
validation rows *inside the training side* (:class:`w2clib.evaluate.protocols.Split`), then the
probe is refitted on the whole training side with the chosen values and scored once on the test
side.  Features are standardised with statistics of the rows being fitted only.

* ``linear``: multinomial logistic regression (one-vs-rest sigmoid for multi-label), L2 penalty
  chosen from ``linear_l2``; full-batch L-BFGS, so the fit is deterministic and fast on CPU.
* ``mlp``: one hidden layer (ReLU, dropout), AdamW; hidden size and weight decay chosen from the
  grids, the number of epochs by early stopping on the validation rows.

Scores: top-1 accuracy (single-label) or macro mean average precision over classes that have a
positive test item (multi-label, FSD50K).  Everything is seeded: the same inputs and seed give the
same numbers.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import nn

from .protocols import Split

if TYPE_CHECKING:
    from sklearn.preprocessing import StandardScaler

__all__ = [
    "ProbeConfig",
    "FittedProbe",
    "ProbeResult",
    "fit_probe",
    "select_and_fit",
    "run_probe",
    "score",
    "mean_average_precision",
    "torch_threads",
]

ProbeKind = Literal["mlp", "linear"]


@dataclass
class ProbeConfig:
    """Probe hyper-parameters and the grids they are selected from (profile ``evaluate.probe``)."""

    mlp_hidden: list[int] = field(default_factory=lambda: [512])  # grid of hidden-layer sizes
    mlp_weight_decay: list[float] = field(default_factory=lambda: [1e-4, 1e-2])  # grid, AdamW
    mlp_lr: float = 1e-3  # AdamW learning rate
    mlp_dropout: float = 0.1  # dropout after the hidden layer
    mlp_max_epochs: int = 100  # upper bound; early stopping picks the epoch count
    mlp_patience: int = 10  # epochs without validation improvement before stopping
    batch_size: int = 256  # MLP mini-batch size (rows)
    linear_l2: list[float] = field(
        default_factory=lambda: [1e-4, 1e-3, 1e-2, 1e-1]
    )  # grid, L2 penalty
    linear_max_iter: int = 200  # L-BFGS iterations
    val_fraction: float = 0.2  # stratified validation share when the split has no validation rows
    min_val_per_class: int = 1  # below this many training rows per class (x2), skip selection
    num_threads: int = (
        1  # torch CPU threads while fitting (small matrices run fastest on one; 0 = torch default)
    )

    def __post_init__(self) -> None:
        for name in ("mlp_hidden", "mlp_weight_decay", "linear_l2"):
            if not list(getattr(self, name)):
                raise ValueError(f"ProbeConfig.{name} must list at least one value")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"ProbeConfig.val_fraction must be in (0, 1), got {self.val_fraction}")


def mean_average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Macro mAP over classes with at least one positive; (n, C) 0/1 targets and (n, C) scores."""
    from sklearn.metrics import average_precision_score

    keep = y_true.sum(axis=0) > 0
    if not keep.any():
        raise ValueError("no class has a positive item: mAP is undefined")
    return float(average_precision_score(y_true[:, keep], scores[:, keep], average="macro"))


def score(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Accuracy for (n,) integer targets, macro mAP for (n, C) 0/1 targets; ``scores`` (n, C)."""
    if y_true.ndim == 2:
        return mean_average_precision(y_true, scores)
    return float((scores.argmax(axis=1) == y_true).mean())


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (``n <= 0``: unchanged), then restore."""
    before = torch.get_num_threads()
    if n > 0:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit_scaler(x: np.ndarray) -> StandardScaler:
    """Per-feature mean/std of the rows being fitted (float64 statistics; constant features keep scale 1)."""
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit(np.asarray(x, dtype=np.float64))


def _scaled(scaler: StandardScaler, x: np.ndarray) -> torch.Tensor:
    """(n, D) rows standardised by ``scaler`` as a float32 tensor."""
    return torch.from_numpy(scaler.transform(np.asarray(x, dtype=np.float64)).astype(np.float32))


def _n_outputs(y: np.ndarray, n_classes: int | None = None) -> int:
    if y.ndim == 2:
        return int(y.shape[1])
    return int(n_classes) if n_classes is not None else int(y.max()) + 1


def _loss_fn(y: np.ndarray) -> nn.Module:
    return nn.BCEWithLogitsLoss() if y.ndim == 2 else nn.CrossEntropyLoss()


def _targets(y: np.ndarray) -> torch.Tensor:
    return (
        torch.from_numpy(y.astype(np.float32))
        if y.ndim == 2
        else torch.from_numpy(y.astype(np.int64))
    )


@dataclass
class FittedProbe:
    """A trained probe with the standardiser of its training rows."""

    kind: str
    net: nn.Module
    standardizer: StandardScaler  # fitted on the training rows
    hparams: dict[str, Any]
    val_score: float | None = None  # best validation score during selection (None: no selection)

    def predict_scores(self, x: np.ndarray) -> np.ndarray:
        """(n, D) float embeddings -> (n, C) float32 logits."""
        self.net.eval()
        with torch.inference_mode():
            return self.net(_scaled(self.standardizer, x)).numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n, D) -> (n,) int64 predicted class (single-label)."""
        return self.predict_scores(x).argmax(axis=1)


def _fit_linear(xs: torch.Tensor, y: np.ndarray, n_out: int, l2: float, max_iter: int) -> nn.Module:
    net = nn.Linear(xs.shape[1], n_out)
    nn.init.zeros_(net.weight)  # convex problem: a fixed start makes the optimum reproducible
    nn.init.zeros_(net.bias)
    target, loss_fn = _targets(y), _loss_fn(y)
    opt = torch.optim.LBFGS(
        net.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe"
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(net(xs), target) + 0.5 * l2 * net.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return net.eval()


def _mlp(d_in: int, hidden: int, n_out: int, dropout: float) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d_in, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_out)
    )


def _train_mlp(
    xs: torch.Tensor,
    y: np.ndarray,
    n_out: int,
    hidden: int,
    weight_decay: float,
    config: ProbeConfig,
    seed: int,
    epochs: int,
    val: tuple[torch.Tensor, np.ndarray] | None = None,
) -> tuple[nn.Module, int, float | None]:
    """Train for ``epochs`` (or early-stop on ``val``); returns (net, best epoch count, best val score)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = _mlp(xs.shape[1], hidden, n_out, config.mlp_dropout)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.AdamW(net.parameters(), lr=config.mlp_lr, weight_decay=weight_decay)
        target, loss_fn = _targets(y), _loss_fn(y)
        # Early stopping compares (validation score, -validation loss): accuracy plateaus quickly,
        # the loss keeps telling whether the margin still improves.
        best, best_epoch, best_state, stale = (-np.inf, -np.inf), epochs, None, 0
        for epoch in range(1, epochs + 1):
            net.train()
            order = torch.randperm(len(xs), generator=gen)
            for start in range(0, len(xs), config.batch_size):
                idx = order[start : start + config.batch_size]
                opt.zero_grad()
                loss_fn(net(xs[idx]), target[idx]).backward()
                opt.step()
            if val is None:
                continue
            net.eval()
            with torch.inference_mode():
                logits = net(val[0])
                current = (score(val[1], logits.numpy()), -float(loss_fn(logits, _targets(val[1]))))
            if current[0] > best[0] + 1e-9 or (
                current[0] >= best[0] - 1e-9 and current[1] > best[1] + 1e-4
            ):
                best, best_epoch, stale = current, epoch, 0
                best_state = {k: v.clone() for k, v in net.state_dict().items()}
            else:
                stale += 1
                if stale >= config.mlp_patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
    return net.eval(), best_epoch, (None if val is None else float(best[0]))


def fit_probe(
    x: np.ndarray,
    y: np.ndarray,
    kind: ProbeKind,
    hparams: dict[str, Any],
    config: ProbeConfig,
    seed: int = 0,
    n_classes: int | None = None,
) -> FittedProbe:
    """Fit one probe with fixed hyper-parameters on all of ``x`` (n, D), ``y`` (n,) or (n, C).

    ``n_classes`` sizes the output layer (default: ``y.max() + 1``), so a class missing from the
    training rows still has a (never predicted) column.
    """
    std = _fit_scaler(x)
    xs, n_out = _scaled(std, x), _n_outputs(y, n_classes)
    if kind == "linear":
        net = _fit_linear(xs, y, n_out, float(hparams["l2"]), config.linear_max_iter)
    elif kind == "mlp":
        net, _, _ = _train_mlp(
            xs,
            y,
            n_out,
            int(hparams["hidden"]),
            float(hparams["weight_decay"]),
            config,
            seed,
            int(hparams["epochs"]),
        )
    else:
        raise ValueError(f"unknown probe kind {kind!r}; use 'mlp' or 'linear'")
    return FittedProbe(kind, net, std, dict(hparams))


def _validation_rows(y: np.ndarray, config: ProbeConfig, seed: int) -> np.ndarray | None:
    """A stratified validation subset of the training rows, or None when classes are too small."""
    labels = y.argmax(axis=1) if y.ndim == 2 else y  # multi-label: stratify on one label per row
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        rows = np.flatnonzero(labels == cls)
        if len(rows) < 2 * config.min_val_per_class:
            continue  # too few to give any away: the class stays in training only
        n_val = max(config.min_val_per_class, int(round(config.val_fraction * len(rows))))
        chosen.append(rng.permutation(rows)[:n_val])
    if not chosen:
        return None
    return np.sort(np.concatenate(chosen))


def _grid(kind: str, config: ProbeConfig) -> list[dict[str, Any]]:
    # Strongest regularisation first: selection keeps the earlier point on ties.
    if kind == "linear":
        return [{"l2": float(v)} for v in sorted(config.linear_l2, reverse=True)]
    decays = sorted(config.mlp_weight_decay, reverse=True)
    return [
        {"hidden": int(h), "weight_decay": float(w)}
        for h, w in itertools.product(config.mlp_hidden, decays)
    ]


def select_and_fit(
    x: np.ndarray,
    y: np.ndarray,
    kind: ProbeKind,
    config: ProbeConfig | None = None,
    *,
    seed: int = 0,
    val_rows: np.ndarray | None = None,
    n_classes: int | None = None,
) -> FittedProbe:
    """Choose hyper-parameters on validation rows of the *training* data, then refit on all of it.

    Args:
        x: (n, D) float training embeddings; y: (n,) int64 or (n, C) 0/1 training targets.
        val_rows: positions (into ``x``) of the validation rows; ``None`` draws a stratified
            ``config.val_fraction`` subset with ``seed``.

    Returns:
        The probe refitted on all ``n`` rows; ``hparams`` records the choice and ``val_score`` its
        validation score.  With too little data for a validation split the first grid point is used.
    """
    config = config or ProbeConfig()
    if val_rows is None:
        val_rows = _validation_rows(y, config, seed)
    grid = _grid(kind, config)
    if val_rows is None or len(val_rows) == 0 or len(val_rows) == len(x):
        first = dict(grid[0], epochs=config.mlp_max_epochs) if kind == "mlp" else grid[0]
        return fit_probe(x, y, kind, first, config, seed, n_classes)
    fit_mask = np.ones(len(x), dtype=bool)
    fit_mask[val_rows] = False
    x_fit, y_fit, x_val, y_val = x[fit_mask], y[fit_mask], x[val_rows], y[val_rows]
    std = _fit_scaler(x_fit)
    xs_fit, xs_val, n_out = _scaled(std, x_fit), _scaled(std, x_val), _n_outputs(y, n_classes)
    best_score, best_point = -np.inf, grid[0]
    for point in grid:
        if kind == "linear":
            net = _fit_linear(xs_fit, y_fit, n_out, point["l2"], config.linear_max_iter)
            with torch.inference_mode():
                val_score = score(y_val, net(xs_val).numpy())
            chosen = dict(point)
        else:
            _, epochs, val_score = _train_mlp(
                xs_fit,
                y_fit,
                n_out,
                point["hidden"],
                point["weight_decay"],
                config,
                seed,
                config.mlp_max_epochs,
                val=(xs_val, y_val),
            )
            chosen = dict(point, epochs=epochs)
        if val_score > best_score + 1e-12:  # ties keep the earlier (more regularised) point
            best_score, best_point = float(val_score), chosen
    probe = fit_probe(x, y, kind, best_point, config, seed, n_classes)
    probe.val_score = best_score
    return probe


@dataclass
class ProbeResult:
    """Scores of one probe kind over splits and seeds."""

    kind: str
    scores: pd.DataFrame  # columns: seed, split, score, val_score, hparams
    predictions: (
        pd.DataFrame
    )  # single-label: seed, split, row, y_true, y_pred (row = manifest position)

    @property
    def mean(self) -> float:
        """Mean over every (split, seed) score."""
        return float(self.scores["score"].mean())

    @property
    def std(self) -> float:
        """Population std over every (split, seed) score (0 for a single value)."""
        return float(self.scores["score"].std(ddof=0))

    @property
    def n_seeds(self) -> int:
        return int(self.scores["seed"].nunique())

    def per_seed(self) -> pd.Series:
        """Mean over splits for each seed (e.g. the 5-fold CV accuracy of each seed)."""
        return self.scores.groupby("seed")["score"].mean()


def run_probe(
    x: np.ndarray,
    y: np.ndarray,
    splits: Sequence[Split],
    kind: ProbeKind = "mlp",
    config: ProbeConfig | None = None,
    seeds: Sequence[int] = (0,),
) -> ProbeResult:
    """Evaluate a probe under a protocol: select, refit and test once per (split, seed).

    Args:
        x: (n, D) float32 embeddings of every manifest row; y: (n,) int64 or (n, C) 0/1 targets.
        splits: from :func:`w2clib.evaluate.protocols.make_splits`.

    Returns:
        A :class:`ProbeResult`; ``mean``/``std`` over folds and seeds.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(y):
        raise ValueError(
            f"x must be (n, D) with one row per target; got x {x.shape} and y {np.shape(y)}"
        )
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN/inf; re-extract them (a silent or corrupt clip?)")
    config = config or ProbeConfig()
    n_classes = None if y.ndim == 2 else int(y.max()) + 1
    rows, preds = [], []
    with torch_threads(config.num_threads):
        _run(x, y, splits, kind, config, seeds, n_classes, rows, preds)
    predictions = pd.concat(preds, ignore_index=True) if preds else pd.DataFrame()
    return ProbeResult(kind, pd.DataFrame(rows), predictions)


def prediction_frame(seed: int, split: Split, y: np.ndarray, scores: np.ndarray) -> pd.DataFrame:
    """Per test row of a single-label split: the true and the predicted class (confusion matrices)."""
    return pd.DataFrame({"seed": seed, "split": split.name, "row": split.test,
                         "y_true": y[split.test], "y_pred": scores.argmax(axis=1)})


def _run(
    x: np.ndarray,
    y: np.ndarray,
    splits: Sequence[Split],
    kind: ProbeKind,
    config: ProbeConfig,
    seeds: Sequence[int],
    n_classes: int | None,
    rows: list[dict[str, Any]],
    preds: list[pd.DataFrame],
) -> None:
    for seed in seeds:
        for split in splits:
            val_rows = None
            if split.val is not None:
                val_rows = np.flatnonzero(np.isin(split.train, split.val))  # positions within train
            probe = select_and_fit(
                x[split.train],
                y[split.train],
                kind,
                config,
                seed=seed,
                val_rows=val_rows,
                n_classes=n_classes,
            )
            out = probe.predict_scores(x[split.test])
            rows.append(
                {
                    "seed": seed,
                    "split": split.name,
                    "score": score(y[split.test], out),
                    "val_score": probe.val_score,
                    "hparams": probe.hparams,
                }
            )
            if np.ndim(y) == 1:
                preds.append(prediction_frame(seed, split, y, out))
