"""Same seed, same numbers across refactorings (see tests/layout_fixture.py).

The fixture file was recorded before the "one family, one folder" move; every simulator, theory
function, tail law and the two quick tables must reproduce it bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.layout_fixture import FIXTURE, cases, flatten, same, verify_rows

STORED = np.load(FIXTURE, allow_pickle=False)

#: Outputs added by the move (new fields of TailCurve: the exact categorical law's P(T_n = 0) and
#: its truncation error bound; None elsewhere).
NEW_OUTPUTS = {"prob_lost", "error_bound"}

#: Outputs changed on purpose by the move, each with its reason. They must still agree with the
#: recording to rounding (relative 1e-12), so that nothing but the stated change happened.
CHANGED_ON_PURPOSE = {
    # categorical_exact and tail_loss were two implementations of one tail law; merged, the
    # expected number of surviving tail states is now summed from P(state survives), computed
    # directly by the lumped chain, instead of 1 - P(lost) (no cancellation when P(lost) ~ 1).
    "tails_categorical/surviving": "one categorical tail law",
    "tail_loss_quick/rows/1/survivors_n": "one categorical tail law",
}


@pytest.mark.parametrize("name", list(cases()))
def test_bit_identical_to_the_recorded_fixture(name: str, request: pytest.FixtureRequest) -> None:
    if name == "verify_quick":  # the session's quick report (conftest), not a second run
        value = verify_rows(request.getfixturevalue("quick_report_seed0"))
    else:
        value = cases()[name]()
    arrays = flatten(value, name)
    stored = {k: STORED[k] for k in STORED.files if k.split("/", 1)[0] == name}
    assert stored, f"no recorded arrays for case {name!r}"
    missing = sorted(set(stored) - set(arrays))
    assert not missing, f"{name}: outputs no longer computed: {missing}"
    added = sorted(key.split("/", 1)[1] for key in set(arrays) - set(stored))
    assert set(added) <= NEW_OUTPUTS, f"{name}: unrecorded outputs {added}"
    differ = [k for k in stored if not same(stored[k], arrays[k])]
    unexplained = [k for k in differ if k not in CHANGED_ON_PURPOSE]
    assert not unexplained, f"{name}: {unexplained}"
    for key in differ:
        np.testing.assert_allclose(arrays[key], stored[key], rtol=1e-12, err_msg=key)
