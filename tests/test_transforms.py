"""Value functions (raw -> 0-100 points), each on hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from pydantic import TypeAdapter, ValidationError

from siteplan.study.transforms import (
    BooleanTransform,
    IdealRangeTransform,
    LinearTransform,
    LogisticTransform,
    StepTransform,
    Transform,
)

NAN = float("nan")


def test_linear_decreasing_distance():
    t = LinearTransform(best=0, worst=1000)
    # 250 m is a quarter of the way from best to worst: 75 points.  Beyond the ends it clips;
    # an unknown distance (NaN) gets 0, never 100.
    got = t.apply([0, 250, 1000, 1500, -10, NAN])
    np.testing.assert_allclose(got, [100, 75, 0, 0, 100, 0])


def test_linear_increasing_count():
    t = LinearTransform(best=10, worst=2)
    np.testing.assert_allclose(t.apply([6, 2, 10, 12, 0]), [50, 0, 100, 100, 0])


def test_linear_rejects_equal_breakpoints():
    with pytest.raises(ValidationError, match="best == worst"):
        LinearTransform(best=5, worst=5)


def test_step_at_most():
    t = StepTransform(steps=[(300, 100), (500, 60)], otherwise=0)
    got = t.apply([0, 300, 300.1, 500, 501, NAN])
    np.testing.assert_allclose(got, [100, 100, 60, 60, 0, 0])


def test_step_strictly_below():
    t = StepTransform(steps=[(300, 100), (500, 60)], op="<", otherwise=10)
    # 300 is not < 300, so it falls to the second step; 500 is not < 500: otherwise.
    np.testing.assert_allclose(t.apply([299.9, 300, 500]), [100, 60, 10])


def test_step_at_least_for_counts():
    t = StepTransform(steps=[(3, 100), (1, 50)], op=">=")
    np.testing.assert_allclose(t.apply([5, 3, 2, 1, 0]), [100, 100, 50, 50, 0])
    t_gt = StepTransform(steps=[(3, 100), (1, 50)], op=">")
    np.testing.assert_allclose(t_gt.apply([4, 3, 1, 0.5]), [100, 50, 0, 0])


def test_step_thresholds_must_be_ordered():
    with pytest.raises(ValidationError, match="strictly increasing"):
        StepTransform(steps=[(500, 60), (300, 100)])
    with pytest.raises(ValidationError, match="strictly decreasing"):
        StepTransform(steps=[(1, 50), (3, 100)], op=">=")


def test_step_points_bounded():
    with pytest.raises(ValidationError):
        StepTransform(steps=[(300, 120)])


def test_logistic_decay():
    t = LogisticTransform(midpoint=1000, steepness=0.01)
    # 100 / (1 + e^(0.01 (x - 1000))): 50 at the midpoint; at x = 1000 + ln(3)/0.01 the
    # exponential is 3, so 25 points; symmetric 75 points below.
    d = math.log(3) / 0.01
    np.testing.assert_allclose(t.apply([1000, 1000 + d, 1000 - d, NAN]), [50, 25, 75, 0])
    up = LogisticTransform(midpoint=1000, steepness=0.01, direction="increasing")
    np.testing.assert_allclose(up.apply([1000 + d]), [75])
    # Far tails do not overflow.
    np.testing.assert_allclose(t.apply([1e9, -1e9]), [0, 100], atol=1e-12)


def test_logistic_needs_positive_steepness():
    with pytest.raises(ValidationError):
        LogisticTransform(midpoint=1, steepness=0)


def test_ideal_range_two_shoulders():
    t = IdealRangeTransform(low=2, high=10, zero_below=1, zero_above=30)
    got = t.apply([0.5, 1, 1.5, 2, 5, 10, 20, 30, 40, NAN])
    # 1.5 is half-way from 1 to 2: 50; 20 is half-way from 10 to 30: 50.
    np.testing.assert_allclose(got, [0, 0, 50, 100, 100, 100, 50, 0, 0, 0])


def test_ideal_range_one_sided_and_hard_edges():
    open_below = IdealRangeTransform(low=2, high=10, zero_above=20)
    np.testing.assert_allclose(open_below.apply([0, 15]), [100, 50])
    hard = IdealRangeTransform(low=2, high=10, zero_below=2, zero_above=10)
    np.testing.assert_allclose(hard.apply([1.99, 2, 10, 10.01]), [0, 100, 100, 0])


def test_ideal_range_order_checked():
    with pytest.raises(ValidationError, match="zero_below <= low <= high <= zero_above"):
        IdealRangeTransform(low=10, high=2)


def test_boolean():
    t = BooleanTransform()
    np.testing.assert_allclose(t.apply([True, False, NAN, 1, 0]), [100, 0, 0, 100, 0])
    bonus = BooleanTransform(true_points=80, false_points=20)
    # A missing value still gets 0, not the false points: unknown is not "no".
    np.testing.assert_allclose(bonus.apply([1.0, 0.0, NAN]), [80, 20, 0])


def test_pandas_inputs_with_missing_values():
    t = LinearTransform(best=0, worst=100)
    s = pd.Series([0, 50, None], dtype="Int64")
    np.testing.assert_allclose(t.apply(s), [100, 50, 0])
    obj = np.array([10, None, 100], dtype=object)
    np.testing.assert_allclose(t.apply(obj), [90, 0, 0])


def test_discriminated_union_from_toml_dict():
    adapter = TypeAdapter(Transform)
    t = adapter.validate_python({"type": "step", "steps": [[300, 100]], "otherwise": 5})
    assert isinstance(t, StepTransform)
    np.testing.assert_allclose(t.apply([100, 400]), [100, 5])
    with pytest.raises(ValidationError):
        adapter.validate_python({"type": "linear", "best": 0, "worst": 1, "slope": 2})


def test_describe_names_the_breakpoints():
    assert "300 → 100" in StepTransform(steps=[(300, 100)]).describe()
    assert "0 → 100" in LinearTransform(best=0, worst=1000).describe()
