"""The Dagster code location of veerkracht: Definitions, resources, partitions, jobs, schedules.

Wiring only: asset logic lives in ``assets/``, domain logic in the ``veerkracht`` package.
"""
