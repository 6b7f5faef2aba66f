"""The versions Dagster decides "up to date" with, so that a run that finds nothing new does nothing.

Belongs here: content hashes of a run's four kinds of input — the statistics and polygons of a
year (:func:`inputs_version`, the data version of the observable source asset ``kwb_inputs``),
the method spec (:func:`spec_version`, of ``method_spec``), the validation's criteria
(:func:`criteria_version`, of ``validation_inputs``), and the code and reference data that turn
one into the other (:func:`code_version`, every asset's code version: every source, SQL and data
file of the packages, and the versions of the libraries that compute).

Dagster records with every materialisation the code version and the data versions of its inputs,
so an asset is stale when its code or an upstream version changed since (also after a killed
run: what it did not materialise is stale or missing). The CLI observes the two sources and runs
what is stale and what is downstream of it (``pipelines/__main__.py``); ``--force`` runs
everything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import json
from collections.abc import Iterable
from pathlib import Path

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


def code_version() -> str:
    """The code version of every asset: :func:`code_fingerprint` of the packages and their SQL
    and reference data, found without importing them (16 hex digits)."""
    from importlib.util import find_spec

    from veerkracht.paths import SQL_DIR

    folders = [Path(find_spec(m).origin).parent for m in ("veerkracht", "assets", "pipelines")]
    # Not data/validation: the criteria are an input of the validation alone (criteria_version).
    return code_fingerprint([*folders, SQL_DIR])[:16]


#: The version of an input that could not be read (a file gone, CBS not answering): never equal
#: to an earlier one, so whatever was built from it runs again.
UNKNOWN = "unknown"


def inputs_version(settings: dict, year: int, cbs_modified=None) -> str:
    """The data version of ``year``'s inputs under ``settings`` (the ``settings`` resource's
    fields): source, geometry source, field choices and output folder, and the contents of the
    embedded checksums, your download file and boundary files; for source ``cbs`` the table's
    ``Modified`` (``cbs_modified(year)``, None when CBS cannot be asked).

    The output folder is part of it because one Dagster instance may build several folders: what
    was built into another folder is not up to date in this one."""
    from veerkracht.paths import EMBEDDED_DIR
    from veerkracht.registry import year_info

    source, geometry_source = settings.get("source", "embedded"), settings.get("geometry_source", "embedded")
    parts = {
        "year": year,
        "source": source,
        "geometry_source": geometry_source,
        "fields": [
            settings.get(k, "") for k in ("geometry_code_field", "geometry_name_field", "geometry_level")
        ],
        "output_dir": str(Path(settings.get("output_dir", "")).resolve()),
    }
    if geometry_source == "pdok":
        parts["pdok_url"] = settings.get("pdok_url") or year_info(year).wijkbuurtkaart_url
    files = [Path(f) for f in settings.get("geometry_files", [])]
    if source == "file":
        files.append(Path(settings.get("kwb_file", "")))
    if "embedded" in (source, geometry_source):
        files.append(Path(settings.get("embedded_dir") or EMBEDDED_DIR) / "SHA256SUMS")
    if source == "cbs":
        parts["modified"] = cbs_modified(year) if cbs_modified else None
        if parts["modified"] is None:
            return f"{UNKNOWN} {dt.datetime.now(dt.UTC).isoformat()}"
    if not all(f.exists() for f in files):
        return f"{UNKNOWN} {dt.datetime.now(dt.UTC).isoformat()}"
    return inputs_fingerprint(parts, files)[:16]


def criteria_version(settings: dict) -> str:
    """The data version of the validation's criteria under ``settings``: the contents of the
    shipped criteria folder (with its table of halves), your ``validation_files`` and the
    embedded KWB 2021 buurt figures, in the output folder. A new criterion file makes only the
    validation stale, not the scores."""
    from veerkracht.paths import BUURT_TRUTH_FILE, EMBEDDED_DIR, VALIDATION_DIR

    files = [VALIDATION_DIR, *map(Path, settings.get("validation_files", []))]
    files.append(Path(settings.get("embedded_dir") or EMBEDDED_DIR) / BUURT_TRUTH_FILE)
    if not all(f.exists() for f in files):
        return f"{UNKNOWN} {dt.datetime.now(dt.UTC).isoformat()}"
    parts = {"criteria": True, "output_dir": str(Path(settings.get("output_dir", "")).resolve())}
    return inputs_fingerprint(parts, files)[:16]


def spec_version(spec_hash: str, output_dir: str) -> str:
    """The data version of the method spec: its content hash, in this output folder."""
    return hashlib.sha256(f"{spec_hash}\0{Path(output_dir).resolve()}".encode()).hexdigest()[:16]


def outputs_present(layout: OutputLayout, years: Iterable[int]) -> bool:
    """The years' layers, the published and the build warehouse and the web map exist (a user
    may have deleted them: then the run builds them, whatever Dagster recorded)."""
    return (
        layout.warehouse_db.is_file()
        and layout.build_db.is_file()
        and (layout.web / "index.html").is_file()
        and all((layout.layers / str(y)).is_dir() and any((layout.layers / str(y)).iterdir()) for y in years)
    )
