"""Notebook 09 in one call: build the caption set, train captioners on frozen embeddings, decode,
score with the caption metrics, and return the table, the summary rows and example captions.

    ctx = load_context("mini")
    out = captioning_table(ctx)          # CaptioningOutput
    out.table.to_csv("results/captioning.csv", index=False)

Systems compared (``system`` column): ``prefix:<model>`` -- the prefix captioner (:mod:`.decoder`)
on the features of ``<model>`` (``wav2clip``: the evaluated encoder; ``random_init``: the same
architecture with random weights; ``logmel_stats``: log-mel statistics); ``retrieval`` -- the nearest
training caption in the teacher's text space (Wav2CLIP embeddings); ``constant`` -- the single best
training caption.  Trained captioners are cached under ``<run_dir>/cache/captioning/<key>/``, the key
hashing the input features, the training captions, the decoder settings and the seed.  Captioners train
on ``captioning.device``; on a CPU, ``captioning.workers`` worker processes train them (:mod:`.jobs`) while
this process builds the baselines, and then compute the metrics and the attribute probes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from concurrent.futures import Future, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ...processes import WorkerPool
from ..probes import torch_threads
from ..suite import EvalContext, EvalSet, evaluation_sets, features
from .attributes import attribute_table, submit_attribute_probes
from .baselines import best_constant_caption, distinct_captions, retrieval_captions
from .config import CaptioningConfig, captioning_config
from .dataset import CaptionSet, clotho_caption_set, embedded_caption_set
from .decoder import load_captioner
from .gpt2 import require_gpt2
from .jobs import CaptionerJob, resolve_device, run_captioner_job
from .metrics import score_runs

__all__ = ["CaptioningOutput", "caption_set_for", "captioning_table", "scene_set", "system_name"]

SCORED_SPLITS = ("valid", "test")


@dataclass
class CaptioningOutput:
    """What :func:`captioning_table` produced."""

    table: pd.DataFrame  # one row per (system, seed, split, subset, metric); skipped metrics: NaN + note
    rows: list[dict[str, Any]]  # summary.csv rows (test split, all clips); model = encoder name or baseline
    examples: pd.DataFrame  # test clips: references and each system's caption (first seed)
    captions: pd.DataFrame  # every generated caption: system, seed, split, clip_id, caption
    attributes: pd.DataFrame  # per system, seed, split: share of captions naming the instrument / register /
    #                           dynamics of a templated clip, and ``probe:<model>`` rows: a linear probe's test
    #                           accuracy on each attribute (:mod:`.attributes`; empty on Clotho)
    caption_set: CaptionSet
    skipped: dict[str, str] = field(default_factory=dict)  # what did not run -> why
    captioner_dir: Path | None = None  # where the Wav2CLIP captioner of the first seed was saved


def system_name(model: str) -> str:
    """``"prefix:<model>"``: the prefix captioner on ``model``'s features."""
    return f"prefix:{model}"


def caption_set_for(ctx: EvalContext, cfg: CaptioningConfig) -> tuple[CaptionSet, dict[str, EvalSet]]:
    """The caption set of ``cfg.dataset`` and the evaluation sets whose features it reads."""
    if cfg.dataset == "embedded":
        sets = evaluation_sets(ctx, ["gm_families", "tuxpaint"])
        if cfg.scenes is not None:
            sets["gm_scenes"] = scene_set(cfg.scenes)
        cset = embedded_caption_set(sets["gm_families"].manifest, sets["tuxpaint"].manifest,
                                    scenes=sets["gm_scenes"].manifest if "gm_scenes" in sets else None,
                                    references_per_clip=cfg.references_per_clip,
                                    valid_fraction=cfg.valid_fraction, seed=cfg.split_seed)
        return cset, sets
    from ...data import load_manifest

    from ..suite import usable_rows

    manifest = usable_rows("clotho", load_manifest("clotho"))  # missing / corrupt clips are left out, announced
    return clotho_caption_set(manifest), {"clotho": EvalSet("clotho", manifest, "clotho_all", "Clotho v2.1")}


def scene_set(options: Mapping[str, Any]) -> EvalSet:
    """The GM scenes (FluidR3 = train, TimGM6mb = test) rendered with ``options`` (idempotent: rendered
    clips are cached in the data home) as one evaluation set with its own feature pool."""
    from ...data import load_manifest, prepare

    parts = []
    for name in ("gm_scenes_fluidr3", "gm_scenes_timgm6mb"):
        prepare(name, **options)
        parts.append(load_manifest(name, **options))
    return EvalSet("gm_scenes", pd.concat(parts, ignore_index=True), "gm_scenes",
                   "GM phrases, chords and duets; train FluidR3 renders, test TimGM6mb renders")


def _inputs(ctx: EvalContext, cset: CaptionSet, sets: Mapping[str, EvalSet], model: str,
            progress: bool, segments: int = 1) -> np.ndarray:
    """(n_clips, segments * D) features of ``model`` row-aligned with ``cset.clips``."""
    by_id: dict[str, np.ndarray] = {}
    for evalset in sets.values():
        x = features(ctx, evalset, model, progress=progress, segments=segments)
        by_id.update(zip(evalset.manifest["clip_id"].astype(str), x))
    missing = [c for c in cset.clips["clip_id"] if c not in by_id]
    if missing:
        raise ValueError(f"{len(missing)} captioned clips have no {model} features (e.g. {missing[:3]})")
    return np.stack([by_id[c] for c in cset.clips["clip_id"]]).astype(np.float32)


def _key(x: np.ndarray, cset: CaptionSet, cfg: CaptioningConfig, model: str, seed: int) -> str:
    digest = hashlib.sha256()
    fit = cset.clips["split"].isin(["train", "valid"]).to_numpy()
    digest.update(np.ascontiguousarray(x[fit]).tobytes())
    payload = {"clips": cset.clips.loc[fit, ["clip_id", "split"]].to_numpy().tolist(),
               "references": cset.clips.loc[fit, "references"].tolist(), "decoder": asdict(cfg.decoder_config()),
               "kind": cfg.decoder_kind, "model": model, "seed": int(seed)}
    digest.update(json.dumps(payload, sort_keys=True).encode())
    return digest.hexdigest()


def _job(ctx: EvalContext, cfg: CaptioningConfig, cset: CaptionSet, x: np.ndarray, model: str, seed: int,
         device: str, progress: bool) -> CaptionerJob:
    """The job that trains (or loads from the cache) the captioner of ``model`` and ``seed`` and captions
    the scored splits."""
    split = cset.clips["split"].to_numpy()
    refs = cset.clips["references"].tolist()
    train, valid = np.flatnonzero(split == "train"), np.flatnonzero(split == "valid")
    embedder = {"name": model, "dataset": cset.name, "segments": int(cfg.input_segments)}
    if model == "wav2clip":
        embedder.update({"checkpoint": str(ctx.checkpoint), "checkpoint_sha256": ctx.checkpoint_sha256})
    return CaptionerJob(
        folder=ctx.profile.run_dir / "cache" / "captioning" / _key(x, cset, cfg, model, seed)[:24],
        x_train=x[train], refs_train=[refs[i] for i in train], decoder=cfg.decoder_config(), seed=seed,
        decode={name: x[split == name] for name in SCORED_SPLITS},
        x_valid=x[valid], refs_valid=[refs[i] for i in valid], kind=cfg.decoder_kind, embedder=embedder,
        device=device, progress=progress)


def captioning_table(ctx: EvalContext, cfg: CaptioningConfig | None = None, *,
                     progress: bool = True) -> CaptioningOutput:
    """Run the captioning evaluation of the context's profile (see the module docstring).

    Raises:
        RuntimeError: ``decoder_kind: gpt2`` without the GPT-2 weights (a message says what to download).
        FileNotFoundError: the paper profile's Clotho is not prepared.
    """
    cfg = cfg or captioning_config(ctx.profile)
    if cfg.decoder_kind == "gpt2":
        require_gpt2()
    device = resolve_device(cfg.device)
    # worker processes only on a CPU: on a GPU the captioners take turns on it in this process
    workers = cfg.workers if device == "cpu" else 1
    with torch_threads(cfg.num_threads), WorkerPool(workers, cfg.num_threads) as pool:
        return _captioning_table(ctx, cfg, device, pool, progress)


def _captioning_table(ctx: EvalContext, cfg: CaptioningConfig, device: str, pool: WorkerPool,
                      progress: bool) -> CaptioningOutput:
    cset, sets = caption_set_for(ctx, cfg)
    clips = cset.clips
    ids = clips["clip_id"].tolist()
    references = dict(zip(ids, clips["references"]))
    split = clips["split"].to_numpy()
    feats = {model: _inputs(ctx, cset, sets, model, progress, cfg.input_segments) for model in cfg.models}
    runs = [(model, seed) for model in cfg.models for seed in cfg.seeds]
    jobs = [_job(ctx, cfg, cset, feats[model], model, seed, device, progress and pool.in_process)
            for model, seed in runs]
    # the workers start on the captioners; the probes queue behind them (an odd number of captioners
    # leaves one worker idle at the end), and this process builds the decoder-free baselines meanwhile
    futures = [pool.submit(run_captioner_job, job) for job in jobs]
    probes = submit_attribute_probes({m: feats[m] for m in cfg.models}, clips, pool=pool)
    baselines = _baselines(ctx, cfg, cset, sets, feats, progress)
    generated: list[pd.DataFrame] = []
    for (model, seed), out in zip(runs, _results(futures, progress and not pool.in_process)):
        for name in SCORED_SPLITS:
            generated.append(pd.DataFrame({"system": system_name(model), "seed": seed, "split": name,
                                           "clip_id": [ids[i] for i in np.flatnonzero(split == name)],
                                           "caption": out[name]}))
    saved = None
    if "wav2clip" in cfg.models:  # the first seed's Wav2CLIP captioner, for `w2clib caption`
        saved = load_captioner(jobs[runs.index(("wav2clip", cfg.seeds[0]))].folder).save(
            ctx.profile.run_dir / cfg.captioner_dir)
    captions = pd.concat(generated + baselines, ignore_index=True)
    table = _score(captions, references, clips, cfg, pool)
    rows = _summary_rows(ctx, cset, cfg, table)
    return CaptioningOutput(table, rows, _examples(captions, clips, cfg), captions,
                            attribute_table(captions, clips, probes=probes()), cset, _skipped(table), saved)


def _results(futures: list[Future[dict[str, list[str]]]], progress: bool) -> list[dict[str, list[str]]]:
    """The captioner jobs' captions, in job order; a bar counts finished captioners.  The first job
    that fails raises at once (the pool then drops the jobs not yet started)."""
    from tqdm.auto import tqdm

    with tqdm(total=len(futures), desc="captioners", unit="captioner", disable=not progress) as bar:
        for future in as_completed(futures):
            future.result()
            bar.update(1)
    return [f.result() for f in futures]


def _baselines(ctx: EvalContext, cfg: CaptioningConfig, cset: CaptionSet, sets: Mapping[str, EvalSet],
               feats: dict[str, np.ndarray], progress: bool) -> list[pd.DataFrame]:
    clips, out = cset.clips, []
    train_refs = clips.loc[clips["split"] == "train", "references"].tolist()
    for name in SCORED_SPLITS:
        part = clips[clips["split"] == name]
        if "constant" in cfg.baselines:
            if "constant" not in ctx._memo:
                ctx._memo["constant"] = best_constant_caption(train_refs, max_candidates=cfg.constant_candidates,
                                                              max_clips=cfg.constant_clips, seed=cfg.split_seed)
            out.append(pd.DataFrame({"system": "constant", "seed": 0, "split": name, "clip_id": part["clip_id"],
                                     "caption": ctx._memo["constant"][0]}))
        if "retrieval" in cfg.baselines:
            # the clip embedding, which lives in the teacher's space (not the captioners' segment sequence)
            x = feats["wav2clip"] if "wav2clip" in feats and cfg.input_segments == 1 else \
                _inputs(ctx, cset, sets, "wav2clip", progress)
            texts = distinct_captions(train_refs)
            key = ("caption_text_embeddings", cset.name, len(texts))
            if key not in ctx._memo:
                ctx._memo[key] = np.asarray(ctx.teacher().embed_texts(texts), dtype=np.float32)
            rows = (clips["split"] == name).to_numpy()
            out.append(pd.DataFrame({"system": "retrieval", "seed": 0, "split": name, "clip_id": part["clip_id"],
                                     "caption": retrieval_captions(x[rows], texts, ctx._memo[key])}))
    return out


def _score(captions: pd.DataFrame, references: Mapping[str, list[str]], clips: pd.DataFrame,
           cfg: CaptioningConfig, pool: WorkerPool | None = None) -> pd.DataFrame:
    """Every metric per (system, seed, split, subset); subsets: all clips and each source."""
    source = dict(zip(clips["clip_id"], clips["source"]))
    runs: dict[tuple[str, int, str, str], dict[str, str]] = {}
    for (system, seed, split), part in captions.groupby(["system", "seed", "split"], sort=False):
        mapping = dict(zip(part["clip_id"], part["caption"]))
        runs[(str(system), int(seed), str(split), "all")] = mapping
        sources = sorted({source[c] for c in mapping})
        if len(sources) > 1:
            for s in sources:
                runs[(str(system), int(seed), str(split), s)] = {c: t for c, t in mapping.items() if source[c] == s}
    named = {"|".join(map(str, key)): value for key, value in runs.items()}
    scores = score_runs(named, references, cfg.metrics, pool=pool)
    records = []
    for key, value in runs.items():
        result = scores["|".join(map(str, key))]
        for metric in cfg.metrics:
            records.append({"system": key[0], "seed": key[1], "split": key[2], "subset": key[3], "metric": metric,
                            "value": result.corpus.get(metric, np.nan), "n_clips": len(value),
                            "note": result.skipped.get(metric, "")})
    return pd.DataFrame(records)


def _skipped(table: pd.DataFrame) -> dict[str, str]:
    """Metric -> why it was not computed (the first reason recorded)."""
    notes = table[table["note"] != ""]
    return dict(zip(notes["metric"], notes["note"])) if len(notes) else {}


def _summary_rows(ctx: EvalContext, cset: CaptionSet, cfg: CaptioningConfig, table: pd.DataFrame
                  ) -> list[dict[str, Any]]:
    test = table[(table["split"] == "test") & (table["subset"] == "all") & table["value"].notna()]
    beam = cfg.decoder_config().beam_size
    decoding = f"beam {beam}" if beam > 1 else "greedy"
    protocol = f"train/valid/test; prefix Transformer decoder from scratch on frozen embeddings, {decoding}"
    rows = []
    for (system, metric), part in test.groupby(["system", "metric"], sort=False):
        how = protocol if str(system).startswith("prefix:") else "train/valid/test; no decoder"
        model = str(system).removeprefix("prefix:")  # the encoder's name, as in the other tasks' rows
        rows.append(ctx.row(task="captioning", dataset=cset.name, protocol=how, metric=str(metric), model=model,
                            values=part["value"].tolist(), n_seeds=int(part["seed"].nunique())))
    return rows


def _examples(captions: pd.DataFrame, clips: pd.DataFrame, cfg: CaptioningConfig) -> pd.DataFrame:
    """``n_examples`` test clips (as many per source as possible, seeded) with each system's caption."""
    test = clips[clips["split"] == "test"]
    rng = np.random.default_rng(cfg.split_seed)
    sources = sorted(test["source"].unique())
    chosen: list[str] = []
    for i, s in enumerate(sources):
        pool = test.loc[test["source"] == s, "clip_id"].tolist()
        take = cfg.n_examples // len(sources) + (1 if i < cfg.n_examples % len(sources) else 0)
        chosen += [pool[j] for j in sorted(rng.choice(len(pool), size=min(take, len(pool)), replace=False))]
    first = captions[(captions["split"] == "test") & (captions["seed"] == captions.groupby("system")["seed"]
                                                                          .transform("min"))]
    wide = first[first["clip_id"].isin(chosen)].pivot(index="clip_id", columns="system", values="caption")
    info = test.set_index("clip_id").loc[chosen, ["source", "references"]]
    info["references"] = info["references"].map(" | ".join)
    return info.join(wide).reset_index()
