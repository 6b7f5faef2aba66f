"""Yearly partitions shared by every per-year asset: one static key per year of the registry."""

import dagster as dg

from veerkracht.registry import KWB_TABLES

YEARS = dg.StaticPartitionsDefinition([str(y) for y in sorted(KWB_TABLES)])
