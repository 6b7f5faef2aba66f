"""Helper processes: a step's work that holds Python's GIL (pandas, scikit-learn) beside its own.

Belongs here: a small pool of worker processes that a step hands independent pieces of its work
(the resident model's estimate and held-out refits, two of the validation's three analyses and its
report, the map previews) while it does the rest itself. Threads do not help there (measured: the
validation's analyses on two threads were slower than on one), processes do, and a process started
when the run starts has imported pandas, scikit-learn and matplotlib by the time a step needs it.
With ``processes=0`` every piece runs in the step's own process, at once: the same numbers either
way (each piece is a function of its arguments), only the time differs.

The workers die with the process that started them: a run killed with SIGKILL leaves none behind
(each watches its parent and leaves when it is gone).
"""

from __future__ import annotations

import atexit
import gc
import importlib
import os
import pickle
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

#: The niceness of the process that works ahead (:meth:`Helpers.ahead`): the lowest priority.
AHEAD_NICE = 19


class Helpers:
    """``processes`` worker processes (0: none; :meth:`submit` then runs the piece at once, here)
    that import the modules ``preload`` as they start, in the background while the run's first
    steps work (a run's: ``assets.resources.HELPER_IMPORTS``); ``preload`` None: none start (nothing
    of the run hands them work)."""

    def __init__(self, processes: int, preload: Sequence[str] | None = ()):
        self.processes = max(0, int(processes)) if preload is not None else 0
        self._pool = None
        self._ahead = None
        if self.processes:
            self._pool = _spawn_pool(self.processes, tuple(preload))
            for _ in range(self.processes):  # start them now; they import while the run goes on
                self._pool.submit(_ready)

    def submit(self, fn: Callable, /, *args, **kwargs) -> Future:
        """``fn(*args, **kwargs)`` in a worker (its arguments, pickled as it is called, and its
        result are pickled), or here and now without workers; the result or the error through
        the returned future."""
        if self._pool is not None:
            return _submit_pickled(self._pool, fn, args, kwargs)
        return here(fn, *args, **kwargs)

    @property
    def can_work_ahead(self) -> bool:
        """Whether :meth:`ahead` runs anything: only with workers (a run with cores to spare)."""
        return self._pool is not None

    def ahead(self, fn: Callable, /, *args, **kwargs) -> Future | None:
        """``fn(*args, **kwargs)`` in a process of its own at the lowest priority (niceness
        :data:`AHEAD_NICE`), one piece at a time, beside the step that asks and the steps after
        it: work a later step would otherwise do itself and finds done, such as the web map's
        tiles made into the cache while the crosswalk and scores are computed. It takes mostly
        the cores the run leaves idle: on a thread of this process, or at the run's priority,
        it slowed the crosswalk beside it 5.1 -> 7.2-8.1 s; so, 1-2 s (measured on two cores,
        docs/architecture.md). Only with workers (else None, and nothing runs: the later step
        does the work). Its outcome is the later step's to find: an error here leaves that step
        to do the work, and to report an error of its own. That step stops what is left of it
        (:meth:`stop_ahead`), and so does :meth:`close` at the end of the run."""
        if self._pool is None:
            return None
        if self._ahead is None:
            self._ahead = _spawn_pool(1, (), nice=AHEAD_NICE)
        return _submit_pickled(self._ahead, fn, args, kwargs)

    def stop_ahead(self) -> None:
        """Stop the work ahead where it is: what it made is in the cache, what it was making is
        swept by the next run (as after a kill). The step that would use it calls this as it
        starts, and then does what is missing itself, at the run's priority: waiting for a
        process at the lowest priority could take long on a machine that is busy otherwise."""
        if self._ahead is not None:
            # The pool has no way to stop a busy worker but its process (Python 3.14 adds one).
            # SIGKILL, not SIGTERM: a run started where SIGINT is ignored (a background job of a
            # shell script or CI) has SIGTERM ignored too once Dagster has mapped SIGTERM to
            # SIGINT's handler, and its workers inherit that; SIGTERM then stopped nothing and the
            # run waited here for the work ahead to end.
            for process in list((getattr(self._ahead, "_processes", None) or {}).values()):
                process.kill()
            self._ahead.shutdown(wait=True, cancel_futures=True)
            self._ahead = None

    def close(self) -> None:
        """Stop the work ahead (a run that failed or was stopped before the step that would use
        it does not wait for it) and the workers (pieces not started are dropped)."""
        self.stop_ahead()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def here(fn: Callable, /, *args, **kwargs) -> Future:
    """``fn(*args, **kwargs)`` here and now, as a finished future: what :meth:`Helpers.submit`
    does without workers (an error comes back through the future's ``result()``, as from one)."""
    done: Future = Future()
    try:
        done.set_result(fn(*args, **kwargs))
    except Exception as exc:
        done.set_exception(exc)
    return done


def _submit_pickled(pool, fn: Callable, args: tuple, kwargs: dict) -> Future:
    """Submit ``fn(*args, **kwargs)`` to ``pool`` as it is now: pickled here, before this returns.
    The pool would pickle it later, in its feeder thread, while the step goes on, and a step that
    changes what it handed over (the validation fills the cache of the matching it passed) then
    made the pickle fail ("dictionary changed size during iteration", one run in about fifteen
    of a bench) or hold half the change."""
    return pool.submit(_call_pickled, pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL))


def _call_pickled(call: bytes):
    fn, args, kwargs = pickle.loads(call)
    return fn(*args, **kwargs)


def _spawn_pool(processes: int, preload: tuple[str, ...], nice: int = 0):
    """A pool of ``processes`` workers that import ``preload`` as they start, at niceness ``nice``,
    with this process's garbage-collector thresholds, each leaving when this process is gone."""
    # Imported here: every command loads this module with the code location (20 ms).
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter, not a fork of a process that holds DuckDB's and Dagster's
    # threads (forking those is unsafe).
    return ProcessPoolExecutor(
        processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(os.getpid(), preload, gc.get_threshold(), nice),
    )


def _start_worker(
    parent: int, preload: tuple[str, ...], gc_thresholds: tuple[int, ...], nice: int = 0
) -> None:
    gc.set_threshold(*gc_thresholds)  # the parent's (pipelines/__init__.py says why)
    # atexit calls the last registered first: this one after the preloaded libraries' own (they
    # clean up as ever), before those of multiprocessing and logging, registered before the worker
    # started (nothing of theirs is left to do in a worker whose pieces are done).
    atexit.register(_leave)
    if nice:
        os.nice(nice)
    threading.Thread(target=_leave_with, args=(parent,), name="veerkracht-watch-parent", daemon=True).start()
    for name in preload:
        importlib.import_module(name)


def _leave() -> None:
    """A worker's last act when the pool shuts it down: leave without the interpreter's teardown
    (freeing pandas', scikit-learn's and matplotlib's modules and objects one by one), which the
    run waited for at its end: the pool's close 0.61-0.65 -> 0.03-0.04 s. Nothing of the worker's
    needs it: each piece's files are written and closed, and its result sent, before it returns."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be said
            pass
    os._exit(0)


def _leave_with(parent: int) -> None:
    """End this worker when ``parent`` is gone (killed: the pool cannot tell it to stop).

    Not the kernel's ``PR_SET_PDEATHSIG``, which :mod:`veerkracht.publish.supervise` asks for: that
    signal comes when the *thread* that started the worker ends, and the pool starts workers from
    whichever thread submits (a step's), not from one that lives as long as the run."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _ready() -> bool:
    return True
