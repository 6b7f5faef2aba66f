"""The Dagster code location of veerkracht: Definitions, jobs, schedules, sensors and the CLI.

Wiring only: assets, their resources, partitions and checks live in ``assets/``; domain logic in
the ``veerkracht`` package. Imports run one way: pipelines -> assets -> veerkracht -> sql.
"""
