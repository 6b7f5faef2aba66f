"""Where things live: the package's own data (SQL models, method specs, the embedded snapshot)
and the run outputs.

Belongs here: finding package data the same way in a checkout and in an installed wheel, and
the layout of the output folder; no other I/O. In a wheel, ``pyproject.toml`` maps the top-level
``sql/``, ``methods/``, ``data/embedded/`` and ``dagster.yaml`` into ``veerkracht/_share/``
(package data); in a checkout (also an editable install) they are read where they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

_PACKAGE = Path(str(files("veerkracht")))
_SHARE = _PACKAGE / "_share"
#: The checkout this package sits in (None when installed as a wheel).
CHECKOUT = _PACKAGE.parent if (_PACKAGE.parent / "pyproject.toml").is_file() else None


def _data(checkout_relative: str, share_name: str) -> Path:
    packaged = _SHARE / share_name
    if packaged.exists():
        return packaged
    if CHECKOUT is not None:
        return CHECKOUT / checkout_relative
    raise FileNotFoundError(f"Package data {share_name!r} is missing from {_SHARE}: reinstall veerkracht")


SQL_DIR = _data("sql", "sql")
METHODS_DIR = _data("methods", "methods")
EMBEDDED_DIR = _data("data/embedded", "embedded")
#: External criteria the scores are validated against (veerkracht/method/validation.py).
VALIDATION_DIR = _data("data/validation", "validation")
#: KWB 2021 buurt figures (9 gemeenten, complete cases), in the embedded snapshot: the resident
#: model's buurt truth and a validation criterion (here, where the inputs' versions find it without
#: importing the model).
BUURT_TRUTH_FILE = "extra/kwb2021_buurt_income_9gemeenten.csv"
DAGSTER_YAML = _data("dagster.yaml", "root/dagster.yaml")
#: Outputs go under the checkout's data/out, or ./veerkracht-out for an installed package;
#: VEERKRACHT_OUTPUT_DIR (or the settings resource) overrides both.
DEFAULT_OUTPUT_DIR = (CHECKOUT / "data" / "out") if CHECKOUT is not None else Path.cwd() / "veerkracht-out"
DEFAULT_DAGSTER_HOME = (
    (CHECKOUT / "data" / "dagster_home") if CHECKOUT is not None else Path.cwd() / "veerkracht-dagster-home"
)


def cache_from_env() -> str:
    """Where files made from the inputs are kept across output folders (:mod:`veerkracht.cache`):
    ``$VEERKRACHT_CACHE`` (``off``: nowhere), else ``$XDG_CACHE_HOME/veerkracht``
    (``~/.cache/veerkracht``); none where there is no home folder (a container's user without
    one), as the cache only saves time."""
    given = os.environ.get("VEERKRACHT_CACHE")
    if given:
        return "" if given == "off" else given
    try:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except (RuntimeError, KeyError):  # no $HOME and no passwd entry for the user
        return ""
    return str(Path(cache) / "veerkracht")


def output_dir_from_env() -> Path:
    """``$VEERKRACHT_OUTPUT_DIR`` or the default output folder."""
    return Path(os.environ.get("VEERKRACHT_OUTPUT_DIR") or DEFAULT_OUTPUT_DIR)


@dataclass(frozen=True)
class OutputLayout:
    """The run-output tree under ``root`` (default ``data/out``)."""

    root: Path

    @property
    def raw(self) -> Path:
        """Immutable downloads: ``kwb/<table>/<vintage>/`` and ``geometries/<year>/``."""
        return self.root / "raw"

    @property
    def raw_kwb(self) -> Path:
        """Immutable downloaded KWB snapshots, ``<table>/<vintage>/``."""
        return self.raw / "kwb"

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
    def crosswalk(self) -> Path:
        """Boundary crosswalks between years, ``<level>_<from>_<to>.parquet``."""
        return self.root / "crosswalk"

    @property
    def web(self) -> Path:
        """The static web map: page, vendored JS, ``tiles_<key>.pmtiles``, ``areas_<year>.json``."""
        return self.root / "web"

    @property
    def previews(self) -> Path:
        """PNG map previews rendered from the layers."""
        return self.root / "previews"
