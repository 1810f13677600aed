"""One call per evaluation notebook: a task over every set and model, returning the table and summary rows.

This is the loop layer: it picks the sets and models a profile asks for, fetches their cached
embeddings (:mod:`w2clib.evaluate.suite`), skips what cannot run (and says why), and collects tables.
Scoring one model's embeddings of one set is :mod:`w2clib.evaluate.scoring`'s job.

Each function takes an :class:`w2clib.evaluate.suite.EvalContext` and the sets of
:func:`w2clib.evaluate.suite.evaluation_sets`, and returns a :class:`TaskOutput`: the detailed table
the notebook saves (CSV) before drawing anything, the rows for ``results/summary.csv``, and what was
skipped and why (a pretrained baseline without its weights, a set without captions).
"""

from __future__ import annotations

import sys

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .baselines import BaselineUnavailable
from .results import skipped_row
from .confusion import confusion_from_predictions
from .data_fraction import data_fraction_curve, probe_fit_score
from .probes import ProbeResult, run_probe, torch_threads
from .protocols import PROTOCOLS
from .retrieval import paired_retrieval
from .suite import (
    EvalContext,
    EvalSet,
    features,
    model_features,
    supervised_fit_score_cached,
    supervised_result,
)
from .scoring import (
    PROBE_NAMES,
    audio_to_image,
    chance_accuracy,
    class_photo_retrieval,
    classification,
    protocol_label,
    retrieval_rows,
    text_audio,
    zero_shot,
)

__all__ = [
    "TaskOutput",
    "usable_models",
    "classification_table",
    "zero_shot_table",
    "retrieval_table",
    "data_fraction_table",
    "confusion_matrices",
]

OFFLINE_MODELS = ("wav2clip", "random_init", "logmel_stats", "mfcc_stats", "supervised")


@dataclass
class TaskOutput:
    """What a notebook step produced."""

    table: pd.DataFrame  # the detailed numbers, saved as CSV by the notebook
    rows: list[dict[str, Any]]  # summary.csv rows (w2clib.evaluate.results.result_row)
    skipped: dict[str, str] = field(default_factory=dict)  # what did not run -> why
    predictions: pd.DataFrame | None = None  # single-label test predictions (confusion matrices)


def skipped_rows(ctx: EvalContext, task: str, skipped: Mapping[str, str], *,
                 sets: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``summary.csv`` rows (status ``skipped``, the reason in ``note``) for what a step could not run:
    models in ``skipped`` (``"MODEL on SET"`` keys name one set) and the sets of ``sets`` that are not
    prepared here (``ctx.unavailable``)."""
    common = {"task": task, "profile": ctx.profile.name, "compare_with_paper": ctx.profile.compare_with_paper,
              "checkpoint_sha256": ctx.checkpoint_sha256}
    rows = []
    for what, reason in skipped.items():
        model, _, dataset = what.partition(" on ")
        rows.append(skipped_row(model=model, dataset=dataset or "*", reason=reason, **common))
    for name in dict.fromkeys(sets):
        if name in ctx.unavailable:
            rows.append(skipped_row(model="*", dataset=name, reason=ctx.unavailable[name], **common))
    return rows


def usable_models(ctx: EvalContext, models: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Split ``models`` into those that can run here and ``{model: reason}`` for the others.

    Pretrained baselines (OpenL3, YAMNet, ...) need their package and downloaded weights; offline
    they are skipped with the message of :class:`w2clib.evaluate.baselines.BaselineUnavailable`.
    """
    ok, skipped = [], {}
    for model in dict.fromkeys(models):
        if model in OFFLINE_MODELS:
            ok.append(model)
            continue
        try:
            model_features(ctx, model)
        except BaselineUnavailable as err:
            skipped[model] = str(err)
            # loud: a missing baseline must never be a silent gap in a table or figure
            print(f"WARNING: baseline {model!r} is skipped: {err}", file=sys.stderr, flush=True)
            continue
        ok.append(model)
    return ok, skipped


def _score_table(result: ProbeResult, *, model: str, dataset: str) -> pd.DataFrame:
    table = result.scores.copy()
    table.insert(0, "probe", result.kind)
    table.insert(0, "dataset", dataset)
    table.insert(0, "model", model)
    table["hparams"] = table["hparams"].map(lambda h: ", ".join(f"{k}={v}" for k, v in sorted(dict(h).items())))
    return table


def classification_table(
    ctx: EvalContext, sets: Mapping[str, EvalSet], models: Sequence[str], *, progress: bool = True
) -> TaskOutput:
    """Probes (``evaluate.probes``) on frozen features of every model, and the supervised baseline.

    Returns:
        ``table``: one row per (model, dataset, probe, seed, split) with ``score`` in [0, 1] and the
        chosen hyper-parameters; ``predictions``: the test predictions (``row`` = manifest position).
    """
    cfg = ctx.config
    runnable, skipped = usable_models(ctx, models)
    supervised_sets = cfg.supervised_datasets if cfg.supervised_datasets is not None else cfg.datasets
    tables, rows, preds = [], [], []
    for name, evalset in sets.items():
        manifest = evalset.manifest
        for model in runnable:
            if model == "supervised":
                if name not in supervised_sets:
                    skipped[f"supervised on {name}"] = "not in evaluate.supervised_datasets"
                    continue
                seeds = cfg.supervised_seeds if cfg.supervised_seeds is not None else cfg.seeds
                result = supervised_result(ctx, evalset, seeds)
                multilabel = evalset.multilabel
                rows.append(ctx.row(
                    task="tagging" if multilabel else "classification", dataset=name,
                    protocol=f"{protocol_label(manifest, name)}, trained from scratch",
                    metric="mAP" if multilabel else "accuracy", model=model,
                    values=result.scores["score"].tolist(), n_seeds=result.n_seeds,
                    chance=chance_accuracy(evalset.labels()),
                ))
                results = {"supervised": result}
            else:
                x = features(ctx, evalset, model, progress=progress)
                results, new_rows = classification(
                    x, manifest, name, cfg, model=model, profile=ctx.profile.name, compare_with_paper=ctx.profile.compare_with_paper,
                    checkpoint_sha256=ctx.checkpoint_sha256, classes=evalset.classes,
                )
                rows.extend(new_rows)
            for kind, result in results.items():
                tables.append(_score_table(result, model=model, dataset=name))
                if not result.predictions.empty:
                    preds.append(result.predictions.assign(model=model, dataset=name, probe=kind))
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()
    rows += skipped_rows(ctx, "classification", skipped, sets=cfg.datasets)
    return TaskOutput(table, rows, skipped, pd.concat(preds, ignore_index=True) if preds else None)


def zero_shot_table(
    ctx: EvalContext, sets: Mapping[str, EvalSet], models: Sequence[str] = ("wav2clip", "random_init"),
    *, progress: bool = True,
) -> TaskOutput:
    """Zero-shot classification through the teacher's text tower, every template set, every model.

    With ``evaluate.zero_shot_split: test`` only the test side is scored (the embedded sets: the
    unseen soundfont, the held-out Tux Paint concepts); classes are those present in the scored clips.
    ``random_init`` (same architecture, random weights) is the control: its embeddings are not in
    the teacher's space, so it should sit at chance.
    """
    with torch_threads(ctx.config.num_threads):
        return _zero_shot_table(ctx, sets, models, progress)


def _zero_shot_table(ctx: EvalContext, sets: Mapping[str, EvalSet], models: Sequence[str],
                     progress: bool) -> TaskOutput:
    cfg, teacher = ctx.config, ctx.teacher()
    records, rows = [], []
    models, skipped = usable_models(ctx, models)
    scope = "test clips" if cfg.zero_shot_split == "test" else "all clips"
    for name, full in sets.items():
        evalset = full.test_side() if cfg.zero_shot_split == "test" else full
        classes = evalset.classes
        for model in models:
            x = features(ctx, full, model, progress=progress)
            if cfg.zero_shot_split == "test":
                x = x[full.manifest["clip_id"].isin(set(evalset.manifest["clip_id"])).to_numpy()]
            results, new_rows = zero_shot(
                x, evalset.manifest, name, teacher, cfg, model=model, profile=ctx.profile.name, compare_with_paper=ctx.profile.compare_with_paper,
                checkpoint_sha256=ctx.checkpoint_sha256, classes=classes, scope=scope,
            )
            rows.extend(new_rows)
            for templates, result in results.items():
                records.append({
                    "dataset": name, "model": model, "templates": templates, "metric": result.metric,
                    "value": result.value, "top5": result.top5, "chance": result.chance,
                    "n_clips": len(evalset.manifest), "n_classes": len(classes),
                })
    rows += skipped_rows(ctx, "zero-shot", skipped, sets=cfg.zero_shot_datasets)
    return TaskOutput(pd.DataFrame(records), rows, skipped)


def _frame_targets(ctx: EvalContext, evalset: EvalSet) -> tuple[np.ndarray, np.ndarray]:
    """Mean teacher frame embedding per clip (the paper path's VGGSound "image" side)."""
    from ..config import section_config
    from ..teachers.targets import features_for
    from ..teachers import TeacherConfig

    tcfg = section_config(TeacherConfig, ctx.profile.section("teacher"), where="profile teacher")
    feats = features_for(evalset.manifest, ctx.teacher(), tcfg)
    ids, targets = feats.targets(evalset.manifest["clip_id"].astype(str).tolist())
    keep = evalset.manifest["clip_id"].astype(str).isin(set(ids)).to_numpy()
    return keep, targets


def retrieval_table(
    ctx: EvalContext, sets: Mapping[str, EvalSet], models: Sequence[str] = ("wav2clip", "random_init"),
    *, progress: bool = True,
) -> TaskOutput:
    """Audio -> image (clips with a picture or video frames) and text <-> audio (clips with captions).

    Only the test side of each set is scored (Tux Paint: concepts held out of pre-training;
    VGGSound: the test split; Clotho: the evaluation split).
    Metrics: R@k for ``evaluate.retrieval_ks``, MRR and mAP@10, each with its exact chance level.
    """
    with torch_threads(ctx.config.num_threads):
        return _retrieval_table(ctx, sets, models, progress)


def _retrieval_table(ctx: EvalContext, sets: Mapping[str, EvalSet], models: Sequence[str],
                     progress: bool) -> TaskOutput:
    cfg, teacher = ctx.config, ctx.teacher()
    records, rows = [], []
    models, skipped = usable_models(ctx, models)
    for name, full in sets.items():
        evalset = full.test_side()
        in_set = full.manifest["clip_id"].isin(set(evalset.manifest["clip_id"])).to_numpy()
        manifest = evalset.manifest
        for model in models:
            x = features(ctx, full, model, progress=progress)[in_set]
            outcomes: dict[str, dict[str, dict[str, float]]] = {}
            caps = full.capabilities
            if caps.images and (manifest["image_path"].astype(str) != "").all():
                outcomes["audio->image"] = audio_to_image(x, manifest, teacher, cfg.retrieval_ks)
            elif caps.frames:
                keep, targets = _frame_targets(ctx, evalset)
                outcomes["audio->frames"] = paired_retrieval(x[keep], targets, ks=cfg.retrieval_ks)
                outcomes["audio->frames"]["size"] = {"queries": int(keep.sum()), "items": len(targets)}
            if evalset.photos is not None and manifest["label"].isin(set(evalset.photos["label"])).any():
                outcomes["audio->class photo"] = class_photo_retrieval(x, manifest, evalset.photos, teacher,
                                                                       cfg.retrieval_ks)
            if caps.captions:
                both = text_audio(x, manifest, teacher, cfg.retrieval_ks)
                outcomes["text->audio"], outcomes["audio->text"] = both["text_to_audio"], both["audio_to_text"]
            if not outcomes:
                skipped[name] = "no pictures, frames or captions to retrieve"
                continue
            for direction, outcome in outcomes.items():
                rows.extend(retrieval_rows(outcome, dataset=name, direction=direction, model=model,
                                           profile=ctx.profile.name, compare_with_paper=ctx.profile.compare_with_paper, checkpoint_sha256=ctx.checkpoint_sha256))
                for metric, value in outcome["metrics"].items():
                    records.append({"dataset": name, "model": model, "direction": direction, "metric": metric,
                                    "value": value, "chance": outcome["chance"].get(metric),
                                    "n_queries": outcome["size"]["queries"], "n_items": outcome["size"]["items"]})
    rows += skipped_rows(ctx, "retrieval", {(k if k in models else f"* on {k}"): why for k, why in skipped.items()},
                         sets=cfg.retrieval_datasets)
    return TaskOutput(pd.DataFrame(records), rows, skipped)


def data_fraction_table(
    ctx: EvalContext, evalset: EvalSet, models: Sequence[str], *, progress: bool = True
) -> TaskOutput:
    """Figure 2: score vs share of labelled training clips (nested, class-stratified subsets).

    Frozen-feature models get an ``evaluate.fraction_probe`` probe (hyper-parameters chosen inside
    each subset); ``supervised`` is trained from scratch on each subset with its own fractions and
    seeds (``evaluate.fraction_supervised_*``).  The test rows are the protocol's first test split.

    Returns:
        ``table``: one row per (model, fraction, seed) (``model, dataset, fraction, seed, n_train,
        score``); rows: one summary row per (model, fraction).
    """
    cfg = ctx.config
    runnable, skipped = usable_models(ctx, models)
    y = evalset.labels()
    labels = y.argmax(axis=1) if y.ndim == 2 else y
    split = evalset.splits()[0]
    curves = []
    supervised_sets = cfg.supervised_datasets if cfg.supervised_datasets is not None else cfg.datasets
    if "supervised" in runnable and evalset.name not in supervised_sets:
        runnable = [m for m in runnable if m != "supervised"]  # it holds its clips in memory: only listed sets
        skipped["supervised"] = f"{evalset.name} is not in evaluate.supervised_datasets {list(supervised_sets)}"
        print(f"WARNING: the supervised line of Figure 2 is skipped: {skipped['supervised']}", file=sys.stderr)
    for model in runnable:
        if model == "supervised":
            fit = supervised_fit_score_cached(ctx, evalset)
            fractions = cfg.fraction_supervised_fractions or cfg.fractions
            seeds = cfg.fraction_supervised_seeds or cfg.fraction_seeds
        else:
            x = features(ctx, evalset, model, progress=progress)
            fit = probe_fit_score(x, y, cfg.fraction_probe, cfg.probe_config())  # type: ignore[arg-type]
            fractions, seeds = cfg.fractions, cfg.fraction_seeds
        curves.append(data_fraction_curve(fit, labels, split.train, split.test, fractions, seeds,
                                          model=model, dataset=evalset.name, progress=progress))
    curve = pd.concat(curves, ignore_index=True)
    metric = "mAP" if y.ndim == 2 else "accuracy"
    rows = []
    for (model, fraction), part in curve.groupby(["model", "fraction"], sort=False):
        how = "trained from scratch" if model == "supervised" else PROBE_NAMES[cfg.fraction_probe]
        rows.append(ctx.row(
            task="data-fraction", dataset=evalset.name, metric=metric, model=str(model),
            protocol=f"{100 * float(fraction):g}% of labelled train ({int(part['n_train'].iloc[0])} clips), {how}",
            values=part["score"].tolist(), n_seeds=int(part["seed"].nunique()), chance=chance_accuracy(y),
        ))
    rows += skipped_rows(ctx, "data-fraction", {f"{m} on {evalset.name}": why for m, why in skipped.items()})
    return TaskOutput(curve, rows, skipped)


def confusion_matrices(
    ctx: EvalContext, evalset: EvalSet, baseline: str, model: str = "wav2clip", *, progress: bool = True
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Figure 3: row-normalised test confusion matrices of ``baseline`` and ``model`` (MLP probe, first
    seed, every test fold pooled; ``supervised``: its own predictions), in the dataset's class order.

    Returns:
        ``({name: (C, C) matrix}, meta)``; ``meta`` holds each model's accuracy and the protocol.
    """
    if evalset.multilabel:
        raise ValueError(f"{evalset.name} is multi-label: confusion matrices need a single-label set")
    cfg = ctx.config
    seed = cfg.seeds[0]
    matrices, meta = {}, {"dataset": evalset.name, "seed": seed, "probe": "mlp",
                          "protocol": PROTOCOLS.get(evalset.name, "train_test")}
    for name in (baseline, model):
        if name == "supervised":
            result = supervised_result(ctx, evalset, [seed])
        else:
            x = features(ctx, evalset, name, progress=progress)
            result = run_probe(x, evalset.labels(), evalset.splits(), "mlp", cfg.probe_config(), [seed])
        matrices[name] = confusion_from_predictions(result.predictions, len(evalset.classes), seed=seed)
        meta[f"accuracy_{name}"] = result.mean
    return matrices, meta
