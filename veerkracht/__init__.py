"""veerkracht: the domain logic of the veerkracht pipeline, usable without Dagster.

Layers (each imports only the ones below it)::

    pipelines/   Dagster wiring: Definitions, resources, jobs, schedules, sensors
    assets/      thin Dagster assets, one module per stage
    veerkracht/  this package: CBS client, key harmonisation, geometry, warehouse, layers
    sql/         DuckDB models, one a file, run by veerkracht.warehouse

Nothing in this package imports dagster; see docs/architecture.md.
"""

__version__ = "0.1.0"
