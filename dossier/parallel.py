"""Work spread over every core: a fork pool whose workers inherit the job.

The job is a function of an index into data the parent already holds, so
nothing but indices travels to the workers and only the (small) results
come back. Below POOL_THRESHOLD items, or without fork, it runs in place.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import traceback
from typing import Callable, Optional, TypeVar

T = TypeVar("T")
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
    # The inherited heap is the parent's: the collector leaves it alone (and
    # so does not copy its pages), and runs on what the worker makes.
    gc.freeze()
    gc.enable()


def run(job: Callable[[int], T], count: int, tick: Callable[[int], None] = lambda done: None) -> list[T]:
    """[job(0), ..., job(count - 1)], on every core when it pays; tick(done) after each."""
    global _job
    n = cores()
    if count < POOL_THRESHOLD or n < 2 or "fork" not in multiprocessing.get_all_start_methods():
        out = []
        for i in range(count):
            out.append(job(i))
            tick(i + 1)
        return out
    _job = job
    try:
        with multiprocessing.get_context("fork").Pool(n, initializer=_quiet_worker) as pool:
            out = []
            for result in pool.imap(_call, range(count), chunksize=max(1, min(32, count // (n * 16)))):
                out.append(result)
                tick(len(out))
            return out
    finally:
        _job = None


def start(job: Callable[[], T]) -> Callable[[], T]:
    """Run job() beside the caller (in a forked process when possible); returns wait() -> its result.

    A plain process and a pipe, no pool: the parent keeps no extra threads,
    so forking it again later (for a pool) stays safe.
    """
    if cores() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        result = job()
        return lambda: result
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        _quiet_worker()
        try:
            send.send((True, job()))
        except BaseException:
            send.send((False, traceback.format_exc()))
        finally:
            send.close()

    process = ctx.Process(target=child, daemon=True)
    process.start()
    send.close()

    def wait() -> T:
        try:
            ok, value = receive.recv()
        except EOFError:
            ok, value = False, f"the process ended without an answer (exit status {process.exitcode})"
        finally:
            process.join()
            receive.close()
        if not ok:
            raise RuntimeError(f"work in a separate process failed:\n{value}")
        return value

    return wait
