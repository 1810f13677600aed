"""WorkerPool: the same results with and without worker processes, threads set, errors passed on."""

from __future__ import annotations

import os

import pytest

from w2clib.processes import WorkerPool

_SEEN: dict[str, int] = {}


def _square(x: int) -> int:
    return x * x


def _threads_and_pid(_: int) -> tuple[int, int]:
    import torch

    return torch.get_num_threads(), os.getpid()


def _remember(value: int) -> None:
    _SEEN["value"] = value


def _remembered(_: int) -> int:
    return _SEEN["value"]


def _fail(x: int) -> int:
    if x == 2:
        raise ValueError(f"job {x} is bad")
    return x


def test_in_process_and_worker_processes_give_the_same_results_in_job_order():
    jobs = list(range(7))
    with WorkerPool(1) as alone, WorkerPool(2, 1) as pool:
        assert alone.map(_square, jobs) == pool.map(_square, jobs) == [j * j for j in jobs]
        assert sorted(pool.as_completed(_square, jobs)) == [(j, j * j) for j in jobs]
        threads = pool.map(_threads_and_pid, range(4))
    assert {t for t, _ in threads} == {1}  # every worker was set to one torch thread
    assert os.getpid() not in {p for _, p in threads}


def test_the_initializer_runs_in_every_worker_and_once_without_a_pool():
    with WorkerPool(2, 1, initializer=_remember, initargs=(41,)) as pool:
        assert pool.map(_remembered, range(4)) == [41] * 4
    _SEEN.clear()
    with WorkerPool(1, initializer=_remember, initargs=(5,)) as alone:
        assert alone.map(_remembered, range(3)) == [5] * 3


def test_a_failing_job_raises_its_own_error_and_bad_sizes_are_refused():
    for workers in (1, 2):
        with WorkerPool(workers, 1) as pool, pytest.raises(ValueError, match="job 2 is bad"):
            pool.map(_fail, range(4))
    with pytest.raises(ValueError, match="workers must be >= 1"):
        WorkerPool(0)
