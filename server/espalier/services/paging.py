"""A page of a listing and the total it belongs to, without a COUNT(*) for every page.

The caller reads one row past ``limit``. With that row there is a next page; without it,
the total is ``offset`` + the rows read, exactly, when the page has any row (or starts at
0). Only otherwise is the filter counted, and that COUNT(*) is kept per process for
``COUNT_SECONDS`` (``CountCache``, keyed by what the caller filters on): following ``next``
through 100,000 devices counts once every few seconds, not on each of 200 pages. A kept
total is used only while it agrees with the page (more than offset + rows when a next row
exists, at most ``offset`` past the end); otherwise the filter is counted again.

So a total may lag rows added or removed in the last few seconds, except on the last page,
where it is exact; whether there is a next page is always read, never inferred from it.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Hashable
from typing import Callable

COUNT_SECONDS = 5.0
COUNT_KEYS = 256  # distinct filters kept; past that the cache starts again


class CountCache:
    """Totals by filter key, each trusted for ``seconds`` after it was counted."""

    def __init__(self, seconds: float = COUNT_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self._counts: dict[Hashable, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> int | None:
        kept = self._counts.get(key)
        if kept is None or self.clock() - kept[0] > self.seconds:
            return None
        return kept[1]

    def put(self, key: Hashable, count: int) -> None:
        with self._lock:
            if len(self._counts) >= COUNT_KEYS:
                self._counts.clear()
            self._counts[key] = (self.clock(), count)


def page(rows: list, limit: int, offset: int, count: Callable[[], int], counts: CountCache | None = None,
         key: Hashable = None) -> tuple[list, int]:
    """The page (``rows``: up to ``limit`` + 1 read from ``offset``) and the total (``count()``
    runs the COUNT(*) when the page cannot tell it and ``counts`` has no total that agrees)."""
    has_next = len(rows) > limit
    rows = rows[:limit]
    if not has_next and (rows or offset == 0):
        total = offset + len(rows)
    else:
        kept = counts.get(key) if counts is not None else None
        if kept is not None and (kept > offset + len(rows) if has_next else kept <= offset):
            return rows, kept  # not kept again: its age counts from the COUNT(*)
        total = count()
    if counts is not None:
        counts.put(key, total)
    return rows, total
