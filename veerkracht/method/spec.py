"""The method spec: one TOML file (``methods/*.toml``) that holds the whole veerkracht method.

Belongs here: reading and validating a spec into frozen data classes, its content hash, and the
two tables (themes, indicators) the SQL models join on. No computation and no warehouse I/O:
scoring lives in :mod:`veerkracht.method.scoring` and ``sql/score_*.sql``.

Why TOML: it is in the standard library (``tomllib``), allows comments next to every choice,
and has no implicit typing surprises (YAML's ``no`` -> False). The hash is taken over the
*parsed* content, so editing a comment does not change it but changing any number does.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

from veerkracht.paths import METHODS_DIR
from veerkracht.registry import KWB_TABLES

if TYPE_CHECKING:  # pandas is imported where a table is made: loading a spec needs none
    import pandas as pd

DEFAULT_SPEC = METHODS_DIR / "veerkracht-v3.toml"

AGGREGATIONS = ("arithmetic", "geometric")
NORMALISATIONS = ("percentile", "goalpost")
TRANSFORMS = ("none", "log")


class SpecError(ValueError):
    """The spec file is invalid; the message names the file and the offending entry."""


@dataclass(frozen=True)
class Indicator:
    """One indicator: how to compute it from canonical KWB indicators and how to orient it."""

    name: str
    theme: str
    title: str
    source: str
    denominator: str = ""
    scale: float = 1.0
    unit: str = ""
    direction: int = 1
    transform: str = "none"
    size: str = ""
    weight: float = 1.0
    #: Whether values of different years can be compared on fixed goalposts (change classes);
    #: false needs ``not_comparable_because`` (nominal euros, a definition break, ...).
    comparable: bool = True
    not_comparable_because: str = ""


@dataclass(frozen=True)
class Theme:
    name: str
    axis: str
    title: str
    weight: float = 1.0


@dataclass(frozen=True)
class MonteCarloSpec:
    """How the uncertainty analysis perturbs the method (see :mod:`veerkracht.uncertainty`)."""

    runs: int = 1000
    seed: int = 20241
    weight_concentration: float = 5.0
    p_other_normalisation: float = 0.5
    p_other_aggregation: float = 0.5
    p_no_shrinkage: float = 0.5
    p_leave_out: float = 0.5
    #: Method v3: per year of a carried figure's age, the standard deviation of the noise added to
    #: its percentile rank in each run (an older vintage is a noisier measure of today).
    age_rank_noise: float = 0.0


@dataclass(frozen=True)
class MethodSpec:
    """A parsed, validated method spec. ``sha256`` identifies its content."""

    name: str
    version: str
    description: str
    min_population: int
    min_indicator_share: float
    min_theme_share: float
    normalisation: str
    goalpost_base_year: int
    goalpost_quantiles: tuple[float, float]
    within_theme: str
    across_themes: str
    geometric_floor: float
    flag_percentile: float
    shrinkage: bool
    prior_size: float
    quantiles: int
    top_share: float
    bivariate: int
    change_threshold: float
    axes: dict[str, str]
    themes: tuple[Theme, ...]
    indicators: tuple[Indicator, ...]
    uncertainty: MonteCarloSpec = field(default_factory=MonteCarloSpec)
    #: Method v3: an indicator the year does not publish for an area takes the newest earlier
    #: figure at most this many years older (0: none, as v1 and v2).
    carry_max_age: int = 0
    sha256: str = ""
    path: str = ""

    @property
    def spec_hash(self) -> str:
        """Short content hash stored with every score (the full one is in core.method_spec)."""
        return self.sha256[:12]

    @property
    def label(self) -> str:
        return f"{self.name}-{self.version}"

    def theme_table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame([{**t.__dict__, "spec_hash": self.spec_hash} for t in self.themes])

    def indicator_table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [
            {**i.__dict__, "axis": self._axis_of(i.theme), "spec_hash": self.spec_hash}
            for i in self.indicators
        ]
        return pd.DataFrame(rows).astype({"scale": float, "weight": float, "direction": int})

    def sql_params(self) -> dict:
        """The scalar parameters of the ``sql/score_*.sql`` and ``sql/mart_area.sql`` models
        (each model is passed the ones it names)."""
        return {
            "spec_hash": self.spec_hash,
            "method_version": self.label,
            "min_population": self.min_population,
            "min_indicator_share": self.min_indicator_share,
            "min_theme_share": self.min_theme_share,
            "normalisation": self.normalisation,
            "lo_q": self.goalpost_quantiles[0],
            "hi_q": self.goalpost_quantiles[1],
            "within_theme": self.within_theme,
            "across_themes": self.across_themes,
            "floor": self.geometric_floor,
            "flag_percentile": self.flag_percentile,
            "shrinkage": self.shrinkage,
            "prior_size": self.prior_size,
            "quantiles": self.quantiles,
            "top_share": self.top_share,
            "bivariate": self.bivariate,
            "change_threshold": self.change_threshold,
            "carry_max_age": self.carry_max_age,
        }

    def _axis_of(self, theme: str) -> str:
        return next(t.axis for t in self.themes if t.name == theme)


def load_spec(path: str | Path = DEFAULT_SPEC) -> MethodSpec:
    """Read and validate a spec file; raise :class:`SpecError` naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        known = ", ".join(sorted(p.name for p in METHODS_DIR.glob("*.toml")))
        raise SpecError(f"No method spec at {path} (specs in {METHODS_DIR}: {known})")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from exc
    try:
        spec = _parse(raw)
    except (KeyError, TypeError) as exc:
        raise SpecError(f"{path}: missing or mistyped entry {exc}") from exc
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from exc
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    return replace(spec, sha256=digest, path=str(path))


#: Every key the spec may hold, per section (a typo would otherwise be ignored silently).
SECTIONS: dict[str, set[str]] = {
    "method": {"name", "version", "description"},
    "eligibility": {"min_population", "min_indicator_share", "min_theme_share"},
    "normalisation": {"method", "goalpost_base_year", "goalpost_quantiles"},
    "aggregation": {"within_theme", "across_themes", "geometric_floor", "flag_percentile"},
    "shrinkage": {"enabled", "prior_size"},
    "classes": {"quantiles", "top_share", "bivariate", "change_threshold"},
    "uncertainty": set(MonteCarloSpec.__dataclass_fields__),
    "vintages": {"carry_max_age"},
    "axes": None,  # names are free; each an optional title
    "themes": None,
    "indicators": None,
}
#: (low, high, what) for every number: inclusive bounds; None = open.
RANGES: dict[str, tuple[float | None, float | None, str]] = {
    "eligibility.min_population": (0, None, "an inhabitant count >= 0"),
    "aggregation.geometric_floor": (1e-9, 1, "in (0, 1]"),
    "aggregation.flag_percentile": (0.5, 0.999, "a percentile in [0.5, 0.999]"),
    "shrinkage.prior_size": (0, None, ">= 0"),
    "classes.quantiles": (2, 20, "a whole number of classes, 2 to 20"),
    "classes.top_share": (0.001, 0.5, "a share in [0.001, 0.5] (0.1 = the top 10 %)"),
    "classes.bivariate": (2, 5, "a whole number of classes per axis, 2 to 5"),
    "classes.change_threshold": (0, 0.5, "in [0, 0.5]"),
    "uncertainty.runs": (1, 100_000, "a whole number of runs, 1 to 100,000"),
    "uncertainty.seed": (0, 2**32 - 1, "a whole number >= 0"),
    "uncertainty.weight_concentration": (0.01, 1000, "in [0.01, 1000]"),
    "uncertainty.p_other_normalisation": (0, 1, "a probability"),
    "uncertainty.p_other_aggregation": (0, 1, "a probability"),
    "uncertainty.p_no_shrinkage": (0, 1, "a probability"),
    "uncertainty.p_leave_out": (0, 1, "a probability"),
    "uncertainty.age_rank_noise": (0, 0.5, "a rank noise per year in [0, 0.5]"),
    "vintages.carry_max_age": (0, 10, "a whole number of years, 0 to 10"),
}
WHOLE = {
    "vintages.carry_max_age",
    "eligibility.min_population",
    "classes.quantiles",
    "classes.bivariate",
    "uncertainty.runs",
    "uncertainty.seed",
}


def _non_finite(value: object, where: str) -> str | None:
    """The dotted path of the first NaN or infinity in the parsed TOML, if any."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = ((f"{i + 1}", v) for i, v in enumerate(value))
    else:
        return None
    for key, child in items:
        found = _non_finite(child, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def _check_keys_and_ranges(raw: dict) -> None:
    # TOML has nan and inf: every comparison with NaN is false, so a range check alone passes it
    # (top_share = nan flagged no area, weight = inf failed late at scores_in_range).
    bad = _non_finite(raw, "")
    if bad:
        raise SpecError(f"{bad} must be a finite number (the spec has nan or inf there)")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise SpecError(f"unknown section(s) {unknown}; sections: {', '.join(SECTIONS)}")
    for section, keys in SECTIONS.items():
        if keys is not None and isinstance(raw.get(section), dict):
            extra = sorted(set(raw[section]) - keys)
            if extra:
                raise SpecError(f"[{section}] has unknown key(s) {extra}; known: {', '.join(sorted(keys))}")
    fields = set(Indicator.__dataclass_fields__)
    for i, ind in enumerate(raw.get("indicators", [])):
        extra = sorted(set(ind) - fields)
        if extra:
            name = ind.get("name", f"#{i + 1}")
            raise SpecError(
                f"indicator {name!r} has unknown key(s) {extra}; known: {', '.join(sorted(fields))}"
            )
    for dotted, (low, high, what) in RANGES.items():
        section, key = dotted.split(".")
        if key not in raw.get(section, {}):
            continue
        value = raw[section][key]
        whole = dotted in WHOLE
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (whole and not isinstance(value, int))
        ):
            raise SpecError(f"{dotted} must be {what}, got {value!r}")
        if (low is not None and value < low) or (high is not None and value > high):
            raise SpecError(f"{dotted} must be {what}, got {value!r}")


def check_sources(spec: MethodSpec, known: set[str]) -> None:
    """Refuse a spec whose indicators name canonical KWB indicators (source, denominator, size)
    that no known source provides: a misspelt source would otherwise be "not published"."""
    for i in spec.indicators:
        for role, name in (("source", i.source), ("denominator", i.denominator), ("size", i.size)):
            if name and name not in known:
                close = sorted(k for k in known if k.lower()[:8] == name.lower()[:8])[:5]
                hint = f"; similar: {', '.join(close)}" if close else ""
                raise SpecError(
                    f"{spec.path}: indicator {i.name!r}: {role} {name!r} is not a known canonical "
                    f"indicator (veerkracht/ingest/indicator_map.csv, Misdrijven){hint}"
                )


def _parse(raw: dict) -> MethodSpec:
    _check_keys_and_ranges(raw)
    m, el, norm, agg = raw["method"], raw["eligibility"], raw["normalisation"], raw["aggregation"]
    shr, cls = raw["shrinkage"], raw["classes"]
    axes = {name: a.get("title", name) for name, a in raw["axes"].items()}
    themes = tuple(
        Theme(name=n, axis=t["axis"], title=t.get("title", n), weight=float(t.get("weight", 1.0)))
        for n, t in raw["themes"].items()
    )
    indicators = tuple(Indicator(**i) for i in raw["indicators"])
    _choose("normalisation.method", norm["method"], NORMALISATIONS)
    _choose("aggregation.within_theme", agg["within_theme"], AGGREGATIONS)
    _choose("aggregation.across_themes", agg["across_themes"], AGGREGATIONS)
    for axis in axes:
        if not any(t.axis == axis for t in themes):
            raise SpecError(f"axis {axis!r} has no themes: give it one, or remove it")
    for t in themes:
        if t.axis not in axes:
            raise SpecError(f"theme {t.name!r} names unknown axis {t.axis!r} (axes: {', '.join(axes)})")
        if t.weight <= 0:
            raise SpecError(f"theme {t.name!r}: weight must be > 0, got {t.weight}")
    names = [i.name for i in indicators]
    if len(set(names)) != len(names):
        raise SpecError(f"duplicate indicator names: {sorted({n for n in names if names.count(n) > 1})}")
    theme_names = {t.name for t in themes}
    for i in indicators:
        if i.theme not in theme_names:
            raise SpecError(f"indicator {i.name!r} names unknown theme {i.theme!r}")
        if i.direction not in (1, -1):
            raise SpecError(f"indicator {i.name!r}: direction must be 1 or -1, got {i.direction}")
        _choose(f"indicator {i.name!r} transform", i.transform, TRANSFORMS)
        if i.weight <= 0 or i.scale <= 0:
            raise SpecError(
                f"indicator {i.name!r}: weight and scale must be > 0 (a negative scale would flip the "
                "indicator silently: use direction = -1)"
            )
        if not isinstance(i.comparable, bool):
            raise SpecError(f"indicator {i.name!r}: comparable must be true or false, got {i.comparable!r}")
        if not i.comparable and not i.not_comparable_because.strip():
            raise SpecError(
                f"indicator {i.name!r}: comparable = false needs not_comparable_because (why its "
                "values of different years cannot be compared)"
            )
    for t in themes:
        if not any(i.theme == t.name for i in indicators):
            raise SpecError(f"theme {t.name!r} has no indicators: give it one, or comment it out")
    shares = {k: _fraction(f"eligibility.{k}", el[k]) for k in ("min_indicator_share", "min_theme_share")}
    base = norm["goalpost_base_year"]
    if base not in KWB_TABLES:
        raise SpecError(
            f"normalisation.goalpost_base_year must be a KWB year "
            f"({', '.join(map(str, KWB_TABLES))}), got {base!r}"
        )
    lo_q, hi_q = norm["goalpost_quantiles"]
    if not 0 <= lo_q < hi_q <= 1:
        raise SpecError(f"normalisation.goalpost_quantiles must be 0 <= lo < hi <= 1, got {[lo_q, hi_q]}")
    return MethodSpec(
        name=m["name"],
        version=str(m["version"]),
        description=m.get("description", ""),
        min_population=int(el["min_population"]),
        min_indicator_share=shares["min_indicator_share"],
        min_theme_share=shares["min_theme_share"],
        normalisation=norm["method"],
        goalpost_base_year=int(norm["goalpost_base_year"]),
        goalpost_quantiles=(float(lo_q), float(hi_q)),
        within_theme=agg["within_theme"],
        across_themes=agg["across_themes"],
        geometric_floor=float(agg["geometric_floor"]),
        flag_percentile=float(agg["flag_percentile"]),
        shrinkage=bool(shr["enabled"]),
        prior_size=float(shr["prior_size"]),
        quantiles=int(cls["quantiles"]),
        top_share=float(cls["top_share"]),
        bivariate=int(cls["bivariate"]),
        change_threshold=float(cls.get("change_threshold", 0.05)),
        axes=axes,
        themes=themes,
        indicators=indicators,
        uncertainty=MonteCarloSpec(**raw.get("uncertainty", {})),
        carry_max_age=int(raw.get("vintages", {}).get("carry_max_age", 0)),
    )


def _fraction(what: str, value: float | str) -> float:
    """A share in (0, 1], written as a number or a fraction such as ``"2/3"`` (exact thirds)."""
    try:
        share = float(Fraction(value)) if isinstance(value, str) else float(value)
    except (ValueError, ZeroDivisionError) as exc:
        raise SpecError(f'{what} must be a number or a fraction like "2/3", got {value!r}') from exc
    if not 0 < share <= 1:
        raise SpecError(f"{what} must be in (0, 1], got {value!r}")
    return share


def _choose(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SpecError(f"{what} must be one of {', '.join(choices)}; got {value!r}")
