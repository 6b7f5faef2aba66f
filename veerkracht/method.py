"""The veerkracht score: which method, with which parameters.

The first score (``v0``) is deliberately simple and lives in one SQL model,
``sql/score_v0.sql``; this module only names it and holds its parameters so that a later method
can replace both in one place. See docs/methodology.md for the formulas.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScoreMethod:
    """A score method: its SQL model and parameters (all stored with every score)."""

    version: str = "v0-mean-percentile-rank"
    sql_model: str = "score_v0"
    #: Areas with fewer inhabitants are not scored (small numbers; CBS rounds counts to 5).
    min_population: int = 200
    #: Of the five indicators, at least this many must have a value.
    min_indicators: int = 3

    def params(self) -> dict:
        return {"method_version": self.version, "min_population": self.min_population,
                "min_indicators": self.min_indicators}


DEFAULT_METHOD = ScoreMethod()
