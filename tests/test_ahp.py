"""AHP weights and consistency against published examples.

Sources of the expected numbers:

- Saaty, T.L. (2008), "Decision making with the analytic hierarchy process", International
  Journal of Services Sciences 1(1): 83-98, the "which drink is consumed more in the U.S."
  matrix: derived priorities coffee .177, wine .019, tea .042, beer .116, sodas .190, milk .129,
  water .327, consistency ratio .022.  The same numbers are asserted by the AHPy package's tests
  (github.com/PhilipGriffith/AHPy, tests/test_ahp.py, Saaty random index).
- Saaty, T.L. (1990), "How to make a decision: The analytic hierarchy process", European
  Journal of Operational Research 48: 9-26, the house-buying example (8 criteria): priorities
  .173 .054 .188 .018 .031 .036 .167 .333, lambda_max = 9.669, CI = .238, CR = .169 -- an
  inconsistent matrix (CR > 0.10), which siteplan must refuse unless overridden.
"""

from __future__ import annotations

import numpy as np
import pytest

from siteplan.core.errors import ConfigError
from siteplan.study.ahp import (
    MAX_CONSISTENCY_RATIO,
    RANDOM_INDEX,
    ahp_weights,
    check_pairwise_matrix,
    normalise_weights,
)
from siteplan.study.model import Study

DRINKS = [  # coffee, wine, tea, beer, sodas, milk, water
    [1, 9, 5, 2, 1, 1, 1 / 2],
    [1 / 9, 1, 1 / 3, 1 / 9, 1 / 9, 1 / 9, 1 / 9],
    [1 / 5, 3, 1, 1 / 3, 1 / 4, 1 / 3, 1 / 9],
    [1 / 2, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [1, 9, 4, 2, 1, 2, 1 / 2],
    [1, 9, 3, 1, 1 / 2, 1, 1 / 3],
    [2, 9, 9, 3, 2, 3, 1],
]
DRINKS_WEIGHTS = [0.177, 0.019, 0.042, 0.116, 0.190, 0.129, 0.327]

HOUSE = [  # size, transport, neighbourhood, age, yard, modern, condition, financing
    [1, 5, 3, 7, 6, 6, 1 / 3, 1 / 4],
    [1 / 5, 1, 1 / 3, 5, 3, 3, 1 / 5, 1 / 7],
    [1 / 3, 3, 1, 6, 3, 4, 6, 1 / 5],
    [1 / 7, 1 / 5, 1 / 6, 1, 1 / 3, 1 / 4, 1 / 7, 1 / 8],
    [1 / 6, 1 / 3, 1 / 3, 3, 1, 1 / 2, 1 / 5, 1 / 6],
    [1 / 6, 1 / 3, 1 / 4, 4, 2, 1, 1 / 5, 1 / 6],
    [3, 5, 1 / 6, 7, 5, 5, 1, 1 / 2],
    [4, 7, 5, 8, 6, 6, 2, 1],
]
HOUSE_WEIGHTS = [0.173, 0.054, 0.188, 0.018, 0.031, 0.036, 0.167, 0.333]


def test_saaty_2008_drinks():
    res = ahp_weights(DRINKS)
    np.testing.assert_allclose(np.round(res.weights, 3), DRINKS_WEIGHTS)
    assert round(res.consistency_ratio, 3) == 0.022
    assert res.consistent
    assert res.weights.sum() == pytest.approx(1.0)


def test_saaty_1990_house_is_inconsistent():
    res = ahp_weights(HOUSE)
    np.testing.assert_allclose(np.round(res.weights, 3), HOUSE_WEIGHTS)
    assert round(res.lambda_max, 3) == 9.669
    assert round(res.consistency_index, 3) == 0.238
    assert round(res.consistency_ratio, 3) == 0.169
    assert not res.consistent


def test_perfectly_consistent_matrix_returns_its_weights():
    w = np.array([0.5, 0.3, 0.15, 0.05])
    a = w[:, None] / w[None, :]
    res = ahp_weights(a)
    np.testing.assert_allclose(res.weights, w, atol=1e-12)
    assert res.lambda_max == pytest.approx(4.0)
    assert res.consistency_ratio == pytest.approx(0.0, abs=1e-12)


def test_two_by_two():
    res = ahp_weights([[1, 3], [1 / 3, 1]])
    np.testing.assert_allclose(res.weights, [0.75, 0.25])
    assert res.consistency_ratio == 0.0


def test_random_index_table_is_saatys():
    assert RANDOM_INDEX[3] == 0.58 and RANDOM_INDEX[7] == 1.32 and RANDOM_INDEX[8] == 1.41
    assert MAX_CONSISTENCY_RATIO == 0.10


@pytest.mark.parametrize(
    ("matrix", "fragment"),
    [
        ([[1, 2], [0.4, 1]], "not reciprocal"),
        ([[2, 2], [0.5, 1]], "diagonal entry [0][0] = 2"),
        ([[1, -2], [-0.5, 1]], "not positive"),
        ([[1, 2, 3], [0.5, 1, 1]], "square"),
        ([[1, float("inf")], [0, 1]], "non-finite"),
    ],
)
def test_invalid_matrices_are_described(matrix, fragment):
    problems = check_pairwise_matrix(matrix)
    assert any(fragment in p for p in problems), problems
    with pytest.raises(ValueError):
        ahp_weights(matrix)


def test_one_third_written_as_decimal_passes():
    assert check_pairwise_matrix([[1, 3], [0.333, 1]]) == []


def test_normalise_direct_weights():
    np.testing.assert_allclose(normalise_weights([3, 1, 1]), [0.6, 0.2, 0.2])
    for bad in ([1, 0], [1, -1], [], [1, float("nan")]):
        with pytest.raises(ValueError):
            normalise_weights(bad)


def _ahp_study(matrix, allow=False):
    names = ["size", "transport", "nbhd", "age", "yard", "modern", "condition", "finance"]
    n = len(matrix)
    criteria = [{"name": names[i], "kind": "geometry", "measure": "area_ha",
                 "transform": {"type": "linear", "best": 10, "worst": 0}} for i in range(n)]
    return {"study": {"name": "ahp"}, "criteria": criteria,
            "weights": {"method": "ahp", "matrix": matrix, "allow_inconsistent": allow}}


def test_study_refuses_inconsistent_ahp_unless_overridden():
    with pytest.raises(ConfigError) as err:
        Study.model_validate(_ahp_study(HOUSE), source="s.toml")
    msg = str(err.value)
    assert "weights.matrix" in msg and "CR = 0.169" in msg and "allow_inconsistent" in msg
    study = Study.model_validate(_ahp_study(HOUSE, allow=True))
    assert study.ahp is not None and round(study.ahp.consistency_ratio, 3) == 0.169
    w = study.weights_vector()
    np.testing.assert_allclose(np.round(list(w.values()), 3), HOUSE_WEIGHTS)


def test_study_ahp_weights_in_criteria_order():
    study = Study.model_validate(_ahp_study([row[:3] for row in HOUSE[:3]]))
    # The 3 x 3 top-left block of the house matrix: size/transport/neighbourhood.
    expected = ahp_weights([row[:3] for row in HOUSE[:3]]).weights
    np.testing.assert_allclose(list(study.weights_vector().values()), expected)
    assert list(study.weights_vector()) == ["size", "transport", "nbhd"]
