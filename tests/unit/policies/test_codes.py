"""The engine's integer codes: distinct values found either way agree with numpy's."""

from __future__ import annotations

import numpy as np
import pytest

from policies.codes import DENSE, unique_inverse


@pytest.mark.parametrize("space", [50, DENSE, DENSE + 1, 1 << 20])
def test_unique_inverse_matches_numpy(space: int) -> None:
    """Both ways of finding distinct codes (marked in an array; sorted) agree with
    ``np.unique``."""
    values = np.random.default_rng(space).integers(0, space, 5000)
    distinct, inverse = unique_inverse(values, space)
    want, want_inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(distinct, want)
    assert np.array_equal(inverse, want_inverse.reshape(-1))
