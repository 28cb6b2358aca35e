"""Arrow helpers for staging (batches are appended by ``Transaction.append_arrays``, through the
engine's own bulk path)."""

from __future__ import annotations

import pyarrow as pa


def constant_column(value: int, size: int) -> pa.Array:
    """An int64 column holding ``value`` ``size`` times."""
    return pa.repeat(pa.scalar(value, pa.int64()), size)
