"""Work spread over every core: a fork pool whose workers inherit the job.

The job is a function of an index into data the parent already holds, so
nothing but indices travels to the workers and only the (small) results
come back. Below POOL_THRESHOLD items, or without fork, it runs in place.
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.pool
import os
import signal
from typing import Callable, Optional, TypeVar

T = TypeVar("T")
U = TypeVar("U")
POOL_THRESHOLD = 200  # fewer items than this: starting a pool costs more than it saves

_job: Optional[Callable[[int], object]] = None  # inherited by forked workers


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _call(i: int) -> object:
    return _job(i)


def _quiet_worker() -> None:
    # Ctrl-C reaches the whole process group: the parent stops the pool and
    # reports it once; workers must not each print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The pool ends its workers with SIGTERM. A handler inherited from the parent
    # (serve's) runs only between two steps of Python: a worker that takes the
    # signal just before it waits for its next job waits for ever, and so does
    # the parent, joining it (seen once in serve). The default action cannot be missed.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # So with the command line's SIGHUP handler (cli.py); one ignored (nohup) stays ignored.
    if callable(signal.getsignal(signal.SIGHUP)):
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    # The inherited heap is the parent's: the collector leaves it alone (and
    # so does not copy its pages), and runs on what the worker makes.
    gc.freeze()
    gc.enable()


_ForkProcess = getattr(multiprocessing.context, "ForkProcess", multiprocessing.Process)  # none on Windows: no pool


class _Worker(_ForkProcess):
    """A pool worker that ends without a word once the process it works for is gone."""

    def run(self) -> None:
        try:
            super().run()
        except (BrokenPipeError, ConnectionResetError):
            # Its result has nowhere to go: the parent was killed outright (SIGKILL), which
            # whoever killed it knows. A traceback from each worker would tell nobody anything.
            pass
        except KeyboardInterrupt:
            # Ctrl-C came before _quiet_worker set it aside: the parent reports it, once.
            pass


class _Pool(multiprocessing.pool.Pool):
    @staticmethod
    def Process(ctx, *args, **kwds) -> _Worker:  # how Pool makes each worker
        return _Worker(*args, **kwds)


def run(job: Callable[[int], T], count: int, tick: Callable[[int], None] = lambda done: None) -> list[T]:
    """[job(0), ..., job(count - 1)], on every core when it pays; tick(done) after each."""
    return run_beside(job, count, tick, lambda: None)[0]


def run_beside(job: Callable[[int], T], count: int, tick: Callable[[int], None],
               beside: Callable[[], U], worker_items: int = 0,
               take: Callable[[T], T] = lambda result: result) -> tuple[list[T], U]:
    """run(job, count, tick), and beside() in this process while the workers do the jobs;
    each result is kept as take(result) gives it, as soon as it comes.

    Work that reads the whole of the parent's data is cheaper here than in a
    process of its own: a forked process that reads every object copies the
    memory that holds them (CPython writes reference counts into them), so a
    worker's memory grows with every inherited object its jobs read. With
    worker_items, a fresh worker (forked again) takes over after that many
    items, which keeps each one's copy small at the price of the copying.
    A result comes from a worker as a copy of its own: `take` can put what
    this process holds already in its place before the next one comes.
    """
    global _job
    n = cores()
    if count < POOL_THRESHOLD or n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        aside = beside()
        out = []
        for i in range(count):
            out.append(take(job(i)))
            tick(i + 1)
        return out, aside
    _job = job
    chunk = max(1, min(32, count // (n * 16)))
    fresh_after = max(1, worker_items // chunk) if worker_items else None
    try:
        with _Pool(n, initializer=_quiet_worker, maxtasksperchild=fresh_after,
                   context=multiprocessing.get_context("fork")) as pool:
            results = pool.imap(_call, range(count), chunksize=chunk)  # the workers start now
            aside = beside()
            out = []
            for result in results:
                out.append(take(result))
                tick(len(out))
            return out, aside
    finally:
        _job = None
