"""Shared fixtures: expensive runs done once per test session; and the suite's order."""

from __future__ import annotations

import pytest

import collapse_theory as ct

#: Test files run after all others: they inspect what the whole suite compiled.
RUN_LAST = ("tests/test_numba_signatures.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the tests of :data:`RUN_LAST` to the end of the session (order otherwise kept)."""
    items.sort(key=lambda item: item.nodeid.startswith(RUN_LAST))


@pytest.fixture(scope="session")
def quick_report_seed0() -> ct.verify.Report:
    """The whole quick verify suite at seed 0, run once for every test that reads it (in two
    worker processes, as the command line does: the numbers are those of a serial run)."""
    return ct.verify.run(quick=True, seed=0, workers=2)
