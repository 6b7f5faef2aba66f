"""Paths the tests share: the checkout and the recorded fixtures."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
