"""Console device pages at 100,000 devices in PostgreSQL: a deep keyset page and the searches
read an index and cost about what the first page costs (figures printed with -s)."""
from __future__ import annotations

import time

from sqlalchemy import text

from espalier.services import fleet

N = 100_000


def _fill(runtime) -> None:
    with runtime.db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO enrolled_devices (udid, serial_number, name, platform, os_version, declarative_management,"
            " created_at, updated_at) SELECT 'UDID-' || lpad(i::text, 8, '0'), 'SER' || lpad(i::text, 8, '0'),"
            " 'Mac ' || i, CASE WHEN i % 3 = 0 THEN 'iOS' ELSE 'macOS' END, '14.' || (i % 7), false, now(), now()"
            " FROM generate_series(1, :n) AS i"), {"n": N})
        conn.execute(text("ANALYZE enrolled_devices"))


def _best_ms(runtime, fn, rounds=7) -> float:
    best = float("inf")
    for _ in range(rounds):
        with runtime.db.session() as s:
            started = time.perf_counter()
            fn(s)
            best = min(best, time.perf_counter() - started)
    return best * 1000


def test_deep_pages_and_searches_stay_fast_at_100k(runtime):
    if runtime.db.is_sqlite:
        return
    _fill(runtime)
    with runtime.db.session() as s:
        last_id = s.scalar(text("SELECT max(id) FROM enrolled_devices"))
        rows, next_after = fleet.device_page(s, None, last_id - 1000)
        assert len(rows) == 50 and next_after == rows[-1].id
        plan = "\n".join(r[0] for r in s.execute(text(
            "EXPLAIN SELECT * FROM enrolled_devices WHERE id > :a ORDER BY id LIMIT 51"), {"a": last_id - 1000}))
        assert "Index Scan" in plan, plan
        assert [d.serial_number for d in fleet.device_page(s, "SER00012345")[0]] == ["SER00012345"]
    first = _best_ms(runtime, lambda s: fleet.device_page(s, None, 0))
    deep = _best_ms(runtime, lambda s: fleet.device_page(s, None, last_id - 1000))
    serial = _best_ms(runtime, lambda s: fleet.device_page(s, "SER00099999"))
    name = _best_ms(runtime, lambda s: fleet.device_page(s, "Mac 9999"))
    overview = _best_ms(runtime, fleet.overview, rounds=3)
    print(f"\n100k devices: first page {first:.1f} ms, page at 99,000 {deep:.1f} ms, "
          f"search by serial {serial:.1f} ms, by name prefix {name:.1f} ms, overview {overview:.0f} ms")
    assert deep < 3 * first + 5  # keyset: depth costs nothing
    assert deep < 50 and serial < 20 and name < 200
