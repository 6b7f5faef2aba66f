"""What a run was built from, so that a run that finds nothing new does nothing.

Belongs here: content hashes of a run's three kinds of input — the statistics and polygons of a
year (``inputs``), the method spec (``spec``, its content hash), and the code and reference data
that turn one into the other (``code``: every source, SQL and data file of the packages, and the
versions of the libraries that compute) — and the ledger of what the published outputs were built
from (``work/fingerprints.json`` in the output folder, written after a successful run).

A year is up to date when all three hashes equal the ledger's, its outputs are where the run
put them, and no run of it stopped half-way since (:meth:`Ledger.begin`). Only the spec differs:
the year is scored again from the statistics in the build warehouse, not read again. Inputs or
code differ: the year is run whole. The CLI decides this
(``pipelines/__main__.py``); ``--force`` runs everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from veerkracht.atomic import atomic_path
from veerkracht.integrity import sha256
from veerkracht.paths import OutputLayout

#: Files whose content is code or reference data (not caches, not outputs).
_CODE_SUFFIXES = {".py", ".sql", ".csv", ".json", ".toml", ".js", ".html", ".css", ".qml", ".yaml"}
#: Libraries whose version changes what the same code computes or writes.
_LIBRARIES = ("duckdb", "duckdb-extension-spatial", "dagster", "geopandas", "shapely", "pyarrow", "numpy")


def tree_hash(folders: Iterable[Path]) -> str:
    """One hash over the code and data files under ``folders`` (names and contents)."""
    digest = hashlib.sha256()
    for folder in folders:
        folder = Path(folder)
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file()
            and p.suffix in _CODE_SUFFIXES
            and "__pycache__" not in p.parts
            and "_share" not in p.relative_to(folder).parts  # the installed copies of sql/ etc.
        )
        for p in files:
            digest.update(f"{folder.name}/{p.relative_to(folder).as_posix()}\0".encode())
            digest.update(sha256(p).encode())
    return digest.hexdigest()


def code_fingerprint(folders: Iterable[Path]) -> str:
    """``tree_hash`` of ``folders`` plus the versions of the libraries that compute."""
    versions = []
    for name in _LIBRARIES:
        try:
            versions.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} absent")
    return hashlib.sha256((tree_hash(folders) + "\n" + "\n".join(versions)).encode()).hexdigest()


def inputs_fingerprint(parts: dict[str, object], files: Iterable[Path] = ()) -> str:
    """A year's inputs: ``parts`` (source, year, URLs, a table's ``Modified``, field names …)
    and the contents of ``files`` (a download file, boundary files, the embedded checksums)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for given in sorted(Path(p) for p in files):
        # A folder (a shapefile's, a File Geodatabase) counts with every file in it.
        for f in sorted(given.rglob("*")) if given.is_dir() else [given]:
            if f.is_file():
                digest.update(f"{f.relative_to(given.parent).as_posix()}\0{sha256(f)}".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    inputs: str
    spec: str
    code: str


class Ledger:
    """``work/fingerprints.json``: per year, the fingerprint its published outputs were built from."""

    def __init__(self, layout: OutputLayout):
        self.layout = layout
        self.path = layout.root / "work" / "fingerprints.json"

    def read(self) -> dict[int, dict]:
        try:
            return {int(y): v for y, v in json.loads(self.path.read_text()).items()}
        except (FileNotFoundError, ValueError, AttributeError):
            return {}  # none yet, or unreadable: every year runs, and the file is rewritten

    def record(self, fingerprints: dict[int, Fingerprint]) -> None:
        """After a successful run: these years' outputs are built from these fingerprints."""
        entries = self.read()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        entries.update({y: {**asdict(fp), "recorded_at": now} for y, fp in fingerprints.items()})
        self._write(entries)

    def begin(self, years: Iterable[int]) -> None:
        """Before a run publishes anything: its years are unfinished until :meth:`record`.

        Why: a run publishes each year as it finishes, so a run killed (or failed) half-way
        leaves some years at its spec and inputs and the others at the last run's, while the
        ledger still named the last run's for all: the next run said "Nothing to do" over
        outputs of two methods. An unfinished year runs whole next time, whatever its hashes."""
        entries = self.read()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        for year in years:
            entries[year] = {**entries.get(year, {}), "unfinished_since": now}
        self._write(entries)

    def _write(self, entries: dict[int, dict]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps({str(y): v for y, v in sorted(entries.items())}, indent=1))

    def outputs_present(self, year: int) -> bool:
        """The year's layers, the published and the build warehouse and the web map exist."""
        layout = self.layout
        layers = layout.layers / str(year)
        return (
            layers.is_dir()
            and any(layers.iterdir())
            and layout.warehouse_db.is_file()
            and layout.build_db.is_file()
            and (layout.web / "index.html").is_file()
        )

    def decide(self, fingerprints: dict[int, Fingerprint]) -> dict[int, str]:
        """Per year: ``up to date``, ``spec changed`` (score again) or why it runs whole."""
        entries = self.read()
        verdicts = {}
        for year, fp in fingerprints.items():
            old = entries.get(year)
            if old is None:
                verdicts[year] = "not run into this output folder before"
            elif old.get("unfinished_since"):
                verdicts[year] = f"a run started {old['unfinished_since']} did not finish"
            elif not self.outputs_present(year):
                verdicts[year] = "outputs missing"
            elif old.get("code") != fp.code:
                verdicts[year] = "code or libraries changed"
            elif old.get("inputs") != fp.inputs or not fp.inputs:
                verdicts[year] = "inputs changed" if fp.inputs else "inputs cannot be fingerprinted"
            elif old.get("spec") != fp.spec:
                verdicts[year] = "spec changed"
            else:
                verdicts[year] = "up to date"
        return verdicts
