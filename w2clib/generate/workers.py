"""Drawing several pictures at once in worker processes (``generation.workers``).

Each picture is one long single-image optimisation whose small convolutions do not keep two CPU
threads busy: on a shared 2-core machine two torch threads made one picture several times *slower*
(oversubscribed), so notebook 10 draws with one thread.  Separate processes, one thread each, use
the other core without sharing anything: each rebuilds the perceptor from its ``describe()`` record
(and the VQGAN decoder from its file) once, then draws whole pictures.  A picture is the same
whichever process draws it: every random draw comes from the picture's own seeded generator.

The processes come from :class:`w2clib.processes.WorkerPool` (``spawn``, threads set first); they
are for CPUs only -- on a GPU the caller draws in-process.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ..processes import WorkerPool

__all__ = ["draw_in_workers"]

_STATE: dict[str, Any] = {}


def _start(description: dict[str, Any], generator_kind: str, vqgan_weights: str | None) -> None:
    from ..teachers import teacher_from_description
    from .weights import load_vqgan

    _STATE["perceptor"] = teacher_from_description(description, device="cpu")
    _STATE["generator"] = load_vqgan(vqgan_weights, device="cpu") if generator_kind == "vqgan" else "fourier"


def _draw(draw: Callable[..., dict[str, Any]], job: Any) -> dict[str, Any]:
    return draw(job, _STATE["perceptor"], _STATE["generator"])


def draw_in_workers(jobs: Sequence[Any], draw: Callable[..., dict[str, Any]], *, perceptor: Any,
                    generator_kind: str, vqgan_weights: str | None, workers: int, threads: int) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Yield ``(job, draw(job, perceptor, generator))`` for every job as worker processes finish them.

    ``draw`` must be a module-level function (it is sent to the workers by name); ``perceptor`` a
    teacher with ``describe()`` (rebuilt in each worker on the CPU).
    """
    with WorkerPool(workers, threads, initializer=_start,
                    initargs=(perceptor.describe(), generator_kind, vqgan_weights)) as pool:
        yield from pool.as_completed(functools.partial(_draw, draw), jobs)
