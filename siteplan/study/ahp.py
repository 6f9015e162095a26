"""Criterion weights: direct weights and the Analytic Hierarchy Process (AHP).

AHP (Saaty 1977, 1980) turns a reciprocal pairwise-comparison matrix ``A`` (``a_ij`` = how many
times more important criterion *i* is than *j*, on the 1-9 scale) into weights: the principal
right eigenvector of ``A``, normalised to sum 1.  Its consistency index
``CI = (lambda_max - n) / (n - 1)`` divided by the random index ``RI(n)`` of random reciprocal
matrices gives the consistency ratio ``CR``; Saaty's rule accepts ``CR <= 0.10``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Saaty's random consistency index RI(n) for n = 1..15 (Saaty, "The Analytic Hierarchy Process",
# 1980; the values used in Saaty 1990, EJOR 48:9-26, Table 1 for n <= 10).
RANDOM_INDEX: dict[int, float] = {
    1: 0.0,
    2: 0.0,
    3: 0.58,
    4: 0.90,
    5: 1.12,
    6: 1.24,
    7: 1.32,
    8: 1.41,
    9: 1.45,
    10: 1.49,
    11: 1.51,
    12: 1.48,
    13: 1.56,
    14: 1.57,
    15: 1.59,
}

# Saaty's acceptance threshold for the consistency ratio.
MAX_CONSISTENCY_RATIO = 0.10

#: Decimals a reciprocal entry may be rounded to: 1/3 written as 0.333, 1/9 as 0.111.  The
#: check is relative: ``a_ij * a_ji`` may be off 1 by what rounding the smaller entry to this
#: many decimals can cause, half a unit of the last decimal times the larger entry (0.45 % for
#: 9 and 0.111), and no more (1/3 as 0.33, 1 % off, is refused).
RECIPROCAL_DECIMALS = 3


@dataclass(frozen=True)
class AHPResult:
    """Weights and consistency of one pairwise-comparison matrix."""

    weights: np.ndarray
    lambda_max: float
    consistency_index: float
    consistency_ratio: float

    @property
    def consistent(self) -> bool:
        """Whether Saaty's rule ``CR <= 0.10`` holds."""
        return self.consistency_ratio <= MAX_CONSISTENCY_RATIO


def check_pairwise_matrix(matrix: object) -> list[str]:
    """List the problems of a pairwise-comparison matrix, as sentences (empty list: valid).

    Checks: square, at least 1x1, finite, positive, diagonal of ones, reciprocal
    (``a_ij * a_ji == 1`` within the rounding of the smaller entry to
    :data:`RECIPROCAL_DECIMALS` decimals, so that ``1/3`` written as ``0.333`` and ``1/9`` as
    ``0.111`` pass, and ``0.33`` does not).

    Examples
    --------
    >>> check_pairwise_matrix([[1, 9], [0.111, 1]])
    []
    >>> check_pairwise_matrix([[1, 3], [0.33, 1]])
    ['entries [0][1] = 3 and [1][0] = 0.33 are not reciprocal (their product is 0.99, not 1)']
    """
    try:
        a = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        return ["the matrix must be a list of rows of numbers, all rows the same length"]
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        return [f"the matrix must be square (n rows of n numbers), got shape {a.shape}"]
    if not np.all(np.isfinite(a)):
        return ["the matrix holds a non-finite value (inf or nan)"]
    problems = []
    bad = np.argwhere(a <= 0)
    if bad.size:
        i, j = bad[0]
        problems.append(f"entry [{i}][{j}] = {a[i, j]:g} is not positive")
        return problems
    diag = np.argwhere(~np.isclose(np.diag(a), 1.0))
    if diag.size:
        i = int(diag[0][0])
        problems.append(f"diagonal entry [{i}][{i}] = {a[i, i]:g} is not 1")
    prod = a * a.T
    tolerance = 0.5 * 10.0 ** -RECIPROCAL_DECIMALS * np.maximum(a, a.T) * (1 + 1e-9)
    nonrec = np.argwhere(np.triu(np.abs(prod - 1.0) > tolerance, k=1))
    if nonrec.size:
        i, j = nonrec[0]
        problems.append(
            f"entries [{i}][{j}] = {a[i, j]:g} and [{j}][{i}] = {a[j, i]:g} are not reciprocal "
            f"(their product is {prod[i, j]:.4g}, not 1)"
        )
    return problems


def ahp_weights(matrix: object) -> AHPResult:
    """Derive criterion weights and the consistency ratio from a pairwise-comparison matrix.

    The weights are the principal right eigenvector, normalised to sum 1 (Saaty).

    Parameters
    ----------
    matrix
        ``n x n`` positive reciprocal matrix, ``n <= 15`` (the random index table's range).

    Returns
    -------
    AHPResult
        The weights, ``lambda_max``, the consistency index and ratio.

    Raises
    ------
    ValueError
        If the matrix is not a valid pairwise-comparison matrix (see
        :func:`check_pairwise_matrix`) or ``n > 15``.

    Examples
    --------
    Access to schools matters 3 times as much as parcel size and 5 times as much as the
    shape; size matters twice as much as shape:

    >>> from siteplan import ahp_weights
    >>> res = ahp_weights([[1, 3, 5], [1 / 3, 1, 2], [1 / 5, 1 / 2, 1]])
    >>> res.weights.round(3).tolist()
    [0.648, 0.23, 0.122]
    >>> round(res.consistency_ratio, 3), res.consistent
    (0.003, True)
    """
    problems = check_pairwise_matrix(matrix)
    if problems:
        raise ValueError("; ".join(problems))
    a = np.asarray(matrix, dtype=float)
    n = a.shape[0]
    if n not in RANDOM_INDEX:
        raise ValueError(f"AHP with {n} criteria is outside Saaty's random index table (n <= 15)")
    if n <= 2:
        # Any 1x1 or 2x2 reciprocal matrix is perfectly consistent.
        w = np.ones(1) if n == 1 else np.array([a[0, 1], 1.0]) / (1.0 + a[0, 1])
        return AHPResult(weights=w, lambda_max=float(n), consistency_index=0.0,
                         consistency_ratio=0.0)
    values, vectors = np.linalg.eig(a)
    k = int(np.argmax(values.real))
    lam = float(values[k].real)
    # Perron vector of a positive matrix has one sign; abs() removes eig's arbitrary sign.
    w = np.abs(vectors[:, k].real)
    w = w / w.sum()
    ci = max(lam - n, 0.0) / (n - 1)
    cr = ci / RANDOM_INDEX[n]
    return AHPResult(weights=w, lambda_max=lam, consistency_index=ci, consistency_ratio=cr)


def normalise_weights(weights: object) -> np.ndarray:
    """Scale direct weights to sum 1.

    Parameters
    ----------
    weights
        Positive numbers, one per criterion.

    Returns
    -------
    numpy.ndarray
        The weights divided by their sum.

    Raises
    ------
    ValueError
        If a weight is not a positive finite number.
    """
    w = np.asarray(weights, dtype=float)
    if w.ndim != 1 or w.size == 0:
        raise ValueError("weights must be a non-empty list of numbers")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"every weight must be a positive number, got {w.tolist()}")
    out: np.ndarray = w / w.sum()
    return out


__all__ = [
    "AHPResult",
    "MAX_CONSISTENCY_RATIO",
    "RANDOM_INDEX",
    "ahp_weights",
    "check_pairwise_matrix",
    "normalise_weights",
]
