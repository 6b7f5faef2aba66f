"""Dagster assets of veerkracht, one module per stage.

Thin by design: each asset reads its settings, calls the ``veerkracht`` package, and reports
metadata. Stages: statistics -> geometries -> warehouse -> scores -> layers (+ published
warehouse).
"""
