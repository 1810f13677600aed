"""The pre-training loop: epochs of steps, validation, schedules, checkpoints, resume, metrics.

    from w2clib.training import pretrain
    pretrain("smoke", "runs/smoke/pretrain")                 # a profile's pretrain: section
    pretrain(config, "runs/x", resume=True)                  # continue from runs/x/train_state.pt

Under ``torchrun --nproc_per_node N`` the same call trains with DDP (rank 0 writes the files).
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch

from .. import __version__
from ..checkpoints import mark_finished, save_checkpoint
from ..config import Profile, load_profile
from .losses import DistillationLoss, needs_image_head
from ..model import ModelConfig, Wav2CLIP, build_model
from .config import RESUME_SAFE_FIELDS, PretrainConfig, changed_fields, load_pretrain_config
from .engine import (
    DistillationModule,
    LRSchedule,
    Runtime,
    TrainStep,
    build_optimizer,
    seed_step,
    setup_runtime,
    teardown_runtime,
)
from .loader import Batch, BatchPlan, PairData, PairDataset, build_data, make_loader, valid_batches
from .sources import PROBLEMS
from .state import STATE_NAME, CsvLog, load_state, rng_state, save_state, set_rng_state, write_rows

__all__ = ["NonFiniteTrainingError", "Training", "as_config", "build_training", "pretrain"]

Hook = Callable[[dict[str, Any]], None]
Evaluator = Callable[[Wav2CLIP], dict[str, float]]
PROBLEM_COLUMNS = ["step", "epoch", "split", "source", "clip_id", "reason", "detail"]


class NonFiniteTrainingError(RuntimeError):
    """The loss or the weights became NaN/inf; the run folder keeps its last good checkpoint."""


def as_config(spec: str | Path | Profile | PretrainConfig | dict[str, Any]) -> PretrainConfig:
    """A :class:`PretrainConfig` from a profile name/path/object, a dict, or a config."""
    if isinstance(spec, PretrainConfig):
        return spec
    if isinstance(spec, dict):
        return PretrainConfig.from_dict(spec)
    if isinstance(spec, (str, Path, Profile)):
        return load_pretrain_config(spec if isinstance(spec, Profile) else load_profile(spec))
    raise TypeError(f"expected a profile name, a PretrainConfig or a dict, got {type(spec).__name__}")


class Training(NamedTuple):
    """The trainable pieces of a run."""

    model: Wav2CLIP  # the encoder (backbone + audio head [+ image head])
    module: DistillationModule  # model + logit scales: what is optimised and checkpointed
    runner: torch.nn.Module  # module, wrapped in DDP and/or torch.compile when asked
    step: TrainStep  # forward + backward + optimiser step


def build_training(config: PretrainConfig, target_dim: int, runtime: Runtime,
                   teacher: dict[str, Any] | None = None) -> Training:
    """Model, loss module, runner and step function for ``config`` and ``target_dim``-d targets.

    The initial weights depend only on ``config.seed`` (identical on every rank).
    """
    if config.embed_dim is not None and config.embed_dim != target_dim:
        raise ValueError(f"pretrain.embed_dim={config.embed_dim} but the teacher targets are {target_dim}-d; "
                         "set embed_dim: null (use the target size) or match the teacher")
    model_config = ModelConfig(width=config.width, embed_dim=target_dim, head_dropout=config.head_dropout,
                               image_head=needs_image_head(config.loss), teacher=dict(teacher or {}))
    model = build_model(model_config, seed=config.seed).train()
    loss = DistillationLoss(config.loss, max_logit_scale=config.max_logit_scale)
    module = DistillationModule(model, loss, norm=config.norm, channels_last=runtime.channels_last,
                                autocast_dtype=runtime.autocast_dtype).to(runtime.device)
    if runtime.channels_last:
        module = module.to(memory_format=torch.channels_last)
    runner: torch.nn.Module = module
    if runtime.distributed:
        from torch.nn.parallel import DistributedDataParallel

        ids = [runtime.device.index] if runtime.device.type == "cuda" else None
        runner = DistributedDataParallel(module, device_ids=ids)
    if config.compile:
        runner = torch.compile(runner)  # type: ignore[assignment]
    optimizer = build_optimizer(module, config)
    scaler = torch.amp.GradScaler(runtime.device.type, enabled=runtime.autocast_dtype == torch.float16)
    return Training(model, module, runner, TrainStep(module, runner, optimizer, scaler, config.grad_clip_norm))


def _check_resume(saved: dict[str, Any], config: PretrainConfig, state_path: Path) -> None:
    changed = changed_fields(saved, config)
    if changed:
        detail = ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in list(changed.items())[:6])
        raise ValueError(
            f"cannot resume {state_path}: the run was started with a different config ({detail}). "
            f"Only {sorted(RESUME_SAFE_FIELDS)} may change; use another output folder for a new run"
        )


class _Run:
    """State of one pretrain() call (kept in an object so the loop reads top to bottom)."""

    def __init__(self, config: PretrainConfig, out: Path, resume: bool, data: PairData | None,
                 evaluate: Evaluator | None, on_step: Hook | None, runtime: Runtime,
                 profile: Profile | None = None) -> None:
        self.config, self.out, self.rt = config, out, runtime
        self.evaluate, self.on_step = evaluate, on_step
        self.state_path = out / STATE_NAME
        snapshot = None
        if self.state_path.exists():
            if not resume:
                raise FileExistsError(
                    f"{out} already holds a training run ({STATE_NAME}); pass resume=True (--resume) to "
                    "continue it, or choose another output folder"
                )
            snapshot = load_state(self.state_path)
            _check_resume(snapshot["config"], config, self.state_path)
        self.data = data if data is not None else build_data(config, profile)
        built = build_training(config, self.data.target_dim, runtime, self.data.teacher)
        self.model, self.module, self.runner, self.step_fn = built
        self.plan = BatchPlan(self.data.train, config.seed, runtime.world_size, runtime.rank)
        by_epochs = config.max_epochs * self.plan.steps_per_epoch
        self.total_steps = min(by_epochs, config.max_steps) if config.max_steps else by_epochs
        self.schedule = LRSchedule(self.step_fn.optimizer, config, self.total_steps)
        self.train_set = PairDataset(self.data.train, config, train=True)
        self.valid_set = PairDataset(self.data.valid, config, train=False) if self.data.valid else None
        self.pos = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "best_val": math.inf, "bad_epochs": 0}
        self.epoch_rows: list[dict[str, Any]] = []
        self.acc = self._new_acc()
        self.pending_problems: list[dict[str, Any]] = []
        if snapshot is not None:
            self._restore(snapshot)
        self._open_logs(fresh=snapshot is None)

    # -- state -----------------------------------------------------------------------------------
    @staticmethod
    def _new_acc() -> dict[str, Any]:
        return {"loss_sum": 0.0, "terms": {}, "clips": 0, "steps": 0, "wait_s": 0.0, "time_s": 0.0,
                "problems": {r: 0 for r in PROBLEMS}, "skipped_batches": 0}

    def _restore(self, snap: dict[str, Any]) -> None:
        self._check_weights(snap["module"].values(), f"the saved state {self.state_path}")
        self.module.load_state_dict(snap["module"])
        self.step_fn.optimizer.load_state_dict(snap["optimizer"])
        self.schedule.load_state_dict(snap["schedule"])
        self.step_fn.scaler.load_state_dict(snap["scaler"])
        self.pos, self.acc, self.epoch_rows = dict(snap["position"]), dict(snap["acc"]), list(snap["epoch_rows"])
        set_rng_state(snap["rng"])
        if snap["world_size"] != self.rt.world_size:  # keep the data position as a fraction of the epoch
            done = self.pos["step_in_epoch"] * snap["world_size"]
            self.pos["step_in_epoch"] = min(done // self.rt.world_size, self.plan.steps_per_epoch)
            self._print(f"resuming a {snap['world_size']}-process run on {self.rt.world_size} processes: "
                        "the data order from here on differs from an uninterrupted run")
        self._print(f"resuming {self.out} at epoch {self.pos['epoch']}, step {self.pos['global_step']}")

    def _snapshot(self) -> None:
        """Write train_state.pt, then export the weights (rank 0); flush problem rows first."""
        self._flush_problems()
        self._check_weights(self.module.state_dict().values(), "the model")
        if not self.rt.is_main:
            return
        state = {
            "config": self.config.to_dict(), "world_size": self.rt.world_size, "w2clib_version": __version__,
            "module": {k: v.detach().cpu() for k, v in self.module.state_dict().items()},
            "optimizer": self.step_fn.optimizer.state_dict(), "schedule": self.schedule.state_dict(),
            "scaler": self.step_fn.scaler.state_dict(), "position": dict(self.pos), "acc": self.acc,
            "epoch_rows": self.epoch_rows, "rng": rng_state(),
        }
        save_state(self.state_path, state)
        self._export(self.out)

    def _export(self, directory: Path) -> None:
        extra = {
            "pretrain": self.config.to_dict(), "step": self.pos["global_step"], "epoch": self.pos["epoch"],
            "logit_scales": {k: float(v.logit_scale.detach()) for k, v in self.module.loss.scales().items()},
            "best_val_loss": None if math.isinf(self.pos["best_val"]) else self.pos["best_val"],
            "world_size": self.rt.world_size, "finished": False,  # set true by _finish, the run's last write
        }
        save_checkpoint(self.model, directory, extra={"training": extra})

    # -- finiteness ------------------------------------------------------------------------------
    def _check_weights(self, tensors: Any, where: str) -> None:
        """Stop (before anything is saved) when ``tensors`` hold NaN/inf."""
        if all(bool(torch.isfinite(t).all()) for t in tensors if t.is_floating_point()):
            return
        raise NonFiniteTrainingError(
            f"{where} holds NaN or infinite weights at step {self.pos['global_step']}; stopped without "
            f"saving. {self.out} keeps the last good checkpoint; lower the learning rate or check the "
            "data, then resume (--resume) or start a new run"
        )

    def _check_loss(self, values: dict[str, float]) -> None:
        bad = self._all_sum([0.0 if math.isfinite(values["loss"]) else 1.0])[0]
        if bad:
            raise NonFiniteTrainingError(
                f"the training loss became {values['loss']} at step {self.pos['global_step']} (epoch "
                f"{self.pos['epoch']}); stopped without saving. {self.out} keeps the last good checkpoint "
                "(step in its config.json); lower the learning rate, set grad_clip_norm or check the "
                "data, then resume (--resume) or start a new run"
            )

    # -- logs ------------------------------------------------------------------------------------
    def _print(self, message: str) -> None:
        if self.rt.is_main:
            print(f"w2clib.pretrain: {message}", file=sys.stderr, flush=True)

    def _open_logs(self, fresh: bool) -> None:
        terms = list(self.module.loss.term_names)
        terms = [t for t in terms if t != "loss"]
        temps = list(self.module.loss.temperatures())
        self.step_columns = ["step", "epoch", "loss", *terms, *temps, "lr", "batch", "clips_per_s",
                             "data_wait_share", "step_s"]
        if not self.rt.is_main:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        keep = None if fresh else self.pos["global_step"]
        self.metrics = CsvLog(self.out / "metrics.csv", self.step_columns, keep_until_step=keep)
        self.problem_log = CsvLog(self.out / "problems.csv", PROBLEM_COLUMNS, keep_until_step=keep)
        if fresh:
            for part in self.data.train + self.data.valid:
                for clip_id, reason in part.source.skipped:
                    self.problem_log.write({"step": 0, "epoch": "", "split": "before training",
                                            "source": part.source.name, "clip_id": clip_id, "reason": reason})

    def _flush_problems(self) -> None:
        rows = self.pending_problems
        if self.rt.distributed:
            import torch.distributed as dist

            gathered: list[Any] = [None] * self.rt.world_size
            dist.all_gather_object(gathered, rows)
            rows = [r for part in gathered for r in part]
        if self.rt.is_main:
            for row in rows:
                self.problem_log.write(row)
        self.pending_problems = []

    def _record_problems(self, batch: Batch, split: str, counts: dict[str, int]) -> None:
        # A training batch belongs to the step it feeds (global_step + 1); rows after the resumed
        # step are dropped on resume and written again when the batch is replayed.
        step = self.pos["global_step"] + (split == "train")
        for source, clip_id, reason, detail in batch.problems:
            counts[reason] = counts.get(reason, 0) + 1
            self.pending_problems.append({"step": step, "epoch": self.pos["epoch"],
                                          "split": split, "source": source, "clip_id": clip_id,
                                          "reason": reason, "detail": detail})

    # -- collective helpers ----------------------------------------------------------------------
    def _all_sum(self, values: list[float]) -> list[float]:
        if not self.rt.distributed:
            return values
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64, device=self.rt.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def _usable(self, batch: Batch) -> bool:
        """Whether every rank has >= 2 usable clips (otherwise all ranks skip the step together)."""
        n = float(batch.wave.shape[0])
        if self.rt.distributed:
            import torch.distributed as dist

            tensor = torch.tensor([n], device=self.rt.device)
            dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
            n = float(tensor.item())
        return n >= 2

    # -- training --------------------------------------------------------------------------------
    def _should_stop(self) -> bool:
        c, p = self.config, self.pos
        patience_hit = c.early_stopping_patience is not None and p["bad_epochs"] >= c.early_stopping_patience
        return p["global_step"] >= self.total_steps or p["epoch"] >= c.max_epochs or patience_hit

    def _train_epoch_part(self, bar: Any) -> None:
        """Steps from the current position to the end of the epoch (or the step budget)."""
        c, p, rt = self.config, self.pos, self.rt
        keys = self.plan.epoch_keys(p["epoch"], p["step_in_epoch"])
        keys = keys[: max(0, self.total_steps - p["global_step"])]
        loader = make_loader(self.train_set, keys, num_workers=c.num_workers,
                             prefetch_batches=c.prefetch_batches, seed=c.seed + p["epoch"])
        iterator = iter(loader)
        for _ in range(len(keys)):
            began = time.perf_counter()
            batch: Batch = next(iterator)
            waited = time.perf_counter() - began
            self._record_problems(batch, "train", self.acc["problems"])
            values: dict[str, float] | None = None
            lr = self.schedule.lr
            if self._usable(batch):
                self.schedule.before_step(p["global_step"])
                lr = self.schedule.lr
                seed_step(c.seed, p["global_step"], rt.rank)
                wave = batch.wave.to(rt.device, non_blocking=True)
                target = batch.target.to(rt.device, non_blocking=True)
                values = self.step_fn(wave, target)
                p["global_step"] += 1
                self._check_loss(values)
            else:
                self.acc["skipped_batches"] += 1
            p["step_in_epoch"] += 1
            elapsed = time.perf_counter() - began
            self.acc["wait_s"] += waited
            self.acc["time_s"] += elapsed
            if values is not None:
                self._after_step(values, batch, lr, waited, elapsed, bar)
            mid_epoch = p["step_in_epoch"] < self.plan.steps_per_epoch and p["global_step"] < self.total_steps
            every = c.checkpoint_every_steps
            if values is not None and every and p["global_step"] % every == 0 and mid_epoch:
                self._snapshot()
            if values is not None and self.on_step is not None:
                self.on_step({"step": p["global_step"], "epoch": p["epoch"], **values})
        del iterator, loader

    def _after_step(self, values: dict[str, float], batch: Batch, lr: float, waited: float, elapsed: float,
                    bar: Any) -> None:
        p, acc = self.pos, self.acc
        n = batch.wave.shape[0]
        acc["loss_sum"] += values["loss"] * n
        acc["clips"] += n
        acc["steps"] += 1
        for k, v in values.items():
            acc["terms"][k] = acc["terms"].get(k, 0.0) + v * n
        if self.rt.is_main and p["global_step"] % self.config.log_every_steps == 0:
            self.metrics.write({
                "step": p["global_step"], "epoch": p["epoch"], **values, **self.module.loss.temperatures(),
                "lr": lr, "batch": n, "clips_per_s": n * self.rt.world_size / max(elapsed, 1e-9),
                "data_wait_share": waited / max(elapsed, 1e-9), "step_s": elapsed,
            })
        bar.set_postfix(loss=f"{values['loss']:.3f}", lr=f"{lr:.2e}", refresh=False)
        bar.update(1)

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        """Mean validation loss terms over the validation set (all ranks, eval mode, centre crops)."""
        if self.valid_set is None:
            return {}
        batches = valid_batches(self.data.valid, self.rt.world_size, self.rt.rank)
        loader = make_loader(self.valid_set, batches, num_workers=min(self.config.num_workers, len(batches)),
                             prefetch_batches=self.config.prefetch_batches, seed=self.config.seed)
        counts: dict[str, int] = {}
        names = ["loss", *[t for t in self.module.loss.term_names if t != "loss"]]
        sums = [0.0] * (len(names) + 1)
        self.module.eval()
        try:
            for batch in loader:
                self._record_problems(batch, "valid", counts)
                if batch.wave.shape[0] < 2:
                    continue
                total, terms = self.module(batch.wave.to(self.rt.device), batch.target.to(self.rt.device))
                n = batch.wave.shape[0]
                row = [float(total), *[float(terms[t]) for t in names[1:]]]
                sums = [s + v * n for s, v in zip(sums, row + [1.0])]
        finally:
            self.module.train()
        problem_counts = self._all_sum([float(counts.get(r, 0)) for r in PROBLEMS])
        sums = self._all_sum(sums)
        result: dict[str, float] = {f"val_problems_{r}": int(v) for r, v in zip(PROBLEMS, problem_counts)}
        if sums[-1] > 0:
            result.update({f"val_{name}": s / sums[-1] for name, s in zip(names, sums[:-1])})
        return result

    def _end_epoch(self, complete: bool) -> None:
        p, acc = self.pos, self.acc
        val = self._validate()
        extra = self.evaluate(self.model) if self.evaluate is not None and self.rt.is_main else {}
        term_names = sorted(k for k in acc["terms"] if k != "loss")  # the same on every rank
        totals = self._all_sum([acc["loss_sum"], float(acc["clips"]), acc["wait_s"], acc["time_s"],
                                *[float(acc["problems"][r]) for r in PROBLEMS],
                                *[acc["terms"][k] for k in term_names]])
        loss_sum, clips, wait_s, time_s = totals[:4]
        problem_totals, term_sums = totals[4 : 4 + len(PROBLEMS)], totals[4 + len(PROBLEMS) :]
        known = Counter(reason for part in self.data.train for _, reason in part.source.skipped)
        val_loss = val.get("val_loss")
        row: dict[str, Any] = {"epoch": p["epoch"], "step": p["global_step"], "complete": complete,
                               "train_loss": loss_sum / clips if clips else None}
        for name, value in zip(term_names, term_sums):
            row[f"train_{name}"] = value / clips if clips else None
        row.update({k: v for k, v in val.items() if not k.startswith("val_problems_")})
        row.update({"lr": self.schedule.lr, **self.module.loss.temperatures(),
                    "clips_per_s": clips / max(time_s / self.rt.world_size, 1e-9),
                    "data_wait_share": wait_s / max(time_s, 1e-9), "epoch_s": time_s / self.rt.world_size})
        for reason, count in zip(PROBLEMS, problem_totals):
            row[f"problems_{reason}"] = int(count) + known.get(reason, 0)
        row.update({k: v for k, v in val.items() if k.startswith("val_problems_")})
        row["skipped_batches"] = acc["skipped_batches"]
        row.update(extra)
        skipped = {r: row[f"problems_{r}"] for r in PROBLEMS if row[f"problems_{r}"]}
        if skipped:
            self._print(f"epoch {p['epoch']}: skipped {sum(skipped.values())} training clips {skipped} "
                        f"(details in {self.out / 'problems.csv'})")
        improved = val_loss is not None and val_loss < p["best_val"]
        row["best"] = improved
        if complete:
            self.schedule.after_epoch(val_loss)
            if val_loss is not None:
                p["bad_epochs"] = 0 if improved else p["bad_epochs"] + 1
            p["epoch"] += 1
            p["step_in_epoch"] = 0
            self.acc = self._new_acc()
        if improved:
            p["best_val"] = val_loss
            if self.rt.is_main:
                self._export(self.out / "best")
        self.epoch_rows.append(row)
        if self.rt.is_main:
            columns = list(dict.fromkeys(k for r in self.epoch_rows for k in r))
            write_rows(self.out / "epochs.csv", columns, self.epoch_rows)
        self._snapshot()

    def run(self) -> Path:
        from tqdm.auto import tqdm

        c, p = self.config, self.pos
        self._print(
            f"{c.loss} on {self.data.batch_size} clips x {self.rt.world_size} process(es), "
            f"{self.plan.steps_per_epoch} steps/epoch, up to {self.total_steps} steps, device {self.rt.device}"
        )
        bar = tqdm(total=self.total_steps, initial=p["global_step"], unit="step", desc="pretrain",
                   disable=not (c.progress and self.rt.is_main), dynamic_ncols=True)
        try:
            while not self._should_stop():
                self._train_epoch_part(bar)
                complete = p["step_in_epoch"] >= self.plan.steps_per_epoch
                if complete or p["global_step"] >= self.total_steps:
                    self._end_epoch(complete)
        finally:
            bar.close()
            if self.rt.is_main:
                self.metrics.close()
                self.problem_log.close()
        self._finish()
        return self.out

    def _finish(self) -> None:
        """Export the final weights: the best validation epoch's, or the last."""
        if self.rt.is_main:
            best = self.out / "best"
            if self.config.final_weights == "best" and (best / "checkpoint.safetensors").exists():
                import shutil

                from .._io import atomic_path

                for name in ("checkpoint.safetensors", "config.json"):  # weights first: config holds their hash
                    with atomic_path(self.out / name) as tmp:
                        shutil.copyfile(best / name, tmp)
            for folder in (best, self.out) if (best / "config.json").exists() else (self.out,):
                mark_finished(folder)  # last: a folder without it is an unfinished run
            self._print(f"done at step {self.pos['global_step']}; encoder in {self.out} (w2clib.load_model)")
        if self.rt.distributed:
            import torch.distributed as dist

            dist.barrier()


def pretrain(
    profile_or_config: str | Path | Profile | PretrainConfig | dict[str, Any],
    out_dir: str | Path,
    resume: bool = False,
    *,
    data: PairData | None = None,
    evaluate: Evaluator | None = None,
    on_step: Hook | None = None,
    profile: Profile | None = None,
) -> Path:
    """Distil a Wav2CLIP encoder from teacher targets; returns the output folder.

    Args:
        profile_or_config: a profile (its ``pretrain:`` section), a :class:`PretrainConfig` or a dict.
        out_dir: run folder; receives ``checkpoint.safetensors`` + ``config.json`` (loadable with
            :func:`w2clib.load_model`), ``metrics.csv``, ``epochs.csv``, ``problems.csv``, ``best/``
            and ``train_state.pt`` (see :mod:`w2clib.training.state`).
        resume: continue from ``out_dir/train_state.pt`` (a fresh start when there is none); a run
            saved with another config (:func:`~w2clib.training.config.changed_fields`) is a
            ``ValueError``.  Without it, an existing run in ``out_dir`` is an error, never overwritten.
            (The notebook stage :func:`w2clib.training.run.run_pretrain` moves such a run aside first.)
        data: pairs to train on; ``None`` builds them from ``config.data``/``data_options``.
        evaluate: called with the model (eval mode is up to the callee) after each epoch on rank 0;
            the returned numbers become columns of ``epochs.csv`` (e.g. a retrieval metric).
        on_step: called after every optimiser step with ``{"step", "epoch", "loss", ...}``.
        profile: the profile whose ``data:``/``teacher:`` sections the data builder reads (default:
            ``profile_or_config`` when that is a profile).
    """
    config = as_config(profile_or_config)
    if profile is None and isinstance(profile_or_config, (str, Path, Profile)):
        profile = profile_or_config if isinstance(profile_or_config, Profile) else load_profile(profile_or_config)
    out = Path(out_dir)
    runtime = setup_runtime(config)
    try:
        return _Run(config, out, resume, data, evaluate, on_step, runtime, profile).run()
    finally:
        teardown_runtime(runtime)
