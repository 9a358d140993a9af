"""Shared fixtures: expensive runs done once per test session."""

from __future__ import annotations

import pytest

import collapse_theory as ct


@pytest.fixture(scope="session")
def quick_report_seed0() -> ct.verify.Report:
    """The whole quick verify suite at seed 0, run once for every test that reads it."""
    return ct.verify.run(quick=True, seed=0)
