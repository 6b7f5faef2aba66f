"""The Dagster code location of veerkracht: Definitions, jobs, schedules, sensors and the CLI.

Wiring only: assets, their resources, partitions and checks live in ``assets/``; domain logic in
the ``veerkracht`` package. Imports run one way: pipelines -> assets -> veerkracht -> sql.

Importing it sets one process default (before any step loads numpy; an explicit value is kept):
OpenBLAS on one thread. The numpy and scikit-learn work of the steps is thousands of small
matrix products (validation's bootstrap resamples, the resident model's ridge fits), for which
OpenBLAS's second thread spins more CPU than it saves; the Monte Carlo runs its own threads with
BLAS on one thread (veerkracht/method/uncertainty.py). Measured on the embedded years, cold, 2
cores, paired runs: user CPU 49.6-50.8 -> 41.4-47.2 s, wall unchanged within the machine's noise;
the test suite, whose two workers share the cores, 293 -> 275 s; a 520,000-row ridge fit takes
the same wall time on one thread as on two, with half the CPU.
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
