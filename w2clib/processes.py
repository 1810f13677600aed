"""Independent CPU jobs in worker processes, one torch thread each.

Small models (the captioners of notebook 09, the single-picture optimisations of notebook 10, linear
probes) keep two CPU threads of one process only partly busy; on a 2-core machine two processes with
one thread each get through more of them per minute.  :class:`WorkerPool` is the one place that starts
such processes, so every user gets the same rules:

* processes are started with ``spawn``: a forked child of a process that already ran torch / OpenMP
  threads can hang, and ``spawn`` is safe inside a Jupyter kernel;
* every worker sets ``torch.set_num_threads(threads)`` before anything else runs in it;
* ``workers <= 1`` runs every job in the calling process, in order -- the same results, no pool;
* a job is a module-level function and picklable arguments; results come back pickled.

``concurrent.futures`` does the work; this module only fixes those choices (no library does).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from types import TracebackType
from typing import Any, TypeVar

__all__ = ["WorkerPool"]

J = TypeVar("J")
R = TypeVar("R")


def _start(threads: int, initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    if initializer is not None:
        initializer(*initargs)


class _Done(Future):  # type: ignore[type-arg]
    """A future that already holds its result: what :meth:`WorkerPool.submit` returns without a pool."""

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        super().__init__()
        try:
            self.set_result(fn(*args))
        except BaseException as err:  # noqa: BLE001 - handed to the caller by result(), as a pool would
            self.set_exception(err)


class WorkerPool:
    """``with WorkerPool(workers, threads) as pool: pool.map(fn, jobs)``.

    Args:
        workers: processes; ``<= 1`` runs jobs in the calling process.
        threads: torch threads per worker process (0 = torch's default).
        initializer, initargs: run once in each worker after the threads are set (e.g. load a model
            into a module-level dict the jobs read).  Without a pool it runs once in the caller.
    """

    def __init__(self, workers: int, threads: int = 1, *, initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.workers, self.threads = int(workers), int(threads)
        self._initializer, self._initargs = initializer, initargs
        self._pool: ProcessPoolExecutor | None = None
        self._initialised = False

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close(cancel=kind is not None)

    def close(self, cancel: bool = False) -> None:
        """Stop the worker processes (after the running jobs; queued ones are dropped with ``cancel``)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=cancel)
            self._pool = None

    @property
    def in_process(self) -> bool:
        return self.workers <= 1

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:  # started on first use: a pool that is never used costs nothing
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_start,
                                             initargs=(self.threads, self._initializer, self._initargs))
        return self._pool

    def submit(self, fn: Callable[..., R], *args: Any) -> Future[R]:
        """``fn(*args)`` in a worker; without a pool it runs now and the future is already done."""
        if self.in_process:
            if not self._initialised and self._initializer is not None:
                self._initializer(*self._initargs)
            self._initialised = True
            return _Done(fn, args)
        return self._executor().submit(fn, *args)

    def as_completed(self, fn: Callable[[J], R], jobs: Sequence[J]) -> Iterator[tuple[J, R]]:
        """``(job, fn(job))`` for every job, as the workers finish them (in order without a pool).

        The first job that raises stops the iteration with its exception; jobs not yet started are
        dropped when the pool is closed.
        """
        if self.in_process:
            for job in jobs:
                yield job, self.submit(fn, job).result()
            return
        futures = {self.submit(fn, job): job for job in jobs}
        for future in as_completed(futures):
            yield futures[future], future.result()

    def map(self, fn: Callable[[J], R], jobs: Sequence[J]) -> list[R]:
        """``[fn(job) for job in jobs]``, computed by the workers, in job order."""
        if self.in_process:
            return [self.submit(fn, job).result() for job in jobs]
        futures = [self.submit(fn, job) for job in jobs]
        return [f.result() for f in futures]
