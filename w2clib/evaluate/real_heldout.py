"""Evaluation on real recordings held out **by source**: packages the encoder never saw.

For each source of :mod:`w2clib.data.embedded.realsounds` (one upstream project each), three
retrieval tasks, each with its exact chance level (:func:`w2clib.evaluate.retrieval.chance_levels`):

* ``image`` -- (sources that ship pictures) a sound ranks the source's distinct pictures, embedded
  by the teacher's image tower; the picture of the thing it depicts is the hit.  Several sounds may
  share one picture (three farm recordings, one farm tile).
* ``label`` -- a sound ranks the source's labels, each represented by the item's *training target*
  kind: the teacher's ImageNet class prototype where the label has a class, else the teacher's
  text-tower prototype of the label (:data:`PHOTO_TEMPLATES`, the prompts of
  :meth:`w2clib.teachers.base.Teacher.class_prototypes`).
* ``zeroshot`` -- the same labels through the teacher's text tower with the zero-shot prompt set
  (``templates``, default CLIP-style ``clip_ensemble``).  For a source with no ImageNet labels
  ``label`` and ``zeroshot`` differ only in the prompts.

A pooled pseudo-source ``all`` (:data:`POOLED`) ranks every held-out item against the labels of all
sources together (more candidates, harder, and the most queries); ``summarise`` also gives the
macro mean over the sources (``mean``).

Models: any :class:`~w2clib.model.Wav2CLIP` (trained, or :func:`random_like` with seeded random
weights), and ``logmel_stats`` -- the project's feature baseline.  Log-mel statistics live in no
image space, so they get a map: a ridge regression from standardised log-mel statistics to the
teacher targets (picture embedding, else label target), fitted **leave one source out** -- on the
other held-out sources' items -- and applied to the evaluated source.  That baseline has seen real
recordings with targets (of other sources); the encoders have not.

A clip longer than the window (the training crop) is the mean of its consecutive windows
(:func:`w2clib.evaluate.embedded_heldout.windows_of`); a shorter one is zero-padded.

    python -m w2clib.evaluate.real_heldout --model runs/mini/pretrain --random-seeds 0 1 2 \\
        --out results/real_heldout.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..model import Wav2CLIP
from .embedded_heldout import random_like, windows_of
from ..metrics import chance_levels, retrieval_metrics
from .zeroshot import PHOTO_TEMPLATES, label_targets, text_classifier

__all__ = [
    "PHOTO_TEMPLATES",
    "POOLED",
    "REAL_TASKS",
    "RealHeldOutEvaluator",
    "SourceSet",
    "by_model",
    "logmel_loso",
    "heldout_sources",
    "real_heldout_evaluator",
    "summarise",
    "trained_real_sources",
]

REAL_TASKS = ("image", "label", "zeroshot")
POOLED = "all"  # the pooled pseudo-source: every held-out item against every held-out label
KS = (1, 5)
METRICS = ("R@1", "R@5", "MRR")


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass
class SourceSet:
    """One held-out source, ready to score.

    Attributes:
        name: the source.
        rows: indices of its items in the evaluator's item order.
        gallery: task -> (G, D) unit embeddings of the candidates (``image`` absent without pictures).
        relevant: task -> (len(rows), G) bool, each row one true candidate.
        target: (len(rows), D) unit teacher target of each item (picture, else label target).
        picture_label: (P, L) bool, which labels each picture of ``gallery["image"]`` depicts
            (``None`` without an image task): the teacher's own picture -> label ranking, the
            headroom of the image task.
    """

    name: str
    rows: np.ndarray
    gallery: dict[str, np.ndarray]
    relevant: dict[str, np.ndarray]
    target: np.ndarray
    picture_label: np.ndarray | None = None

    @property
    def tasks(self) -> list[str]:
        return [t for t in REAL_TASKS if t in self.gallery]


class RealHeldOutEvaluator:
    """Scores encoders on held-out real-recording sources (see the module docstring).

    Args:
        waves: every item's waveform, float32 at 16 kHz, in manifest order.
        sources: the per-source galleries and relevance (:class:`SourceSet`).
        clip_samples: window length (the training crop), samples at 16 kHz.
        batch_size: windows per forward pass (memory only).
        ridge_alpha: ridge penalty of the log-mel map (on standardised features).
    """

    def __init__(self, waves: Sequence[np.ndarray], sources: Sequence[SourceSet], *, clip_samples: int,
                 batch_size: int = 64, ridge_alpha: float = 10.0, templates: str = "") -> None:
        if not sources:
            raise ValueError("sources is empty: pick at least one held-out source")
        self.waves = [np.asarray(w, dtype=np.float32).reshape(-1) for w in waves]
        self.windows, self.owner = windows_of(self.waves, clip_samples)
        self.sources = list(sources)
        self.batch_size, self.ridge_alpha, self.templates = batch_size, ridge_alpha, templates

    def _pool(self, per_window: np.ndarray) -> np.ndarray:
        out = np.zeros((len(self.waves), per_window.shape[1]), dtype=np.float64)
        np.add.at(out, self.owner, per_window)
        return out / np.bincount(self.owner, minlength=len(self.waves))[:, None]

    def embed(self, model: Wav2CLIP) -> np.ndarray:
        """(n_items, D) unit audio embeddings of every item (mean over windows)."""
        import torch

        from ..inference import encode_waveforms

        emb = encode_waveforms(model, torch.from_numpy(self.windows), batch_size=self.batch_size).numpy()
        return _unit(self._pool(emb))

    def logmel_features(self) -> np.ndarray:
        """(n_items, 128) log-mel statistics of every item (mean over windows)."""
        from .baselines import logmel_stats

        feats = np.concatenate([logmel_stats(self.windows[i : i + 256]) for i in range(0, len(self.windows), 256)])
        return self._pool(feats)

    def score(self, emb: np.ndarray | dict[str, np.ndarray]) -> dict[tuple[str, str, str], float]:
        """``{(source, task, metric): value}`` for item embeddings ``emb`` (one array for all
        sources, or one per source name in that source's row order)."""
        out = {}
        for src in self.sources:
            e = _unit(emb[src.name]) if isinstance(emb, dict) else _unit(emb[src.rows])
            for task in src.tasks:
                metrics = retrieval_metrics(e @ src.gallery[task].T, src.relevant[task], KS)
                out.update({(src.name, task, m): metrics[m] for m in METRICS})
        return out

    def chance(self) -> dict[tuple[str, str, str], float]:
        """Exact expected value of every metric under a random ranking, same keys as :meth:`score`."""
        out = {}
        for src in self.sources:
            for task in src.tasks:
                levels = chance_levels(src.relevant[task], KS)
                out.update({(src.name, task, m): levels[m] for m in METRICS})
        return out

    def teacher_rows(self) -> list[dict[str, Any]]:
        """The teacher's own picture -> label ranking on every source with pictures (queries: the
        distinct pictures; tasks ``label`` and ``zeroshot`` as for sounds), as :meth:`table` rows
        of model ``teacher_pictures``: how far the pictures themselves point to their labels."""
        rows = []
        for src in self.sources:
            if src.picture_label is None:
                continue
            for task in ("label", "zeroshot"):
                sim = src.gallery["image"] @ src.gallery[task].T
                metrics = retrieval_metrics(sim, src.picture_label, KS)
                levels = chance_levels(src.picture_label, KS)
                rows.extend({"model": "teacher_pictures", "source": src.name, "task": task, "metric": m,
                             "value": metrics[m], "chance": levels[m], "n_queries": src.picture_label.shape[0],
                             "n_candidates": src.picture_label.shape[1],
                             "templates": self.templates if task == "zeroshot" else ""} for m in METRICS)
        return rows

    def logmel_scores(self) -> dict[tuple[str, str, str], float]:
        """Scores of log-mel statistics mapped into the teacher space leave-one-source-out
        (:func:`logmel_loso`).  Needs at least two sources."""
        feats = self.logmel_features()
        return self.score(logmel_loso(feats, self.sources, self.ridge_alpha))

    def table(self, models: dict[str, Wav2CLIP], *, logmel: bool = True, **columns: Any) -> pd.DataFrame:
        """One row per (model, source, task, metric): value, chance, queries, candidates.

        ``models``: name -> encoder (e.g. ``{"trained": m, "random_seed0": random_like(m, 0)}``);
        with ``logmel`` (and two or more sources) a ``logmel_stats`` row set is added, and for
        sources with pictures the teacher's own picture -> label rows (:meth:`teacher_rows`; their
        ``n_queries`` are pictures, not sounds).  ``columns`` are added to every row.
        """
        chance = self.chance()
        results = {name: self.score(self.embed(model)) for name, model in models.items()}
        if logmel and sum(s.name != POOLED for s in self.sources) >= 2:
            results["logmel_stats"] = self.logmel_scores()
        size = {(s.name, t): s.relevant[t].shape for s in self.sources for t in s.tasks}
        rows = []
        for name, values in results.items():
            for (source, task, metric), value in values.items():
                rows.append({**columns, "model": name, "source": source, "task": task, "metric": metric,
                             "value": value, "chance": chance[(source, task, metric)],
                             "n_queries": size[(source, task)][0], "n_candidates": size[(source, task)][1],
                             "templates": self.templates if task == "zeroshot" else ""})
        rows.extend({**columns, **row} for row in self.teacher_rows())
        return pd.DataFrame(rows)


def logmel_loso(features: np.ndarray, sources: Sequence[SourceSet], alpha: float = 10.0) -> dict[str, np.ndarray]:
    """Per source: log-mel ``features`` of its items mapped into the teacher space by a ridge
    regression fitted on the *other* sources' items and targets (standardised with their statistics).
    The pooled set (:data:`POOLED`) gets, for each item, the prediction made for its own source.

    Returns ``{source: (n_items_of_source, D)}``.
    """
    from sklearn.linear_model import Ridge

    real = [s for s in sources if s.name != POOLED]
    if len(real) < 2:
        raise ValueError("the leave-one-source-out log-mel map needs at least two sources")
    out = {}
    for src in real:
        others = [s for s in real if s.name != src.name]
        x = np.concatenate([features[s.rows] for s in others])
        y = np.concatenate([s.target for s in others])
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
        ridge = Ridge(alpha=alpha).fit((x - mean) / std, y)
        out[src.name] = ridge.predict((features[src.rows] - mean) / std)
    for src in sources:
        if src.name == POOLED:  # each item keeps the prediction of the map that did not see its source
            by_row = {int(r): v for s in real for r, v in zip(s.rows, out[s.name])}
            out[POOLED] = np.stack([by_row[int(r)] for r in src.rows])
    return out


def _source_sets(manifest: pd.DataFrame, teacher: Any, templates: str, pooled: bool = True) -> list[SourceSet]:
    """Galleries, relevance and targets of every source in ``manifest`` (row order = manifest order);
    with ``pooled`` (and two or more sources) also the set :data:`POOLED` of all their items, whose
    galleries are the union of the sources' labels (and pictures, where every item has one)."""
    from ..data.embedded.tuxpaint import load_stamp_image

    labels = sorted(manifest["label"].unique())
    imagenet = manifest.groupby("label")["imagenet_index"].max().to_dict()
    label_target = label_targets(teacher, labels, imagenet)
    zeroshot = dict(zip(labels, text_classifier(teacher, labels, templates)))
    pictures = sorted(p for p in manifest["image_path"].astype(str).unique() if p)
    picture_emb = dict(zip(pictures, teacher.embed_images([load_stamp_image(p) for p in pictures]))) if pictures else {}

    def one_set(name: str, part: pd.DataFrame) -> SourceSet | None:
        names = sorted(part["label"].unique())
        if len(names) < 2:
            return None  # one label: every ranking is a hit, nothing to measure
        label_rel = part["label"].to_numpy()[:, None] == np.array(names)[None, :]
        gallery = {"label": _unit(np.stack([label_target[n] for n in names])),
                   "zeroshot": _unit(np.stack([zeroshot[n] for n in names]))}
        relevant = {"label": label_rel, "zeroshot": label_rel}
        target = np.stack([label_target[n] for n in part["label"]])
        paths = part["image_path"].astype(str).to_numpy()
        own = sorted(p for p in set(paths) if p)
        picture_label = None
        if len(own) >= 2 and all(paths):
            gallery["image"] = _unit(np.stack([picture_emb[p] for p in own]))
            relevant["image"] = paths[:, None] == np.array(own)[None, :]
            picture_label = (relevant["image"].T.astype(int) @ label_rel.astype(int)) > 0
        has_picture = paths != ""
        if has_picture.any():
            target[has_picture] = np.stack([picture_emb[p] for p in paths[has_picture]])
        return SourceSet(name, part.index.to_numpy(), gallery, relevant, _unit(target), picture_label)

    sets = [one_set(str(name), part) for name, part in manifest.groupby("source", sort=True)]
    sets = [s for s in sets if s is not None]
    if pooled and len(sets) >= 2:
        every = manifest.loc[np.concatenate([s.rows for s in sets])].sort_index()
        union = one_set(POOLED, every)
        if union is not None:
            sets.append(union)
    return sets


def trained_real_sources(checkpoint: str | Path) -> list[str]:
    """The ``real_sounds`` sources a checkpoint folder's run trained on (its saved
    ``pretrain.data_options.real_sources``; empty for other runs and for bare weight files)."""
    import json

    config = Path(checkpoint) / "config.json"
    if not config.is_file():
        return []
    training = json.loads(config.read_text()).get("training") or {}
    options = (training.get("pretrain") or {}).get("data_options") or {}
    return list(options.get("real_sources") or [])


def heldout_sources(manifest: pd.DataFrame, trained_on: Sequence[str] = ()) -> list[str]:
    """The sources of a ``real_sounds`` manifest to evaluate on: those held out for evaluation
    (``split == "test"``) and not among ``trained_on`` -- never a source the model has heard."""
    test = manifest.loc[manifest["split"] == "test", "source"].unique()
    return sorted(set(test) - set(trained_on))


def real_heldout_evaluator(teacher: Any, manifest: pd.DataFrame, *, sources: Sequence[str] | None = None,
                           templates: str = "clip_ensemble", clip_seconds: float = 2.0, batch_size: int = 64,
                           ridge_alpha: float = 10.0, pooled: bool = True) -> RealHeldOutEvaluator:
    """An evaluator over the ``real_sounds`` manifest (``w2clib.data.load_manifest("real_sounds")``),
    restricted to ``sources`` (default: :func:`heldout_sources`), with the encoder's ``teacher``; ``pooled`` adds
    the set :data:`POOLED` (every item against every label of the chosen sources).

    Decodes every clip (resampled to 16 kHz) and runs the teacher once over pictures and prompts.
    """
    from ..data.embedded.realsounds import pick_sources
    from ..training.embedded import load_clips

    if clip_seconds <= 0:
        raise ValueError(f"clip_seconds must be > 0, got {clip_seconds}")
    part = pick_sources(manifest, heldout_sources(manifest) if sources is None else sources)
    return RealHeldOutEvaluator(load_clips(part["audio_path"].tolist()), _source_sets(part, teacher, templates, pooled),
                                clip_samples=round(clip_seconds * 16000), batch_size=batch_size,
                                ridge_alpha=ridge_alpha, templates=templates)


def by_model(table: pd.DataFrame, metric: str = "MRR") -> pd.DataFrame:
    """``metric`` of :meth:`RealHeldOutEvaluator.table` indexed by (source, task), a column per model
    (each random seed its own) and ``chance``, plus the macro mean over the sources per task
    (``source = "mean"``, the pooled set left out).  The teacher's picture rows are left out."""
    part = table[(table["metric"] == metric) & (table["model"] != "teacher_pictures")]
    wide = part.pivot_table(index=["source", "task"], columns="model", values="value")
    wide["chance"] = part.groupby(["source", "task"])["chance"].first()
    real = wide.drop(index=POOLED, level="source", errors="ignore")
    mean = real.groupby(level="task").mean()  # macro mean per model (and per random seed)
    mean.index = pd.MultiIndex.from_product([["mean"], mean.index], names=["source", "task"])
    return pd.concat([wide, mean])


def summarise(table: pd.DataFrame, metric: str = "MRR") -> pd.DataFrame:
    """Wide view of :meth:`RealHeldOutEvaluator.table`: one row per (source, task) -- plus the
    macro mean over the sources per task (``source = "mean"``, the pooled set left out) -- with a
    column per model and ``chance``.  Models named ``random_seed*`` become ``random`` (mean over
    seeds) and ``random_std`` (sample std over seeds; on the mean row, of the seeds' macro means).
    The teacher's picture rows (other queries) are left out: see :meth:`RealHeldOutEvaluator.teacher_rows`."""
    part = table[(table["metric"] == metric) & (table["model"] != "teacher_pictures")]
    wide = by_model(table, metric)
    seeds = [c for c in wide.columns if str(c).startswith("random_seed")]
    if seeds:  # then the spread over seeds, so the mean row's std is that of the macro mean
        wide.insert(0, "random_std", wide[seeds].std(axis=1, ddof=1) if len(seeds) > 1 else 0.0)
        wide.insert(0, "random", wide[seeds].mean(axis=1))
        wide = wide.drop(columns=seeds)
    wide["n_queries"] = part.groupby(["source", "task"])["n_queries"].first()
    wide["n_candidates"] = part.groupby(["source", "task"])["n_candidates"].first()
    order = [c for c in ("trained", "random", "random_std", "logmel_stats", "chance") if c in wide.columns]
    wide = wide[order + [c for c in wide.columns if c not in order]]
    return wide.reset_index()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: score a checkpoint (and seeded random weights, log-mel statistics) on the
    held-out real-recording sources; write the long table as CSV and print the MRR summary."""
    parser = argparse.ArgumentParser(prog="python -m w2clib.evaluate.real_heldout", description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="a checkpoint folder or file (w2clib.load_model)")
    parser.add_argument("--sources", nargs="*", default=None,
                        help="sources to score (default: every held-out source the model did not train on)")
    parser.add_argument("--random-seeds", nargs="*", type=int, default=[0, 1, 2],
                        help="seeds of the random-weight baselines")
    parser.add_argument("--templates", default="clip_ensemble", help="zero-shot prompt set")
    parser.add_argument("--clip-seconds", type=float, default=2.0, help="window length (the training crop)")
    parser.add_argument("--data-home", default=None, help="data home (default $W2C_DATA_HOME or the cache)")
    parser.add_argument("--out", default=None, help="CSV of the long table")
    parser.add_argument("--allow-unfinished", action="store_true",
                        help="score the last checkpoint of an interrupted training run (labelled as such)")
    args = parser.parse_args(argv)

    from .. import load_model
    from ..data import load_manifest, prepare
    from ..teachers import teacher_from_description

    model = load_model(args.model, allow_unfinished=args.allow_unfinished)
    teacher = teacher_from_description(model.config.teacher)
    prepare("real_sounds", args.data_home)
    manifest = load_manifest("real_sounds", args.data_home)
    sources = args.sources if args.sources is not None else heldout_sources(manifest, trained_real_sources(args.model))
    evaluator = real_heldout_evaluator(teacher, manifest, sources=sources, templates=args.templates,
                                       clip_seconds=args.clip_seconds)
    models = {"trained": model, **{f"random_seed{s}": random_like(model, s) for s in args.random_seeds}}
    table = evaluator.table(models)
    if args.out:
        from .._io import atomic_path

        with atomic_path(Path(args.out)) as tmp:
            table.to_csv(tmp, index=False)
    print(summarise(table).round(3).to_markdown(index=False))
    teacher_part = table[table["model"] == "teacher_pictures"]
    if len(teacher_part):
        print("\nthe teacher's own picture -> label ranking (queries: pictures):")
        print(teacher_part.pivot_table(index=["source", "task"], columns="metric", values="value").round(3)
              .to_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
