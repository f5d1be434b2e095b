"""Stations × hours matrices of valid hourly means, built from query results.

The database returns one record per valid hourly mean: the plan row it belongs to, its
column (hours since the row's window start) and its pollutant. Every other cell —
invalid hours, hours without readings, padding — is NaN, which the engine treats as
missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from worker.plan import WorkPlan

FloatArray = npt.NDArray[np.float64]


def pollutant_matrices(
    plan: WorkPlan,
    row_index: npt.NDArray[np.int32],
    column: npt.NDArray[np.int32],
    pollutant_index: npt.NDArray[np.int32],
    mean: FloatArray,
    pollutants: Sequence[str],
) -> dict[str, FloatArray]:
    """One ``plan.n_rows × plan.n_columns`` matrix per pollutant that has any value.

    Pollutants without a single value are left out (the engine then reports no
    sub-index for them, exactly as for an all-missing matrix).
    """
    shape = (plan.n_rows, plan.n_columns)
    if len(row_index) and (
        row_index.min() < 0 or row_index.max() >= shape[0]
        or column.min() < 0 or column.max() >= shape[1]
    ):  # fmt: skip
        raise ValueError("hourly mean outside the planned rows and windows")
    matrices: dict[str, FloatArray] = {}
    for position, pollutant in enumerate(pollutants):
        chosen = pollutant_index == position
        if not chosen.any():
            continue
        matrix = np.full(shape, np.nan)
        matrix[row_index[chosen], column[chosen]] = mean[chosen]
        matrices[pollutant] = matrix
    return matrices
