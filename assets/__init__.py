"""Dagster assets of veerkracht, one module per stage, with their resources, partitions and checks.

Thin by design: each asset reads its settings, calls the ``veerkracht`` package, and reports
metadata. Stages: statistics -> geometries -> warehouse -> scores (+ validation, resident counts)
-> layers (+ published warehouse, web map), and the boundary crosswalk. Imports only
``veerkracht`` (downward); the Definitions that wire these together are in ``pipelines/``. The
heavy domain modules (scikit-learn, scipy, matplotlib, geopandas) are imported inside the asset
functions: loading the code location — every step process, the CLI's "what is stale" — skips them.
"""

from assets import (
    crosswalk,
    geometries,
    layers,
    residents,
    scores,
    statistics,
    validation,
    versions,
    warehouse,
    webmap,
)

#: Every module that defines assets, in stage order (``pipelines.definitions.build_defs`` loads them).
ASSET_MODULES = (
    versions,
    statistics,
    geometries,
    warehouse,
    scores,
    residents,
    validation,
    layers,
    webmap,
    crosswalk,
)
