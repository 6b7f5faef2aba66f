"""The Dagster code location of veerkracht: Definitions, jobs, schedules, sensors and the CLI.

Wiring only: assets, their resources, partitions and checks live in ``assets/``; domain logic in
the ``veerkracht`` package. Imports run one way: pipelines -> assets -> veerkracht -> sql.

Importing it sets two process defaults. First (before any step loads numpy; an explicit value is
kept): OpenBLAS on one thread. The numpy and scikit-learn work of the steps is thousands of small
matrix products (validation's bootstrap resamples, the resident model's ridge fits), for which
OpenBLAS's second thread spins more CPU than it saves; the Monte Carlo runs its own threads with
BLAS on one thread (veerkracht/method/uncertainty.py). Measured on the embedded years, cold, 2
cores, paired runs: user CPU 49.6-50.8 -> 41.4-47.2 s, wall unchanged within the machine's noise;
the test suite, whose two workers share the cores, 293 -> 275 s; a 520,000-row ridge fit takes
the same wall time on one thread as on two, with half the CPU.

Second, Python's cyclic garbage collector runs less often (:data:`GC_THRESHOLDS`; helper
processes take this process's thresholds, veerkracht/helpers.py). The steps allocate millions of
small container objects (pandas frames and their indexes, Dagster's events), and with Python's
default (a collection every 700 net allocations) the collector ran ~1,900 times in one in-process
run of the embedded years and took 2.3-2.7 s of CPU; at 10,000 it runs ~320 times and takes 0.5 s.
Peak memory stayed within the runs' spread (README's command, four paired runs: 1.14-1.23 GB
against 1.15-1.19 GB; the bench's 30x run 2.69 GB). Reference counting, which frees almost
everything, is unchanged.
"""

import gc
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: Python's collector thresholds (generation 0, 1, 2) in processes that run the pipeline.
GC_THRESHOLDS = (10_000, 10, 10)
gc.set_threshold(*GC_THRESHOLDS)
