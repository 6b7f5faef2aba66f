"""Resources the assets use: run settings (sources, paths, CBS connection) and the DuckDB build file.

They hand plain domain objects to the assets (an :class:`~veerkracht.paths.OutputLayout`, a
:class:`~veerkracht.method.spec.MethodSpec`, a :class:`~veerkracht.ingest.cbs_client.CbsEndpoint`,
a DuckDB connection). Defaults come from the environment so that ``dagster dev`` and the CLI
behave the same: ``VEERKRACHT_SOURCE`` and ``VEERKRACHT_GEOMETRY_SOURCE`` (names from
:mod:`veerkracht.sources`, default ``embedded``), ``VEERKRACHT_OUTPUT_DIR`` (default ``data/out``
in a checkout) and ``VEERKRACHT_METHOD_SPEC`` (default ``methods/veerkracht-v3.toml``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
from pydantic import PrivateAttr, field_validator

from assets.recovery import tag_this_run
from veerkracht import sources, warehouse
from veerkracht.codes import LEVELS
from veerkracht.helpers import Helpers, here
from veerkracht.method.spec import DEFAULT_SPEC, MethodSpec, check_sources, load_spec
from veerkracht.paths import EMBEDDED_DIR, OutputLayout, cache_from_env, output_dir_from_env

if TYPE_CHECKING:
    # Imported where used: loading the code location (the UI, the daemon, every command) then
    # needs neither pandas nor the HTTP client (0.4 s of a "nothing to do" run).
    from concurrent.futures import Future

    import duckdb

    from veerkracht.ingest.cbs_client import CbsEndpoint


class PipelineSettings(dg.ConfigurableResource):
    """Where statistics come from and where outputs go."""

    source: str = "embedded"
    #: The KWB download file (kwb-YYYY.xls/.xlsx/.csv) that source ``file`` reads for the run's
    #: year (veerkracht/ingest/kwbfile.py).
    kwb_file: str = ""
    #: Where polygons come from: ``embedded`` (the snapshot) or ``pdok`` (the yearly wijk- en
    #: buurtkaart GeoPackage, see veerkracht/geo/pdok.py); ``pdok_url`` overrides its URL.
    geometry_source: str = "embedded"
    pdok_url: str = ""
    #: Your own boundary files (any format GDAL reads), put over the geometry source's polygons
    #: for the areas they cover (veerkracht/geo/userfile.py); the code and name fields are found
    #: by name or content unless named here; ``geometry_level`` keeps one level of the files.
    geometry_files: list[str] = []
    geometry_code_field: str = ""
    geometry_name_field: str = ""
    geometry_level: str = ""
    output_dir: str = str(output_dir_from_env())
    embedded_dir: str = str(EMBEDDED_DIR)
    cbs_catalog_url: str = "opendata.cbs.nl"
    cbs_use_https: bool = True
    cbs_timeout_s: float = 60.0
    cbs_retries: int = 3
    cbs_backoff_s: float = 2.0
    #: Limits per response (the timeout above bounds each read only): wall clock from request to
    #: last byte, decoded size, and pages of one table part (CBS pages 10,000 rows).
    cbs_response_deadline_s: float = 600.0
    cbs_max_response_mb: int = 512
    cbs_max_pages: int = 100
    #: When a ``cbs`` download fails: ``use_stored`` (earlier downloads of the table, with a
    #: warning in the log and the asset metadata) or ``fail``.
    cbs_on_failure: str = "use_stored"
    #: Your own validation criteria: CSV files or folders of them (code, year, level, criterion,
    #: value, direction), used beside the shipped ones in data/validation/.
    validation_files: list[str] = []
    #: The method spec (TOML) the scores are computed with; its hash is stored with every score.
    method_spec: str = str(DEFAULT_SPEC)
    #: Boundary tiles and crosswalks kept across output folders, by a hash of what they were made
    #: from and the code (veerkracht/cache.py); "" keeps none. Default ``$VEERKRACHT_CACHE``
    #: (``off``: none), else ``~/.cache/veerkracht``.
    cache_dir: str = cache_from_env()

    @field_validator("source")
    @classmethod
    def _known_source(cls, value: str) -> str:
        return sources.get("statistics", value).name

    @field_validator("geometry_source")
    @classmethod
    def _known_geometry_source(cls, value: str) -> str:
        return sources.get("geometry", value).name

    @field_validator("kwb_file")
    @classmethod
    def _kwb_file_exists(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"No KWB download file at {value}")
        return str(Path(value).resolve()) if value else value

    @field_validator("geometry_files")
    @classmethod
    def _files_exist(cls, value: list[str]) -> list[str]:
        missing = [f for f in value if not Path(f).exists()]
        if missing:
            raise ValueError(f"No boundary file at {', '.join(missing)}")
        return [str(Path(f).resolve()) for f in value]

    @field_validator("geometry_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value and value not in LEVELS:
            raise ValueError(f"geometry_level must be one of {', '.join(LEVELS)}, not {value!r}")
        return value

    @field_validator("cbs_on_failure")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value not in ("use_stored", "fail"):
            raise ValueError(f"cbs_on_failure must be 'use_stored' or 'fail', not {value!r}")
        return value

    @field_validator("cbs_timeout_s", "cbs_response_deadline_s", "cbs_max_response_mb", "cbs_max_pages")
    @classmethod
    def _positive(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"must be more than 0, not {value}")
        return value

    @field_validator("method_spec")
    @classmethod
    def _valid_spec(cls, value: str) -> str:
        from veerkracht.ingest.canonicals import known_canonicals

        # Raises SpecError naming the file and the entry: bad numbers, unknown keys or sources.
        check_sources(load_spec(value), known_canonicals())
        return value

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Fail before any work when the output directory cannot be written; say which process
        runs this run (``execute_in_process`` runs get no executor that would)."""
        check_writable(Path(self.output_dir))
        if context.instance is not None and context.run_id:
            tag_this_run(context.instance, context.run_id)

    @property
    def endpoint(self) -> CbsEndpoint:
        from veerkracht.http_limits import ResponseLimits
        from veerkracht.ingest.cbs_client import CbsEndpoint

        return CbsEndpoint(
            self.cbs_catalog_url,
            self.cbs_use_https,
            self.cbs_timeout_s,
            self.cbs_retries,
            self.cbs_backoff_s,
            ResponseLimits(self.cbs_response_deadline_s, self.cbs_max_response_mb << 20, self.cbs_max_pages),
        )

    @property
    def method(self) -> MethodSpec:
        return load_spec(self.method_spec)

    @property
    def layout(self) -> OutputLayout:
        return OutputLayout(Path(self.output_dir))


class DuckDBSpatialResource(dg.ConfigurableResource):
    """The pipeline's DuckDB build file; a connection has spatial loaded from the wheel unless the
    step asks ``spatial=False`` (it calls no ``ST_`` function; saves loading it).

    DuckDB allows one writer or many readers per file, never both. Assets that use it share the
    ``duckdb`` concurrency pool (limit 1 in dagster.yaml), and every connection (and
    :meth:`turn`) holds the file's writer turn (``warehouse.writer_turn``), which is what
    guarantees it: Dagster's pool on its SQLite storage can let two steps in at once.
    """

    database: str

    @contextmanager
    def turn(self) -> Iterator[None]:
        """The build file to this step alone (another step of any run waits), e.g. to copy it."""
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        # A warning: the command line's summary shows it under the step (a step that waits
        # explains the run's stall), and the UI marks it.
        with warehouse.writer_turn(self.database, say=dg.get_dagster_logger().warning):
            yield

    @contextmanager
    def get_connection(
        self, read_only: bool = False, spatial: bool = True
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.turn(), warehouse.connection(self.database, read_only=read_only, spatial=spatial) as con:
            yield con


#: What the helper processes import as they start, per asset that hands them work (the modules
#: of its pieces; pandas first, every piece needs it). A run imports those of its selected assets
#: only: the imports take a core for 1.5 s as the run starts, and a run with another method spec
#: needs no scikit-learn or scipy.stats (the resident model's) while it scores on both cores
#: (measured, alternating on the embedded years: such a run 12.3-12.7 s with every module,
#: 11.7-12.2 s without those).
HELPER_IMPORTS = {
    # The tiles made ahead, in a process of their own (Helpers.ahead), which needs the pool.
    "warehouse_core": (),
    "resident_estimates": (
        "scipy.stats",
        "sklearn.impute",
        "sklearn.linear_model",
        "sklearn.model_selection",
        "sklearn.pipeline",
        "veerkracht.method.residents",
    ),
    "validation_criteria": ("veerkracht.method.validation",),
    "area_layers": ("veerkracht.publish.preview", "matplotlib.pyplot"),
    "score_validation": (
        "veerkracht.method.validation",
        "veerkracht.publish.validation_report",
        "matplotlib.pyplot",  # the report's chart (imported where it is drawn)
    ),
}


def helper_preload(selection) -> tuple[str, ...] | None:
    """The modules helper processes import for a run of the asset keys ``selection`` (every
    asset's when None or empty: a run of the whole job, as Dagster records one launched without
    a selection); None when no selected asset hands them work (then none start)."""
    names = [k.to_user_string() for k in selection] if selection else list(HELPER_IMPORTS)
    users = [HELPER_IMPORTS[n] for n in names if n in HELPER_IMPORTS]
    if not users:
        return None
    return tuple(dict.fromkeys(("pandas", *(m for modules in users for m in modules))))


class HelperProcesses(dg.ConfigurableResource):
    """Worker processes a step may hand independent pieces of its work that hold Python's GIL
    (:mod:`veerkracht.helpers`: the resident model's estimate and held-out refits, two of the
    validation's analyses and its report, the map previews), started with the run so they have
    imported pandas, scikit-learn and matplotlib when a step needs them. ``processes``: how many; 0
    (the default) runs every piece in the step's own process. The same numbers either way. The
    command line gives a run in one process one per core beyond the first (at most two); the
    multiprocess executor runs steps side by side instead, and each step process would start its
    own."""

    processes: int = 0
    _helpers: Helpers | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.dagster_run
        self._helpers = Helpers(self.processes, helper_preload(run.asset_selection if run else None))

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._helpers is not None:
            self._helpers.close()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        """``fn(*args, **kwargs)`` in a helper process, or at once here (see :class:`Helpers`)."""
        return (self._helpers.submit if self._helpers is not None else here)(fn, *args, **kwargs)

    @property
    def can_work_ahead(self) -> bool:
        """Whether the run does work ahead for later steps (:meth:`Helpers.ahead`)."""
        return self._helpers is not None and self._helpers.can_work_ahead

    def ahead(self, fn, /, *args, **kwargs) -> Future | None:
        """``fn(*args, **kwargs)`` in a process at the lowest priority beside the steps that follow
        (:meth:`Helpers.ahead`)."""
        return self._helpers.ahead(fn, *args, **kwargs) if self._helpers is not None else None

    def stop_ahead(self) -> None:
        """Stop what is left of the work ahead (:meth:`Helpers.stop_ahead`)."""
        if self._helpers is not None:
            self._helpers.stop_ahead()


def check_writable(folder: Path) -> None:
    """Raise a clear error when ``folder`` cannot be created or written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise dg.DagsterInvalidConfigError(
            f"Output directory {folder} is not writable ({exc.strerror}); set VEERKRACHT_OUTPUT_DIR "
            "or the settings resource's output_dir to a folder you can write",
            [],
            None,
        ) from exc


#: The environment variables that give the settings' defaults (``dagster dev``, the CLI's
#: ``--ui``), per field; ``geometry_files`` is a list joined by ``os.pathsep``.
ENV_VARS = {
    "source": "VEERKRACHT_SOURCE",
    "geometry_source": "VEERKRACHT_GEOMETRY_SOURCE",
    "kwb_file": "VEERKRACHT_KWB_FILE",
    "geometry_files": "VEERKRACHT_GEOMETRY_FILES",
    "geometry_code_field": "VEERKRACHT_GEOMETRY_CODE_FIELD",
    "geometry_name_field": "VEERKRACHT_GEOMETRY_NAME_FIELD",
    "geometry_level": "VEERKRACHT_GEOMETRY_LEVEL",
    "output_dir": "VEERKRACHT_OUTPUT_DIR",
    "method_spec": "VEERKRACHT_METHOD_SPEC",
}


def settings_env(config: dict) -> dict[str, str]:
    """The environment variables that make ``config`` (settings fields) the defaults."""
    return {
        var: os.pathsep.join(config[field]) if field == "geometry_files" else str(config[field])
        for field, var in ENV_VARS.items()
    }


def settings_from_env() -> PipelineSettings:
    """Settings with the environment's source and output directory (validated)."""
    given = {field: os.environ[var] for field, var in ENV_VARS.items() if os.environ.get(var)}
    if "geometry_files" in given:
        given["geometry_files"] = [f for f in given["geometry_files"].split(os.pathsep) if f]
    return PipelineSettings(
        **{"output_dir": str(output_dir_from_env()), "method_spec": str(DEFAULT_SPEC), **given}
    )


def resources_for(settings: PipelineSettings) -> dict:
    """The resources every asset needs, for ``settings``: the settings, their build DuckDB file and
    the helper processes (none)."""
    return {
        "settings": settings,
        "build_db": DuckDBSpatialResource(database=str(settings.layout.build_db)),
        "helpers": HelperProcesses(),
    }


def resources_from_env() -> dict:
    """The Definitions' default resources: settings from the environment."""
    return resources_for(settings_from_env())
