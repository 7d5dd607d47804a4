"""As-of lookups on sorted (market, time) keys, in numpy.

Every point-in-time feature is "the last record of this market at or before an instant", or a sum over the
records of a market inside a time window. With each (market index, time) pair packed into one int64 key
(`market << bits | time - base`), a table sorted by key holds each market's records as one contiguous,
time-ordered run, so a lookup for many instants at once is one `np.searchsorted`, and a window sum is the
difference of two prefix sums. Times are integer microseconds, as DuckDB's `epoch_us` gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MISSING = -1


@dataclass(frozen=True)
class KeySpace:
    """Packs (market index, time in µs) into sortable int64 keys. Times below `base` are clamped to it (they
    keep their order only through a stable sort of the original times); times above `top` are refused."""

    base: int
    bits: int

    @classmethod
    def covering(cls, markets: int, base: int, top: int) -> KeySpace:
        bits = max(1, int(top - base).bit_length())
        if max(1, int(markets).bit_length()) + bits > 62:
            raise ValueError(f"{markets} markets over {(top - base) / 3.6e9:.0f} h do not fit one int64 key")
        return cls(int(base), bits)

    def keys(self, market: np.ndarray, time_us: np.ndarray) -> np.ndarray:
        offset = np.maximum(np.asarray(time_us, dtype=np.int64) - self.base, 0)
        if offset.size and int(offset.max()) >= (1 << self.bits):
            raise ValueError("a time lies beyond the key space")
        return (np.asarray(market, dtype=np.int64) << self.bits) | offset


def last_at_or_before(
    sorted_keys: np.ndarray, sorted_market: np.ndarray, query_keys: np.ndarray, query_market: np.ndarray
) -> np.ndarray:
    """Index of the last record with key <= the query's key and the query's market, or MISSING."""
    index = np.searchsorted(sorted_keys, query_keys, side="right") - 1
    found = index >= 0
    found[found] = sorted_market[index[found]] == query_market[found]
    return np.where(found, index, MISSING)


def prefix_sums(values: np.ndarray) -> np.ndarray:
    """[0, v0, v0+v1, ...]: the sum of the records before position i is P[i]. Integer values stay exact."""
    return np.concatenate([np.zeros(1, dtype=values.dtype), np.cumsum(values)])


def take(values: np.ndarray, index: np.ndarray, fill: float = np.nan) -> np.ndarray:
    """values[index], with `fill` where the index is MISSING (float output for a NaN fill)."""
    out = np.full(index.shape, fill, dtype=np.result_type(values.dtype, np.asarray(fill).dtype))
    found = index != MISSING
    out[found] = values[index[found]]
    return out


def expand(
    groups: np.ndarray, member_group: np.ndarray, member_value: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (row, member) pair where the member belongs to the row's group. `groups` holds each row's group
    (0..G-1, or MISSING for none); members come as parallel arrays of group and value. Returns the row index
    and the member value of each pair, rows in order and members in their given order within a row."""
    order = np.argsort(member_group, kind="stable")
    member_group, member_value = member_group[order], member_value[order]
    n_groups = int(max(groups.max(initial=-1), member_group.max(initial=-1))) + 1
    counts = np.bincount(member_group, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    rows = np.flatnonzero(groups != MISSING)
    per_row = counts[groups[rows]]
    row_index = np.repeat(rows, per_row)
    within = np.arange(row_index.size) - np.repeat(np.cumsum(per_row) - per_row, per_row)
    member = member_value[np.repeat(starts[groups[rows]], per_row) + within]
    return row_index, member
