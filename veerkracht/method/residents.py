"""How many residents are in a vulnerable position, per area and year: published, carried, modelled.

Belongs here: the estimator behind ``core.vulnerable_residents`` (its inputs come from
``sql/resident_inputs.sql``; the asset in ``assets/residents.py`` stores what this returns).

**Definition.** The headline counts *residents of low-income households*: the share of
households under CBS's low-income threshold (``HuishoudensMetEenLaagInkomen``, a fixed
purchasing-power line, the measure CBS itself uses for poverty) times the area's inhabitants.
Applying a household share to residents assumes those households are of average size. The
range ``_min``/``_max`` spans the nested published definitions around it — households at or
under the social minimum (the narrowest) up to 120 % of the social minimum (the widest) — as
residents too; nested groups widen the range, they are never added up.

**Kinds of estimate** (``estimate_kind``, with ``estimate_vintage`` the KWB year of the figure):

* ``published`` -- the area's own figure of the year.
* ``carried`` -- the newest earlier vintage moved onto the year's area (``sql/resident_inputs.sql``:
  the stored crosswalk with population weights, else the same code with an unchanged boundary;
  for buurten, the KWB 2021 buurt figures of ``extra/kwb2021_buurt_income_9gemeenten.csv`` by code),
  times the year's inhabitants.
* ``modelled`` -- a small-area estimate. A ridge regression predicts how far an area's rate lies
  from its parent's (buurt from wijk, wijk from gemeente, gemeente from Nederland) on the logit
  scale, from how its covariates differ from the parent's (tenure, corporation share, WOZ,
  household size, single-family share, age, density, income where published). It is fitted on
  the year's areas whose rate is published or carried, and applied top-down. Then the children
  of each parent that are not published (carried and modelled) are scaled by one factor so that
  all its children add up to the parent's count (benchmarking, as statistical offices do):
  buurten add up to their wijk, wijken to their gemeente; published figures are never changed.

**Intervals** ``_p05``/``_p95`` (90 %): modelled -- the empirical 5th and 95th percentiles of
out-of-sample errors on the logit scale, from cross-validation with whole gemeenten held out
(validated on buurten after benchmarking, as produced); carried -- the drift of a rate per year
of the vintage's age (:data:`DRIFT_PER_YEAR`, measured per level); published -- the figure
itself (no sampling interval: KWB counts registers).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from scipy.special import expit, logit

from veerkracht import warehouse
from veerkracht.cache import FileCache
from veerkracht.helpers import here
from veerkracht.integrity import update_with_frame
from veerkracht.paths import BUURT_TRUTH_FILE

#: The newest KWB vintage that publishes the headline per gemeente and wijk (the figures every
#: later year carries or models from); the graph declares every year's dependency on it.
SOURCE_YEAR = 2021
#: Drift of a rate per year of a carried figure's age, logit 5th/95th percentiles per level: the
#: change of the bijstand rate (recipients per inhabitant; the only income-related figure published
#: for the same areas in two vintages offline, a proxy for the low-income share) from KWB 2021 to
#: KWB 2023 in Utrecht, divided by the 2 years (linear in the age: wider than a random walk's
#: square root, on purpose). Buurten: the 77 buurten of the buurt file below with at least 30
#: recipients in both years (fewer are dominated by CBS's rounding to tens); wijken: Utrecht's 10
#: wijken; gemeenten: as wijken (one gemeente in two vintages is no measurement).
#: ``tests/integration/test_residents.py`` re-measures both from the warehouse.
DRIFT_PER_YEAR = {"buurt": (-0.115, 0.129), "wijk": (-0.029, 0.035), "gemeente": (-0.029, 0.035)}
DEFINITION = (
    "Residents of low-income households (CBS low-income threshold): % households with a low income "
    "x inhabitants; range: households at or under the social minimum ... up to 120 % of it"
)
#: The same in the web map's words (its legend and popup read it from the page's meta file).
DEFINITION_NL = "bewoners van huishoudens met een laag inkomen (CBS-lage-inkomensgrens)"
#: The headline rate and the nested definitions that bound it (all % of households).
HEADLINE = "laag_inkomen"
RANGE_GROUPS = ("sociaal_minimum", "laag_inkomen", "tot_120_sm")
#: Parent level of each level (the benchmarking and the model's reference).
PARENT = {"gemeente": "land", "wijk": "gemeente", "buurt": "wijk"}
#: Areas with fewer inhabitants get no estimate (KWB itself suppresses their income figures).
MIN_INHABITANTS = 200
#: The interval's quantiles.
LOW, HIGH = 0.05, 0.95
#: Rates are clipped into [CLIP, 100 - CLIP] % before the logit.
CLIP = 0.5
ALPHAS = np.logspace(-2, 3, 21)


def load_buurt_truth(embedded_dir: Path) -> pd.DataFrame:
    """The KWB 2021 buurt figures by code: low-income, social-minimum and 120 % shares, inhabitants,
    bijstand recipients (download-file names renamed to this module's)."""
    rows = pd.read_csv(Path(embedded_dir) / BUURT_TRUTH_FILE)
    rows = rows.rename(
        columns={
            "gwb_code": "code",
            "gm_naam": "gemeente_name",
            "a_inw": "inwoners",
            "p_hh_lkk": "laag_inkomen",
            "p_hh_osm": "sociaal_minimum",
            "p_hh_120": "tot_120_sm",
            "a_soz_wb": "bijstand",
        }
    )
    keep = ["code", "gemeente_name", "inwoners", "laag_inkomen", "sociaal_minimum", "tot_120_sm", "bijstand"]
    return rows[keep]


@dataclass
class YearRun:
    """What :func:`estimate_year` stored for a year."""

    estimates: Estimates
    validation: pd.DataFrame | None
    drift: dict[str, tuple[float, float]]
    missing_source: str | None
    #: Whether the stored estimates were kept (same inputs and code; see :func:`estimate_year`).
    reused: bool = False
    #: Whether they were copied from another output folder's (the ``cache`` of :func:`estimate_year`).
    from_cache: bool = False


def estimate_year(
    con: duckdb.DuckDBPyConnection,
    year: int,
    truth: pd.DataFrame,
    *,
    code: str,
    cache: FileCache | None = None,
    submit: Callable[..., Future] | None = None,
) -> YearRun:
    """Estimate ``year`` from the warehouse and replace its rows of ``core.vulnerable_residents``
    (and of ``core.resident_validation`` where buurten of three or more gemeenten have truth).

    A year whose inputs (its ``resident_inputs`` rows, whether the source vintage is built, the
    buurt truth) and ``code`` (the assets' code version) equal those its stored rows were
    estimated from keeps them (``core.resident_input``): the estimate is a function of these, so
    it would come out the same. A run of one year (a backfill, the sensor after a revision)
    re-estimates the years its statistics reach and reuses the others (the national year's
    held-out buurt validation, nine refits, took 2.6 of a run's 4 s of estimates).
    ``cache``: the estimates other output folders made, by the same key (:mod:`veerkracht.cache`):
    a year estimated there from the same inputs with the same code is copied, not estimated.
    ``submit``: where the estimate and half the buurt validation's refits may run meanwhile
    (:meth:`veerkracht.helpers.Helpers.submit`; the same numbers, sooner).
    """
    frame = warehouse.query(con, "resident_inputs", year=int(year), source_year=SOURCE_YEAR)
    have_source = con.execute(
        "SELECT count(*) FROM core.fact_indicator WHERE year = ? AND canonical = ?",
        [SOURCE_YEAR, "HuishoudensMetEenLaagInkomen"],
    ).fetchone()[0]
    missing = None
    if not have_source and year != SOURCE_YEAR:
        missing = (
            f"KWB {SOURCE_YEAR} is not in the build warehouse: {year} has no carried or modelled "
            f"resident counts (run {SOURCE_YEAR} too, e.g. `python -m pipelines --year {SOURCE_YEAR} "
            f"--year {year}`)"
        )
    key = inputs_key(frame, truth, have_source, year, code)
    stored = _stored_run(con, year, key, missing)
    if stored is not None:
        return stored
    # The key goes first and comes back last: a run stopped in between leaves no key, so the
    # year is estimated again rather than its half-replaced rows reused.
    _forget_inputs(con, year)
    # One run at a time estimates from these inputs (veerkracht/cache.py); the next copies them.
    with cache.making(f"{key}.parquet") if cache is not None else nullcontext():
        run = _cached_run(cache, key)
        if run is None:
            run = _estimated_run(frame, truth, year, missing, submit)
            if cache is not None:
                _keep_run(cache, key, run)
    return _store(con, year, key, run, missing)


def _estimated_run(
    frame: pd.DataFrame, truth: pd.DataFrame, year: int, missing: str | None, submit=None
) -> YearRun:
    """The estimates of ``year`` (rows, fit, buurt validation) made from ``frame``; with
    ``submit``, the estimate and half the validation's held-out gemeenten are made there while
    this process refits the other half."""
    rate = truth.set_index("code")["laag_inkomen"]
    in_year = frame.loc[frame["level"].eq("buurt") & frame["code"].isin(rate.index), "gemeente_code"]
    validating = in_year.nunique() >= 3 and not missing
    # The estimate goes first to the helper, which imported scikit-learn as the run started: this
    # process's own import (1.1 s, for its share of the refits) then overlaps the estimate instead
    # of preceding it (resident_estimates 3.60 -> 3.26 s, paired cold runs).
    made = (submit or here)(
        estimate, frame, year=year, source_year=SOURCE_YEAR, buurt_truth=rate, drift_per_year=DRIFT_PER_YEAR
    )
    if validating:
        validation = BuurtValidation(frame, rate, year=year, source_year=SOURCE_YEAR, submit=submit)
        held_out = validation.result()
    est = made.result()
    if missing:  # nothing to carry or model from: no count anywhere, and the reason says why
        rows = est.rows
        small = (
            rows["kwetsbare_bewoners_null_reason"].fillna("").str.startswith(("fewer_than", "no_population"))
        )
        rows.loc[~small, "kwetsbare_bewoners_null_reason"] = (
            f"no_source_vintage (KWB {SOURCE_YEAR} not in the build)"
        )
        estimated = [c for c in rows.columns if c.startswith(("kwetsbare_bewoners", "estimate_"))]
        for col in estimated:
            if col != "kwetsbare_bewoners_null_reason":
                rows[col] = rows[col].where(np.zeros(len(rows), dtype=bool))  # all NULL, dtype kept
    return YearRun(est, held_out if validating else None, DRIFT_PER_YEAR, missing)


def _store(con: duckdb.DuckDBPyConnection, year: int, key: str, run: YearRun, missing: str | None) -> YearRun:
    """Replace ``year``'s rows of the resident tables with ``run``'s, its key last."""
    rows = run.estimates.rows.copy()
    rows.insert(0, "year", np.int32(year))
    rows["year"] = rows["year"].astype("int32")
    warehouse.replace_rows(con, "core.vulnerable_residents", rows, year=int(year))
    if run.validation is not None:
        stored = run.validation.assign(year=np.int32(year)).astype({"year": "int32"})
        warehouse.replace_rows(con, "core.resident_validation", stored, year=int(year))
    elif warehouse.has_table(con, "core.resident_validation"):
        con.execute("DELETE FROM core.resident_validation WHERE year = ?", [int(year)])
    summary = json.dumps({"errors": run.estimates.errors, "fit": run.estimates.fit})
    warehouse.replace_rows(
        con,
        "core.resident_input",
        pd.DataFrame({"year": [np.int32(year)], "key": [key], "fit": [summary]}),
        year=int(year),
    )
    return replace(run, missing_source=missing)


#: Years of estimates kept in the cache (the ones used last; ~0.5 MB for the national year).
KEEP_ESTIMATES = 32


def _keep_run(cache: FileCache, key: str, run: YearRun) -> None:
    """Keep ``run``'s rows in the cache as ``<key>.parquet``, with the fit's summary and the buurt
    validation in the file's metadata (JSON: floats as Python writes them, read back exactly)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    extra = {
        "errors": run.estimates.errors,
        "fit": run.estimates.fit,
        "validation": None if run.validation is None else run.validation.to_dict("records"),
    }
    table = pa.Table.from_pandas(run.estimates.rows, preserve_index=False)
    table = table.replace_schema_metadata({**table.schema.metadata, b"veerkracht": json.dumps(extra)})
    try:
        with tempfile.TemporaryDirectory(prefix="veerkracht-estimates-") as tmp:
            path = Path(tmp) / f"{key}.parquet"
            pq.write_table(table, path)
            cache.keep(path, path.name)
    except OSError:  # no room for the copy: the estimates are stored without it
        pass


def _cached_run(cache: FileCache | None, key: str) -> YearRun | None:
    """The estimates another output folder kept under ``key``, else None."""
    import pyarrow.parquet as pq

    if cache is None or not cache.has(f"{key}.parquet"):
        return None
    try:
        with tempfile.TemporaryDirectory(prefix="veerkracht-estimates-") as tmp:
            path = Path(tmp) / f"{key}.parquet"
            if not cache.fetch(path.name, path):
                return None
            table = pq.read_table(path)
        extra = json.loads(table.schema.metadata[b"veerkracht"])
        errors = {level: tuple(q) for level, q in extra["errors"].items()}
        validation = None if extra["validation"] is None else pd.DataFrame(extra["validation"])
    except (OSError, KeyError, TypeError, ValueError):  # no room to copy it, or not such a file: estimated
        return None
    estimates = Estimates(table.to_pandas(), errors, extra["fit"])
    return YearRun(estimates, validation, DRIFT_PER_YEAR, None, from_cache=True)


def inputs_key(frame: pd.DataFrame, truth: pd.DataFrame, have_source: int, year: int, code: str) -> str:
    """What a year's estimates are computed from (see :func:`estimate_year`), as one hash."""
    digest = hashlib.sha256(f"{code}|{year}|{SOURCE_YEAR}|{have_source}".encode())
    for part in (frame, truth):
        update_with_frame(digest, part)
    return digest.hexdigest()


def _forget_inputs(con: duckdb.DuckDBPyConnection, year: int) -> None:
    if warehouse.has_table(con, "core.resident_input"):
        con.execute("DELETE FROM core.resident_input WHERE year = ?", [int(year)])


def _stored_run(con: duckdb.DuckDBPyConnection, year: int, key: str, missing: str | None) -> YearRun | None:
    """The year's stored estimates when they were made from inputs with ``key``, else None."""
    if not warehouse.has_table(con, "core.resident_input"):
        return None
    found = con.execute(
        "SELECT fit FROM core.resident_input WHERE year = ? AND key = ?", [int(year), key]
    ).fetchone()
    if found is None:
        return None
    summary = json.loads(found[0])
    rows = con.execute(
        "SELECT * EXCLUDE (year) FROM core.vulnerable_residents WHERE year = ?", [int(year)]
    ).df()
    if rows.empty:  # the year's rows are gone (a key without them is no reason to keep nothing)
        return None
    validation = None
    if warehouse.has_table(con, "core.resident_validation"):
        validation = con.execute(
            "SELECT * EXCLUDE (year) FROM core.resident_validation WHERE year = ?", [int(year)]
        ).df()
        validation = validation if len(validation) else None
    errors = {level: tuple(q) for level, q in summary["errors"].items()}
    return YearRun(Estimates(rows, errors, summary["fit"]), validation, DRIFT_PER_YEAR, missing, reused=True)


def features(frame: pd.DataFrame) -> pd.DataFrame:
    """The model's covariates of each area (transformed; NaN where not published)."""
    inw = frame["inwoners"].where(frame["inwoners"] > 0)
    return pd.DataFrame(
        {
            "koop": frame["koop"],
            "corporatie": frame["corporatie"],
            "log_woz": np.log(frame["woz"].where(frame["woz"] > 0)),
            "hh_grootte": frame["hh_grootte"],
            "eengezins": frame["eengezins"],
            "pct_0_15": 100 * frame["n_0_15"] / inw,
            "pct_65plus": 100 * frame["n_65plus"] / inw,
            "log_dichtheid": np.log1p(frame["dichtheid"].clip(lower=0)),
            "log_adressen": np.log1p(frame["adressen"].clip(lower=0)),
            "log_inkomen": np.log(frame["inkomen"].where(frame["inkomen"] > 0)),
        },
        index=frame.index,
    )


def _to_logit(pct) -> np.ndarray:
    return logit(np.clip(np.asarray(pct, dtype=float), CLIP, 100 - CLIP) / 100)


def _model():
    # scikit-learn is imported where a model is fitted: the page, the validation and the layers
    # import this module for its definitions and the buurt figures (0.5 s saved in such a run).
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    # Missing covariates are imputed as 0 difference (the area is taken to be like its parent)
    # with an indicator column, so the model can learn what "not published" says.
    return make_pipeline(
        SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True),
        StandardScaler(),
        RidgeCV(alphas=ALPHAS),
    )


def _design(frame: pd.DataFrame, own: pd.DataFrame, parent_rate: pd.Series) -> pd.DataFrame:
    """Covariate differences from the parent, the parent's logit rate and the level."""
    # ``own`` is indexed by code (codes are unique within a year).
    f = own.loc[frame["code"]].set_axis(frame.index)
    p = own.reindex(frame["parent_code"]).set_axis(frame.index)
    x = (f - p).add_prefix("d_")
    x["parent_logit"] = _to_logit(parent_rate.loc[frame.index])
    x["is_buurt"] = (frame["level"] == "buurt").astype(float)
    x["is_wijk"] = (frame["level"] == "wijk").astype(float)
    return x


@dataclass
class Estimates:
    """What :func:`estimate` returns: one row per area, the measured errors, the fit's summary."""

    rows: pd.DataFrame
    errors: dict[str, tuple[float, float]] = field(default_factory=dict)
    fit: dict = field(default_factory=dict)


def known_rates(frame: pd.DataFrame, buurt_truth: pd.Series | None, year: int, source_year: int):
    """(rate, kind, vintage, basis) of every area whose headline is published or carried."""
    rate = frame[HEADLINE].copy()
    kind = pd.Series(np.where(rate.notna(), "published", None), index=frame.index, dtype=object)
    vintage = pd.Series(np.where(rate.notna(), str(year), None), index=frame.index, dtype=object)
    basis = pd.Series(np.where(rate.notna(), "own_figure", None), index=frame.index, dtype=object)
    carried = rate.isna() & frame[f"carried_{HEADLINE}"].notna()
    rate[carried] = frame.loc[carried, f"carried_{HEADLINE}"]
    kind[carried], vintage[carried] = "carried", str(source_year)
    basis[carried] = frame.loc[carried, "carried_basis"]
    if buurt_truth is not None and year != source_year:
        truth = frame["code"].map(buurt_truth)
        by_code = rate.isna() & (frame["level"] == "buurt") & truth.notna()
        rate[by_code] = truth[by_code]
        kind[by_code], vintage[by_code], basis[by_code] = "carried", str(source_year), "same_code"
    return rate, kind, vintage, basis


def estimate(
    frame: pd.DataFrame,
    *,
    year: int,
    source_year: int,
    buurt_truth: pd.Series | None = None,
    drift_per_year: dict[str, tuple[float, float]] | None = None,
    only: np.ndarray | pd.Series | None = None,
) -> Estimates:
    """Estimate the headline count of every area of ``frame`` (``sql/resident_inputs.sql`` rows).

    ``buurt_truth``: the KWB ``source_year`` buurt rates by code (carried where the code exists in
    ``year``; the model's buurt training rows). ``drift_per_year``: logit quantiles (low, high) of
    a rate's drift per year by level, for carried figures (none given: no drift). ``only`` (a mask
    of ``frame``'s rows): fit on every area, estimate these (they must hold every parent and all
    children of each parent that benchmarking reads; :func:`validate_buurten`).
    """
    frame = _numeric(frame)
    rate, kind, vintage, basis = known_rates(frame, buurt_truth, year, source_year)
    own = features(frame)
    own = own.set_axis(frame["code"])
    est = Estimates(rows=pd.DataFrame())
    final = rate.copy()  # filled top-down with modelled rates, then benchmarked
    parent_rate = frame["parent_code"].map(dict(zip(frame["code"], rate, strict=True)))
    train = frame.index[rate.notna() & parent_rate.notna() & frame["level"].isin(list(PARENT))]
    model = None
    if len(train) >= 30:
        x = _design(frame.loc[train], own, parent_rate)
        y = _to_logit(rate[train]) - x["parent_logit"]
        # Plain arrays in, for every fit and prediction (the columns of _design, always in the
        # same order): scikit-learn's checks of DataFrame inputs took ~0.25 s of 2024's 110 fits.
        model = _model().fit(x.to_numpy(), y.to_numpy())
        est.fit = {
            "training areas": {lv: int((frame.loc[train, "level"] == lv).sum()) for lv in PARENT},
            "ridge alpha": float(model[-1].alpha_),
        }
        est.errors = _level_errors(frame, train, x, y)
    if only is not None:
        # The same numbers for these areas as estimating all: every step below is per area or per
        # parent over all its children, in the same order.
        keep = np.asarray(only, dtype=bool)
        parts = (frame, rate, kind, vintage, basis, final)
        frame, rate, kind, vintage, basis, final = (v[keep] for v in parts)
    has_people = frame["inwoners"].fillna(0) > 0
    for level in PARENT:
        at = frame.index[(frame["level"] == level) & has_people]
        parents = frame["parent_code"].map(dict(zip(frame["code"], final, strict=True)))
        todo = at[final[at].isna().to_numpy() & parents[at].notna().to_numpy()]
        if model is not None and len(todo):
            xp = _design(frame.loc[todo], own, parents)
            final[todo] = 100 * expit(xp["parent_logit"] + model.predict(xp.to_numpy()))
            kind[todo], vintage[todo], basis[todo] = "modelled", str(source_year), "model"
        adjust = at[(kind[at] != "published").to_numpy() & final[at].notna().to_numpy()]
        scaled = benchmark(frame, final, adjust, fixed=at[(kind[at] == "published").to_numpy()])
        moved = scaled.index[(scaled - final[scaled.index]).abs() > 1e-9]
        final[scaled.index] = scaled
        basis[moved] = basis[moved] + "+benchmarked"
    est.rows = _rows(frame, final, kind, vintage, basis, est.errors, drift_per_year or {}, year)
    return est


TEXT_COLUMNS = ("code", "level", "parent_code", "gemeente_code", "carried_basis")


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every figure as float (a column NULL for every area arrives as objects)."""
    frame = frame.reset_index(drop=True).copy()
    for col in frame.columns.difference(TEXT_COLUMNS):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    for col in TEXT_COLUMNS:
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None)
    return frame


def _counted(frame: pd.DataFrame) -> pd.Series:
    return frame["inwoners"].fillna(0) >= MIN_INHABITANTS


def benchmark(frame: pd.DataFrame, rate: pd.Series, adjust: pd.Index, fixed: pd.Index) -> pd.Series:
    """The rates of the rows ``adjust`` scaled per parent so that all the parent's children (the
    ``fixed`` ones -- published, kept as they are -- and these) add up to the parent's count
    (rate x inhabitants). Where the fixed children already hold more than the parent, or the
    parent has no rate, the rates stay as they are."""
    inw = frame["inwoners"]
    parent_count = pd.Series((rate / 100 * inw).to_numpy(), index=frame["code"])
    parent_of = frame["parent_code"]
    fixed_sum = (rate[fixed] / 100 * inw[fixed]).groupby(parent_of[fixed]).sum()
    adj_sum = (rate[adjust] / 100 * inw[adjust]).groupby(parent_of[adjust]).sum()
    rest = parent_count.reindex(adj_sum.index) - fixed_sum.reindex(adj_sum.index).fillna(0)
    factor = (rest / adj_sum).where((rest >= 0) & (adj_sum > 0))
    return (rate[adjust] * parent_of[adjust].map(factor).fillna(1.0)).clip(upper=100)


def _level_errors(frame, train, x, y) -> dict[str, tuple[float, float]]:
    """Out-of-sample logit errors per level with whole gemeenten held out: their 5th/95th
    percentiles (the modelled intervals)."""
    from sklearn.model_selection import GroupKFold

    groups = frame.loc[train, "gemeente_code"].fillna(frame.loc[train, "code"])
    if groups.nunique() < 5:  # one gemeente (Utrecht 2023): hold out whole wijken instead
        rows = frame.loc[train]
        groups = rows["parent_code"].where(rows["level"] == "buurt", rows["code"])
    oof = pd.Series(np.nan, index=train)
    xa, ya = x.to_numpy(), y.to_numpy()
    for fit_i, test_i in GroupKFold(n_splits=min(10, groups.nunique())).split(xa, ya, groups):
        model = _model().fit(xa[fit_i], ya[fit_i])
        oof.iloc[test_i] = ya[test_i] - model.predict(xa[test_i])
    out = {}
    for level in PARENT:
        r = oof[frame.loc[train, "level"] == level].dropna()
        if len(r) >= 20:
            out[level] = (float(r.quantile(LOW)), float(r.quantile(HIGH)))
    return out


def _rows(frame, final, kind, vintage, basis, errors, drift, year) -> pd.DataFrame:
    inw = frame["inwoners"]
    point = final / 100 * inw
    lo = pd.Series(np.nan, index=frame.index)
    hi = pd.Series(np.nan, index=frame.index)
    lg = pd.Series(_to_logit(final.fillna(50)), index=frame.index)
    for level, (q_lo, q_hi) in errors.items():
        m = (kind == "modelled") & (frame["level"] == level)
        lo[m], hi[m] = expit(lg[m] + q_lo) * inw[m], expit(lg[m] + q_hi) * inw[m]
    age = (year - pd.to_numeric(vintage, errors="coerce")).clip(lower=0)
    for level in PARENT:
        m = (kind == "carried") & (frame["level"] == level)
        q_lo, q_hi = drift.get(level, (0.0, 0.0))
        lo[m] = expit(lg[m] + q_lo * age[m]) * inw[m]
        hi[m] = expit(lg[m] + q_hi * age[m]) * inw[m]
    published = kind == "published"
    lo[published], hi[published] = point[published], point[published]
    # Rates are clipped at 0.5 % and 99.5 % for the logit: an interval always holds its estimate.
    lo, hi = np.fmin(lo, point), np.fmax(hi, point)
    # The range of nested definitions: the area's own or carried shares, else its estimate times
    # the parent's ratio of those definitions to the headline.
    ratio = {}
    for g in RANGE_GROUPS:
        share = frame[g].fillna(frame[f"carried_{g}"]) if g != HEADLINE else final
        r = share / final
        by_code = dict(zip(frame["code"], r, strict=True))
        ratio[g] = r.fillna(frame["parent_code"].map(by_code))
    bounds = pd.concat([ratio[g] * point for g in RANGE_GROUPS], axis=1)
    counted = _counted(frame) & point.notna() & (frame["level"] != "land")
    reason = np.select(
        [inw.isna(), inw.fillna(0) < MIN_INHABITANTS, point.isna()],
        [
            "no_population_figure",
            f"fewer_than_{MIN_INHABITANTS}_inhabitants (CBS publishes no income figures for them)",
            "no_estimate (no published or carried figure for the area or its parent)",
        ],
        default=None,
    )
    # Counts from shares of CBS's rounded figures often land on exactly x.5: to 6 decimals first,
    # so the last bits of a sum (in whatever order it was added) never decide how one rounds.
    point, lo, hi, bounds = (x.astype("float64").round(6) for x in (point, lo, hi, bounds))
    out = pd.DataFrame(
        {
            "code": frame["code"],
            "level": frame["level"],
            "kwetsbare_bewoners": point.round().where(counted).astype("Int64"),
            "kwetsbare_bewoners_p05": np.floor(lo).where(counted).astype("Int64"),
            "kwetsbare_bewoners_p95": np.ceil(hi).where(counted).astype("Int64"),
            "kwetsbare_bewoners_min": bounds.min(axis=1).round().where(counted).astype("Int64"),
            "kwetsbare_bewoners_max": (
                bounds.max(axis=1).clip(upper=inw).round().where(counted).astype("Int64")
            ),
            "kwetsbare_bewoners_pct": final.round(1).where(counted),
            "estimate_kind": kind.where(counted),
            "estimate_vintage": vintage.where(counted),
            "estimate_basis": basis.where(counted),
            "kwetsbare_bewoners_null_reason": pd.Series(reason, index=frame.index).where(~counted),
        }
    )
    for g in ("bijstand", "wmo", "jeugdzorg"):
        out[f"n_{g}"] = frame[g].round().astype("Int64")
    # Text as strings even when every value is NULL: a column of None would reach DuckDB as an
    # integer column (and a changed column type rebuilds the table without its other years).
    text = ["estimate_kind", "estimate_vintage", "estimate_basis", "kwetsbare_bewoners_null_reason"]
    out[text] = out[text].astype("string")
    return out[frame["level"] != "land"].reset_index(drop=True)


def drift_quantiles(rate_then: pd.Series, rate_now: pd.Series, years: int) -> tuple[float, float]:
    """Logit quantiles (5 %, 95 %) per year of the change of a rate between two vintages (paired
    by index), for the intervals of carried figures: the drift over ``years`` scaled to one year."""
    both = pd.concat([rate_then, rate_now], axis=1).dropna()
    d = (_to_logit(both.iloc[:, 1]) - _to_logit(both.iloc[:, 0])) / years
    return float(np.quantile(d, LOW)), float(np.quantile(d, HIGH))


def validate_buurten(
    frame: pd.DataFrame, buurt_truth: pd.Series, *, year: int, source_year: int
) -> pd.DataFrame:
    """The buurt estimates against the published buurt figures, on gemeenten the fit never saw.

    For each gemeente with buurt truth: refit without any of its areas' figures (its buurten,
    wijken' own rows stay as the parents production uses, since every wijk has a published or
    carried figure), estimate all its buurten (benchmarked to their wijken), and compare with the
    truth. Two baselines measured the same way: every buurt gets its wijk's rate; a regression of
    the logit rate on the corporation-housing share alone. Returns one row per method with rho,
    mean absolute error (percentage points), interval coverage (model only) and n.
    """
    return BuurtValidation(frame, buurt_truth, year=year, source_year=source_year).result()


class BuurtValidation:
    """:func:`validate_buurten`, its refits started at once: with ``submit`` (a
    :meth:`veerkracht.helpers.Helpers.submit`), every other held-out gemeente is refitted there
    while this process refits the rest when :meth:`result` is asked (and does other work before)."""

    def __init__(self, frame, buurt_truth: pd.Series, *, year: int, source_year: int, submit=None):
        self.frame, self.truth, self.year, self.source_year = _numeric(frame), buurt_truth, year, source_year
        truth = self.frame["code"].map(buurt_truth)
        buurten = (self.frame["level"] == "buurt") & truth.notna()
        self.held = list(self.frame.loc[buurten, "gemeente_code"].dropna().unique())
        self.far = self.held[1::2] if submit is not None else []
        self.pending = (
            submit(_held_out_predictions, self.frame, buurt_truth, self.far, year, source_year)
            if self.far
            else None
        )

    def result(self) -> pd.DataFrame:
        far = set(self.far)
        near = [gm for gm in self.held if gm not in far]
        preds = _held_out_predictions(self.frame, self.truth, near, self.year, self.source_year)
        if self.pending is not None:
            preds.update(self.pending.result())
        # In the gemeenten's order, as one process would have made them: the same sums.
        return _validation_table(pd.concat([preds[gm] for gm in self.held]))


def _held_out_predictions(frame, buurt_truth: pd.Series, gemeenten, year: int, source_year: int) -> dict:
    """Per held-out gemeente (of ``gemeenten``), its buurten's truth, model estimate and interval
    and both baselines (``frame``: :func:`_numeric` rows)."""
    truth = frame["code"].map(buurt_truth)
    by_code = frame.set_index("code")
    preds = {}
    for gm in gemeenten:
        blind = frame.copy()
        in_gm = blind["gemeente_code"] == gm
        hidden_truth = buurt_truth[~buurt_truth.index.isin(blind.loc[in_gm, "code"])]
        # The held-out gemeente's wijken keep their figure (production has it for every wijk);
        # its buurten and its own gemeente row are not training rows for the buurt relation.
        # Estimated for the held-out gemeente's areas only (with every gemeente and the country,
        # which its benchmarking reads): the fit is on all areas, as in production.
        wijken = blind["parent_code"].eq(gm) & blind["level"].eq("wijk")
        only = (
            blind["level"].isin(["land", "gemeente"])
            | in_gm
            | wijken
            | blind["parent_code"].isin(blind.loc[wijken, "code"])
        )
        fitted = estimate(blind, year=year, source_year=source_year, buurt_truth=hidden_truth, only=only)
        estimated = fitted.rows.set_index("code")
        rows = estimated.loc[frame.loc[in_gm & truth.notna() & (frame["level"] == "buurt"), "code"]]
        inw = by_code["inwoners"].reindex(rows.index)
        wijk_rate = by_code["parent_code"].reindex(rows.index).map(estimated["kwetsbare_bewoners_pct"])
        b2 = _corporation_baseline(frame, hidden_truth, rows.index)
        preds[gm] = pd.DataFrame(
            {
                "gemeente_code": gm,
                "truth": rows.index.map(buurt_truth),
                "model": rows["kwetsbare_bewoners_pct"],
                "model_lo": 100 * rows["kwetsbare_bewoners_p05"] / inw,
                "model_hi": 100 * rows["kwetsbare_bewoners_p95"] / inw,
                "wijk_rate": wijk_rate,
                "corporation_only": b2,
            },
            index=rows.index,
        )
    return preds


def _validation_table(preds: pd.DataFrame) -> pd.DataFrame:
    """Rho, mean absolute error, coverage and n per method from the held-out predictions."""
    from scipy.stats import spearmanr

    p = preds.dropna(subset=["truth", "model"])
    out = []
    for method in ("model", "wijk_rate", "corporation_only"):
        q = p.dropna(subset=[method])
        row = {
            "method": method,
            "n": len(q),
            "gemeenten": int(q["gemeente_code"].nunique()),
            "rho": float(spearmanr(q["truth"], q[method]).statistic),
            "mae_pp": float((q["truth"] - q[method]).abs().mean()),
        }
        if method == "model":
            # Over the areas with an interval (nullable counts: a missing bound is not "outside").
            b = q.dropna(subset=["model_lo", "model_hi"])
            inside = (b["truth"] >= b["model_lo"]) & (b["truth"] <= b["model_hi"])
            row["coverage_90"] = float(inside.astype(float).mean()) if len(b) else float("nan")
        out.append(row)
    common = p.dropna(subset=["model", "wijk_rate", "corporation_only"])
    for method in ("model", "wijk_rate", "corporation_only"):
        out.append(
            {
                "method": f"{method} (buurten all three estimate)",
                "n": len(common),
                "gemeenten": int(common["gemeente_code"].nunique()),
                "rho": float(spearmanr(common["truth"], common[method]).statistic),
                "mae_pp": float((common["truth"] - common[method]).abs().mean()),
            }
        )
    result = pd.DataFrame(out)
    return result


def _corporation_baseline(frame, truth: pd.Series, targets) -> pd.Series:
    """Baseline 2: logit rate ~ corporation share, fitted on the buurten with truth (held-out
    gemeente excluded) and the wijken with a published or carried rate."""
    from sklearn.linear_model import LinearRegression

    known = frame[HEADLINE].fillna(frame[f"carried_{HEADLINE}"])
    known = known.where(frame["level"] != "buurt", frame["code"].map(truth))
    fit = frame[frame["level"].isin(["wijk", "buurt"]) & known.notna() & frame["corporatie"].notna()]
    reg = LinearRegression().fit(fit[["corporatie"]], _to_logit(known[fit.index]))
    t = frame.set_index("code").loc[list(targets)]
    ok = t["corporatie"].notna()
    out = pd.Series(np.nan, index=t.index)
    if ok.any():
        out[ok] = 100 * expit(reg.predict(t.loc[ok, ["corporatie"]]))
    return out
