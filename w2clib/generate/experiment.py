"""Notebook 10's experiment: which pictures to draw, drawing them (cached), and the judge's table.

Conditions (one picture each, same seed, same settings):

* ``audio`` -- a held-out sound's embedding from the evaluated encoder (Figure 4's bottom row);
* ``random_weights`` -- the same sound through the same architecture with random weights;
* ``text`` -- the class name through the teacher's text tower (Figure 4's top row);
* ``unrelated`` -- random directions of the space, judged against every class (the empirical chance);
* ``mixture`` -- two held-out sounds summed at equal loudness (Figure 5), judged against both;
* ``stem`` / ``track`` -- with ``music_dataset``: each stem of a MUSDB18 track alone, and the track's
  own mix judged against every stem (the paper's Figure 5 draws musdb18 tracks).

Pictures are cached by content (target vector and settings) under ``<run_dir>/<out_dir>/``, so a
rerun only judges; a killed run resumes from the saved latents.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._io import atomic_path, atomic_write_json
from .config import GenerationConfig

__all__ = ["CONDITIONS", "draw_all", "judge_table", "judge_summary", "plan_targets", "teacher_ranks"]

CONDITIONS = ("audio", "random_weights", "text", "unrelated", "mixture", "stem", "track")


def _clips(ctx: Any, cfg: GenerationConfig) -> pd.DataFrame:
    """One held-out clip per label of ``cfg.classes``: ``label, clip_id, audio_path``."""
    if cfg.dataset == "embedded":
        from ..evaluate.suite import evaluation_sets

        sets = evaluation_sets(ctx, ["gm_imagenet", "tuxpaint"])
        gm = sets["gm_imagenet"].test_side().manifest
        tux = sets["tuxpaint"].test_side().manifest
        tux = tux[tux["imagenet_class"].astype(str) != ""].assign(label=lambda d: d["imagenet_class"])
        pool = pd.concat([gm[["label", "clip_id", "audio_path"]], tux[["label", "clip_id", "audio_path"]]])
        where = "the held-out GM renders (TimGM6mb) and held-out Tux Paint sounds with an ImageNet class"
    else:
        from ..data import load_manifest
        from ..evaluate.suite import usable_rows

        # never in pre-training (VGGSound): every clip is held out; damaged downloads are left out
        pool = usable_rows(cfg.dataset, load_manifest(cfg.dataset))
        where = cfg.dataset
    pool = pool.sort_values("clip_id", kind="stable")
    rows = []
    for label in cfg.classes:
        found = pool[pool["label"].astype(str) == label]
        if found.empty:
            raise ValueError(f"generation.classes: no clip labelled {label!r} in {where}; available: "
                             f"{sorted(pool['label'].astype(str).unique())}")
        rows.append(found.iloc[0][["label", "clip_id", "audio_path"]])
    return pd.DataFrame(rows).reset_index(drop=True)


def _accepted(cfg: GenerationConfig, label: str) -> list[int]:
    from ..teachers import imagenet_index

    names = cfg.accept.get(label, [label] if cfg.dataset == "embedded" else [])
    return sorted({imagenet_index(n) for n in names})


def _equal_loudness_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` after scaling both to the same RMS; the sum is peak-limited to 0.99."""
    n = max(len(a), len(b))
    a, b = (np.pad(x, (0, n - len(x))) / max(float(np.sqrt(np.mean(x**2))), 1e-8) for x in (a, b))
    mix = a + b
    return (mix * 0.99 / max(float(np.abs(mix).max()), 0.99)).astype(np.float32)


def _music_tracks(cfg: GenerationConfig) -> pd.DataFrame:
    """The manifest rows (one per stem and the mix) of the tracks ``cfg.music_tracks`` names or counts."""
    from ..data import load_manifest
    from ..evaluate.suite import usable_rows

    name = str(cfg.music_dataset)
    rows = usable_rows(name, load_manifest(name))
    rows = rows[rows["split"].astype(str) == cfg.music_split]
    complete = sorted(track for track, group in rows.groupby("track") if set(group["stem"]) >= {"mixture", *cfg.music_stems})
    if isinstance(cfg.music_tracks, int):
        if len(complete) < cfg.music_tracks:
            raise ValueError(f"generation.music_tracks: {cfg.music_tracks} tracks asked, {name} ({cfg.music_split}) has "
                             f"{len(complete)} whose stems all decoded")
        chosen = complete[: cfg.music_tracks]
    else:
        missing = [t for t in cfg.music_tracks if t not in complete]
        if missing:
            raise ValueError(f"generation.music_tracks: {missing} not among the usable tracks of {name} "
                             f"({cfg.music_split}): {complete}")
        chosen = list(cfg.music_tracks)
    return rows[rows["track"].isin(chosen)].assign(order=lambda d: d["track"].map(chosen.index)).sort_values(
        ["order", "stem"], kind="stable")


def _music_tracks_or_none(cfg: GenerationConfig) -> pd.DataFrame | None:
    """:func:`_music_tracks`, or ``None`` with a message when the dataset is not prepared (its download
    failed or was skipped: notebook 01 reports it), so the other pictures are still drawn."""
    import sys

    try:
        return _music_tracks(cfg)
    except FileNotFoundError as err:
        print(f"w2clib: generation: no music tracks drawn (generation.music_dataset): {err}", file=sys.stderr)
        return None


def _job_name(condition: str, label: str) -> str:
    """A file name for a picture: runs of characters other than letters, digits and ``._+-`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", f"{condition}__{label}")


def plan_targets(ctx: Any, cfg: GenerationConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """The pictures to draw: a table (``job, condition, label, labels, clip_id``) and their targets (n, dim).

    ``labels`` is ``|``-joined: the classes a picture is judged against (two for a mixture, every
    class for an unrelated picture).
    """
    from ..api import embed_audio
    from ..audio import load_audio
    from ..model import ModelConfig, build_model

    teacher = ctx.teacher()
    clips = _clips(ctx, cfg)
    waves = {row.label: load_audio(row.audio_path) for row in clips.itertuples()}
    random_model = build_model(ModelConfig.from_dict(ctx.model.config.to_dict()), seed=cfg.random_seed).eval()
    rows, targets = [], []

    def add(condition: str, label: str, labels: list[str], clip_id: str, target: np.ndarray, job: str = "") -> None:
        rows.append({"job": job or _job_name(condition, label), "condition": condition,
                     "label": label, "labels": "|".join(labels), "clip_id": clip_id})
        targets.append(np.asarray(target, dtype=np.float32).reshape(-1))

    for row in clips.itertuples():
        wave = waves[row.label]
        add("audio", row.label, [row.label], row.clip_id, embed_audio(wave, ctx.model)[0])
        add("random_weights", row.label, [row.label], row.clip_id, embed_audio(wave, random_model)[0])
        add("text", row.label, [row.label], "", teacher.embed_texts([cfg.text_prompt.format(row.label)])[0])
    rng = np.random.default_rng(cfg.seed)
    for i in range(cfg.unrelated):
        add("unrelated", f"random{i}", list(cfg.classes), "", rng.standard_normal(teacher.dim))
    ids = dict(zip(clips["label"], clips["clip_id"]))
    for a, b in cfg.mixtures:
        mix = _equal_loudness_sum(waves[a], waves[b])
        add("mixture", f"{a}+{b}", [a, b], f"{ids[a]}+{ids[b]}", embed_audio(mix, ctx.model)[0])
    music = _music_tracks_or_none(cfg) if cfg.music_dataset else None
    if music is not None:
        for _, group in music.groupby("order", sort=True):
            track, paths = str(group["track"].iloc[0]), dict(zip(group["stem"], group["audio_path"]))
            embedded = {stem: embed_audio(load_audio(paths[stem], offset_s=cfg.music_start_s,
                                                     duration_s=cfg.music_seconds), ctx.model)[0]
                        for stem in [*cfg.music_stems, "mixture"]}
            for stem in cfg.music_stems:
                add("stem", stem, [stem], f"{track}/{stem}", embedded[stem], job=_job_name("stem", f"{track}__{stem}"))
            add("track", track, list(cfg.music_stems), f"{track}/mixture", embedded["mixture"])
    return pd.DataFrame(rows), np.stack(targets)


def teacher_ranks(plan: pd.DataFrame, targets: np.ndarray, teacher: Any, cfg: GenerationConfig) -> pd.DataFrame:
    """Per (picture, judged class): ``teacher_rank``, the rank of the class (its best accepted ImageNet
    class) among the teacher's 1000 ImageNet class prototypes by cosine to the picture's *target*.

    This is where the target points before anything is drawn: a sound whose embedding already ranks
    its class far down cannot be drawn recognisably by any generator, while a well-ranked target that
    the judge does not recognise is a failure of the drawing.  Rows as :func:`judge_table`'s keys
    (``job``, ``class``)."""
    from ..metrics import l2_normalize

    prototypes = np.asarray(teacher.class_prototypes(list(range(1000))), dtype=np.float32)
    cosines = l2_normalize(np.asarray(targets, dtype=np.float32)) @ prototypes.T  # (pictures, 1000)
    rows = []
    for i, row in enumerate(plan.itertuples()):
        for label in row.labels.split("|"):
            accepted = _accepted(cfg, label)
            if accepted:
                best = cosines[i, accepted].max()
                rows.append({"job": row.job, "class": label, "teacher_rank": int((cosines[i] > best).sum()) + 1})
    return pd.DataFrame(rows, columns=["job", "class", "teacher_rank"])


def _settings(cfg: GenerationConfig) -> dict[str, Any]:
    keep = ("generator", "vqgan_weights", "size", "steps", "cutouts", "cutout_options", "cut_size", "lr", "seed")
    return {k: v for k, v in asdict(cfg).items() if k in keep}


def _job_key(target: np.ndarray, settings: dict[str, Any], perceptor: str) -> str:
    blob = json.dumps({"settings": settings, "perceptor": perceptor}, sort_keys=True).encode()
    return hashlib.sha256(blob + np.asarray(target, np.float32).tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class _Job:
    """One picture to draw: everything a worker process needs besides the perceptor and generator."""

    name: str
    target: np.ndarray
    key: str
    out_dir: Path
    cfg: GenerationConfig
    progress: bool


def _draw_one(job: _Job, perceptor: Any, generator: Any) -> dict[str, Any]:
    """Draw ``job`` into ``out_dir/images/<name>.png`` with its record ``<name>.json``; resumes from the
    saved latent of an interrupted attempt.  Module-level: worker processes run it too."""
    import torch

    from ..evaluate.probes import torch_threads
    from .optimize import generate

    cfg, images, latents = job.cfg, job.out_dir / "images", job.out_dir / "latents"
    with torch_threads(cfg.num_threads), torch.random.fork_rng(devices=[]):
        result = generate(job.target, perceptor, steps=cfg.steps, size=cfg.size, cutouts=cfg.cutout_config(),
                          seed=cfg.seed, generator=generator, lr=cfg.lr, cut_size=cfg.cut_size,
                          checkpoint=latents / f"{job.name}.pt", save_every=cfg.save_every,
                          progress=job.progress, desc=job.name)
    with atomic_path(images / f"{job.name}.png") as tmp:
        result.image.save(tmp, format="PNG")
    record = {"key": job.key, "seconds": round(result.seconds, 2), "steps": cfg.steps,
              "final_loss": result.losses[-1] if result.losses else None,
              "finished": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(images / f"{job.name}.json", record)
    (latents / f"{job.name}.pt").unlink(missing_ok=True)  # the picture is saved: its latent is no longer needed
    return record


def draw_all(plan: pd.DataFrame, targets: np.ndarray, perceptor: Any, cfg: GenerationConfig, out_dir: Path,
             *, progress: bool = True) -> pd.DataFrame:
    """Draw (or reuse) every planned picture into ``out_dir/images/<job>.png``; returns the plan with
    ``image_path``, ``seconds`` (optimisation time when drawn; cached pictures keep their first time)
    and ``final_loss``.  With ``cfg.workers`` > 1 and a CPU perceptor, pictures are drawn in that
    many worker processes (:mod:`w2clib.generate.workers`); the pictures are the same."""
    from tqdm.auto import tqdm

    from .weights import load_vqgan
    from .workers import draw_in_workers

    settings = _settings(cfg)
    name = getattr(perceptor, "name", type(perceptor).__name__)
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for row, target in zip(plan.itertuples(), targets):
        key = _job_key(target, settings, name)
        png, meta = out_dir / "images" / f"{row.job}.png", out_dir / "images" / f"{row.job}.json"
        record = json.loads(meta.read_text()) if meta.is_file() and png.is_file() else {}
        if record.get("key") == key:
            records[row.job] = record
        else:
            todo.append(_Job(row.job, np.asarray(target, dtype=np.float32), key, out_dir, cfg, progress))
    on_cpu = str(getattr(perceptor, "device", "cpu")).startswith("cpu")
    with tqdm(total=len(plan), initial=len(records), desc="pictures", unit="picture", disable=not progress) as bar:
        if cfg.workers > 1 and len(todo) > 1 and on_cpu and hasattr(perceptor, "describe"):
            quiet = [dataclasses.replace(job, progress=False) for job in todo]
            for job, record in draw_in_workers(quiet, _draw_one, perceptor=perceptor, generator_kind=cfg.generator,
                                               vqgan_weights=cfg.vqgan_weights, workers=min(cfg.workers, len(todo)),
                                               threads=cfg.num_threads):
                records[job.name] = record
                bar.update(1)
        elif todo:
            generator: Any = "fourier"
            if cfg.generator == "vqgan":
                generator = load_vqgan(cfg.vqgan_weights, device=getattr(perceptor, "device", "cpu"))
            for job in todo:
                records[job.name] = _draw_one(job, perceptor, generator)
                bar.update(1)
    rows = [{"image_path": str(out_dir / "images" / f"{job}.png"), "seconds": records[job]["seconds"],
             "final_loss": records[job]["final_loss"]} for job in plan["job"]]
    return pd.concat([plan.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def judge_table(drawn: pd.DataFrame, judge: Any, cfg: GenerationConfig) -> pd.DataFrame:
    """One row per (picture, class it is judged against): ``top1``, ``top5``, ``rank`` of the best
    accepted class, ``p_class`` (its probability mass), the judge's first choice and ``chance5``
    (``5 * |accepted| / 1000``).  Classes with no accepted ImageNet class are left out."""
    from PIL import Image
    from timm.data import ImageNetInfo

    from .judge import agreement

    info = ImageNetInfo()
    probs = judge.probabilities([Image.open(p).convert("RGB") for p in drawn["image_path"]])
    rows = []
    for i, row in enumerate(drawn.itertuples()):
        for label in row.labels.split("|"):
            accepted = _accepted(cfg, label)
            if not accepted:
                continue
            score = agreement(probs[i:i + 1], [accepted])
            rows.append({"job": row.job, "condition": row.condition, "picture": row.label, "class": label,
                         "judge": judge.name, "top1": bool(score["top1"][0]), "top5": bool(score["top5"][0]),
                         "rank": int(score["rank"][0]), "p_class": float(score["p_accepted"][0]),
                         "judge_top1": info.index_to_description(int(probs[i].argmax())).split(",")[0],
                         "chance5": 5 * len(accepted) / 1000})
    return pd.DataFrame(rows)


def judge_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per judge and condition: pictures, judged (picture, class) pairs, mean top-1/top-5 agreement,
    median rank and the analytic top-5 chance; with :func:`teacher_ranks` merged in, ``teacher_top5``:
    the share whose *target* ranks the class in the teacher's top 5 of 1000."""
    extra = {"teacher_top5": ("teacher_top5", "mean")} if "teacher_rank" in table.columns else {}
    table = table.assign(teacher_top5=table["teacher_rank"] <= 5) if extra else table
    grouped = table.groupby(["judge", "condition"], sort=False)
    out = grouped.agg(pictures=("job", "nunique"), pairs=("job", "size"), top1=("top1", "mean"),
                      top5=("top5", "mean"), median_rank=("rank", "median"), chance5=("chance5", "mean"), **extra)
    out = out.reset_index()
    out["order"] = out["condition"].map({c: i for i, c in enumerate(CONDITIONS)})
    return out.sort_values(["judge", "order"], kind="stable").drop(columns="order").reset_index(drop=True)
