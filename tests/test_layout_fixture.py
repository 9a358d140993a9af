"""Same seed, same numbers across refactorings (see tests/layout_fixture.py).

The fixture file was recorded before the "one family, one folder" move; every simulator, theory
function, tail law and the two quick tables must reproduce it bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.layout_fixture import FIXTURE, cases, flatten, same

STORED = np.load(FIXTURE, allow_pickle=False)


@pytest.mark.parametrize("name", list(cases()))
def test_bit_identical_to_the_recorded_fixture(name: str) -> None:
    arrays = flatten(cases()[name](), name)
    stored = {k: STORED[k] for k in STORED.files if k.split("/", 1)[0] == name}
    assert stored, f"no recorded arrays for case {name!r}"
    assert sorted(arrays) == sorted(stored)
    differ = [k for k in stored if not same(stored[k], arrays[k])]
    assert not differ, f"{name}: {differ}"
