"""Where things live: the embedded snapshot in the repository and the run outputs.

One small data class so that assets, tests and the README agree on paths; no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
EMBEDDED_DIR = REPO_ROOT / "data" / "embedded"
DEFAULT_OUTPUT_DIR = REPO_ROOT / "data" / "out"


@dataclass(frozen=True)
class OutputLayout:
    """The run-output tree under ``root`` (default ``data/out``)."""

    root: Path

    @property
    def raw_kwb(self) -> Path:
        """Immutable downloaded KWB snapshots, ``<table>/<vintage>/``."""
        return self.root / "raw" / "kwb"

    def staging(self, year: int) -> Path:
        """Harmonised Parquet of one year, the input of the warehouse."""
        return self.root / "staging" / str(year)

    @property
    def build_db(self) -> Path:
        """The DuckDB file the pipeline writes to (one writer at a time)."""
        return self.root / "work" / "build.duckdb"

    @property
    def warehouse_db(self) -> Path:
        """The published DuckDB file dashboards read (replaced atomically)."""
        return self.root / "warehouse" / "veerkracht.duckdb"

    @property
    def layers(self) -> Path:
        """GeoParquet and GeoPackage layers, ``<year>/<level>_<year>_<epsg>.parquet``."""
        return self.root / "layers"

    @property
    def web(self) -> Path:
        """The static web map: page, vendored JS, ``veerkracht_<year>.pmtiles``."""
        return self.root / "web"

    @property
    def previews(self) -> Path:
        """PNG map previews rendered from the layers."""
        return self.root / "previews"
