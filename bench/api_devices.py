"""GET /api/mdm/devices/ over a large fleet, against the bare SELECT of the same rows.

    /work/venv/bin/python bench/api_devices.py [--devices 100000] [--lookups 2000] [--page-size 500]

Loads N devices with COPY into a fresh PostgreSQL database, VACUUM ANALYZEs, checks with
EXPLAIN that the statements ``services.devices.list_devices`` runs for the serial_number
and udid filters use an index, then serves with gunicorn and times, from one client:

* listing: every ``?limit=500`` page, following ``next``; baseline: the same page with
  ``SELECT * ... ORDER BY id LIMIT %s OFFSET %s`` over psycopg;
* lookups: ``?serial_number=X`` for random serials; baselines ``WHERE serial_number = %s``
  and ``GET /healthz`` (the HTTP floor: the issue's target is a lookup within 1.5x of it).

API calls and their baselines alternate (the order rotates) so all see the same caches and load.
Exits 1 if a plan (a lookup's, a page's) has a sequential scan on enrolled_devices.
"""
from __future__ import annotations

import argparse
import base64
import os
import random
import string
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import psycopg

from common import (BenchError, Gunicorn, PostgresCpu, bench_database, free_port, load_average, ms,
                    prepare_server, ratio, run_main, stats, stop_on_signals, workdir, write_settings)

from espalier.sim.device import CATALOGUE

FLAVOURS = ["mac"] * 5 + ["intel_t2"] * 2 + ["intel_t1"] + ["iphone"] * 3 + ["ipad"]
SERIAL_ALPHABET = "0123456789BCDFGHJKLMNPQRSTVWXYZ"  # Apple serials avoid vowels
COLUMNS = ("udid", "serial_number", "name", "model", "product_name", "platform", "os_version", "build_version",
           "apple_silicon", "cert_fingerprint", "cert_not_valid_after", "enrolled_at", "awaiting_configuration",
           "declarative_management", "dep_enrollment", "user_enrollment", "user_approved_enrollment",
           "supervised", "filevault_enabled", "bootstrap_token", "filevault_prk", "topic", "push_token",
           "push_magic", "last_inventory_at", "last_seen_at", "created_at", "updated_at")
PAGE_SQL = "SELECT * FROM enrolled_devices ORDER BY id LIMIT %s OFFSET %s"
LOOKUP_SQL = "SELECT * FROM enrolled_devices WHERE serial_number = %s"


# ---- the fleet ------------------------------------------------------------------------

def _udid(platform: str, rng: random.Random) -> str:
    if platform == "macOS":  # the hardware UUID
        return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()
    return f"0000{rng.choice(('8030', '8101', '8110', '8120'))}-{rng.getrandbits(64):016X}"


def _sealed(rng: random.Random, size: int) -> str:
    """Shaped like a pki.secrets ciphertext: the API loads the column but never shows it."""
    return "v1." + base64.urlsafe_b64encode(rng.randbytes(size)).decode()


def device_rows(n: int, seed: int):
    """Realistic devices: Apple-style serials and UDIDs, mostly Macs, a third enrolled by DEP."""
    rng = random.Random(seed)
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    topic = f"com.apple.mgmt.External.{uuid.UUID(int=rng.getrandbits(128), version=4)}"
    serials: set[str] = set()
    for i in range(n):
        platform, model, model_name, _, os_version, build, _, silicon, _ = CATALOGUE[FLAVOURS[i % len(FLAVOURS)]]
        while (serial := "".join(rng.choices(SERIAL_ALPHABET, k=rng.choice((10, 12))))) in serials:
            pass
        serials.add(serial)
        mac = platform == "macOS"
        enrolled = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        dep = rng.random() < 0.35
        yield (_udid(platform, rng), serial, f"{rng.choice(string.ascii_uppercase)}{i}'s {model_name}", model,
               model, platform, os_version, build, silicon, rng.randbytes(32).hex(), enrolled + timedelta(days=365),
               enrolled, False, False, dep, False, mac and rng.random() < 0.9, dep, mac and rng.random() < 0.8,
               _sealed(rng, 96) if mac and dep else None, _sealed(rng, 48) if mac and rng.random() < 0.7 else None,
               topic, rng.randbytes(32).hex(), str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
               now - timedelta(seconds=rng.randrange(86400)), now - timedelta(seconds=rng.randrange(3600)),
               enrolled, now)


def load_devices(conn: psycopg.Connection, n: int, seed: int) -> list[str]:
    """COPY n devices in; their serial numbers."""
    required = {r[0] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'enrolled_devices' "
        "AND is_nullable = 'NO' AND column_default IS NULL AND is_identity = 'NO'")}
    if required - set(COLUMNS):
        raise BenchError(f"enrolled_devices has new required columns {sorted(required - set(COLUMNS))}: "
                         "add them to COLUMNS in bench/api_devices.py")
    serials = []
    with conn.cursor() as cur, cur.copy(f"COPY enrolled_devices ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in device_rows(n, seed):
            copy.write_row(row)
            serials.append(row[1])
    conn.commit()
    return serials


# ---- plans ----------------------------------------------------------------------------

def _scans(plan: dict) -> list[str]:
    found = []
    if plan.get("Relation Name") == "enrolled_devices":
        found.append(plan["Node Type"] + (f" using {plan['Index Name']}" if plan.get("Index Name") else ""))
    for child in plan.get("Plans", []):
        found.extend(_scans(child))
    return found


def statements_of(database_url: str, **filters) -> list[tuple[str, object]]:
    """The SQL ``services.devices.list_devices(**filters)`` sends (captured, not re-typed here)."""
    from sqlalchemy import event

    from espalier.db import Database, HotStatement
    from espalier.services.devices import list_devices
    from espalier.web.api.schemas import DEVICE_COLUMNS

    db = Database(database_url)
    seen: list[tuple[str, object]] = []
    event.listen(db.engine, "before_cursor_execute",
                 lambda _c, _cur, statement, params, _ctx, _many: seen.append((statement, params)))
    HotStatement.observers.append(hot := lambda statement, params: seen.append((statement, params)))
    try:
        with db.session() as s, s.begin():
            list_devices(s, DEVICE_COLUMNS, **filters)
    finally:
        HotStatement.observers.remove(hot)
        db.dispose()
    return [(st, p) for st, p in seen if "enrolled_devices" in st]


def check_plans(conn: psycopg.Connection, database_url: str, serial: str, udid: str, last_offset: int,
                page_size: int) -> bool:
    """Print the scans on enrolled_devices of each statement; False if one scans sequentially
    (a page's rows too: they come by the primary key), or if no statement read the rows."""
    cases = [("serial_number", {"serial_number": serial}),
             ("serial_number, paginated", {"serial_number": serial, "limit": page_size}),
             ("udid", {"udid": udid}),
             ("udid, paginated", {"udid": udid, "limit": page_size}),
             ("listing, first page", {"limit": page_size}),
             ("listing, last page", {"limit": page_size, "offset": last_offset})]
    ok = True
    print("plans      EXPLAIN (FORMAT JSON) of the statements list_devices() runs")
    for label, filters in cases:
        parts, sequential, rows_seen = [], False, False
        for statement, params in statements_of(database_url, **filters):
            plan = conn.execute("EXPLAIN (FORMAT JSON) " + statement, params).fetchone()[0][0]["Plan"]
            scans = _scans(plan)
            sequential |= any(scan.startswith("Seq Scan") for scan in scans)
            counting = "count(" in statement.lower()
            rows_seen |= not counting
            parts.append(f"{'count' if counting else 'rows'}: {', '.join(scans)}")
        verdict = "SEQ" if sequential else "ok" if rows_seen else "NONE"  # NONE: the rows' statement was not seen
        ok &= not sequential and rows_seen
        print(f"  {verdict:<5}{label:<26} {'; '.join(parts)}")
    return ok


# ---- timing ---------------------------------------------------------------------------

def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def time_pages(client: httpx.Client, cur: psycopg.Cursor, page_size: int, expected: int
               ) -> tuple[list[float], list[float]]:
    api, bare = [], []
    url, offset, seen = f"/api/mdm/devices/?limit={page_size}", 0, 0

    def api_call():
        response = client.get(url)
        if response.status_code != 200:
            raise BenchError(f"GET {url}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    def sql_call():
        cur.execute(PAGE_SQL, (page_size, offset))
        return cur.fetchall()

    while url:
        if len(api) % 2:
            rows, t_sql = timed(sql_call)
            body, t_api = timed(api_call)
        else:
            body, t_api = timed(api_call)
            rows, t_sql = timed(sql_call)
        if [d["id"] for d in body["results"]] != [r[0] for r in rows]:
            raise BenchError(f"page at offset {offset}: the API and the SELECT disagree")
        api.append(t_api)
        bare.append(t_sql)
        seen += len(rows)
        url, offset = body["next"], offset + page_size
    if seen != expected:
        raise BenchError(f"listing returned {seen} devices, expected {expected}")
    return api, bare


def time_lookups(client: httpx.Client, cur: psycopg.Cursor, serials: list[str]
                 ) -> tuple[list[float], list[float], list[float]]:
    """Each lookup beside its two baselines, the bare SELECT and ``GET /healthz`` (the HTTP
    floor), in an order that rotates, so all three see the same load."""
    api, bare, floor = [], [], []
    for i, serial in enumerate(serials):
        calls = [(api, lambda: client.get("/api/mdm/devices/", params={"serial_number": serial})),
                 (bare, lambda: cur.execute(LOOKUP_SQL, (serial,)).fetchall()),
                 (floor, lambda: client.get("/healthz"))]
        results = {}
        for times, call in calls[i % 3:] + calls[:i % 3]:
            results[id(times)], elapsed = timed(call)
            times.append(elapsed)
        response, rows = results[id(api)], results[id(bare)]
        found = response.json() if response.status_code == 200 else None
        if not found or len(found) != len(rows) or found[0]["serial_number"] != serial:
            raise BenchError(f"lookup {serial}: HTTP {response.status_code}, {str(found)[:200]}")
    return api, bare, floor


class CpuSplit:
    """CPU spent during a block: gunicorn, the backends serving it, and our own SELECTs' backend."""

    def __init__(self, server: Gunicorn, pg: PostgresCpu, own_backend: int) -> None:
        self.server, self.pg, self.own = server, pg, own_backend
        self.gunicorn = self.api_pg = self.bare_pg = 0.0

    def __enter__(self) -> CpuSplit:
        self._g, self._p = self.server.cpu_seconds(), self.pg.snapshot()
        return self

    def __exit__(self, *exc_info: object) -> None:
        after = self.pg.snapshot()
        self.gunicorn = self.server.cpu_seconds() - self._g
        self.bare_pg = PostgresCpu.delta({self.own: self._p.get(self.own, 0.0)}, {self.own: after.get(self.own, 0.0)})
        self.api_pg = PostgresCpu.delta(self._p, after) - self.bare_pg

    def line(self, n: int, floor: float = 0.0) -> str:
        """Per call; ``floor``: gunicorn CPU per call of something else in the block, taken off."""
        return (f"  CPU      API: gunicorn {ms(self.gunicorn / n - floor)} + PostgreSQL {ms(self.api_pg / n)}; "
                f"bare SELECT: PostgreSQL {ms(self.bare_pg / n)} (per call, 10 ms ticks)")


def _line(label: str, values: list[float]) -> str:
    s = stats(values)
    return f"  {label:<8} mean {ms(s['mean'])}  p50 {ms(s['p50'])}  p95 {ms(s['p95'])}  max {ms(s['max'])}"


# ---- main -----------------------------------------------------------------------------

def measure(server: Gunicorn, key: str, conn: psycopg.Connection, serials: list[str], count_statement: str | None,
            rng: random.Random, args) -> dict:
    """Pages, then lookups, API and bare SELECT alternating; CPU split by process."""
    pg = PostgresCpu(conn.info.dbname)
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Token {key}"}, timeout=60) as client, \
            conn.cursor() as cur:
        for _ in range(50):  # warm both workers, the pool and the prepared statements
            client.get("/healthz")
            client.get("/api/mdm/devices/", params={"serial_number": rng.choice(serials)})
        for offset in range(0, args.devices, args.page_size):  # the whole table into the buffers
            cur.execute(PAGE_SQL, (args.page_size, offset))
            cur.fetchall()
        with CpuSplit(server, pg, conn.info.backend_pid) as page_cpu:
            pages = time_pages(client, cur, args.page_size, args.devices)
        counts = [timed(lambda: cur.execute(count_statement).fetchall())[1] for _ in range(20)] \
            if count_statement else []
        with CpuSplit(server, pg, conn.info.backend_pid) as floor_cpu:
            for _ in range(500):
                client.get("/healthz")
        picked = rng.sample(serials, min(args.lookups, len(serials)))
        with CpuSplit(server, pg, conn.info.backend_pid) as lookup_cpu:
            *lookups, floor = time_lookups(client, cur, picked)
    return {"pages": pages, "page_cpu": page_cpu, "counts": counts, "lookups": lookups,
            "lookup_cpu": lookup_cpu, "floor": floor, "floor_cpu": floor_cpu.gunicorn / 500}


def report(m: dict, page_size: int) -> None:
    api, bare = m["pages"]
    print(f"listing    {len(api)} pages of {page_size}, following next")
    print(_line("API", api))
    print(_line("SELECT", bare))
    for label, i in (("first", 0), ("last", -1)):
        print(f"  {label:<8} API {ms(api[i])}  SELECT {ms(bare[i])}  ({ratio(api[i], bare[i])})")
    print(f"  FIGURE   {ratio(stats(api)['mean'], stats(bare)['mean'])} per page (API / bare SELECT, means)")
    print(m["page_cpu"].line(len(api)))
    if m["counts"]:
        print(f"  note     a COUNT(*) of the listing costs {ms(stats(m['counts'])['mean'])} alone (run when a page "
              "cannot tell its total and none was counted in the last seconds)")
    api, bare = m["lookups"]
    floor = m["floor"]
    print(f"lookups    {len(api):,} by serial_number, each beside a bare SELECT and a GET /healthz")
    print(_line("API", api))
    print(_line("SELECT", bare))
    print(_line("/healthz", floor))
    print(f"  FIGURE   {ratio(stats(api)['mean'], stats(floor)['mean'])} per lookup (API / GET /healthz, the HTTP "
          "floor: HTTP + gunicorn + Flask, no database; means)")
    print(f"  and      {ratio(stats(api)['mean'], stats(bare)['mean'])} per lookup (API / bare SELECT, means)")
    print(m["lookup_cpu"].line(len(api), m["floor_cpu"]))
    print(f"  CPU      GET /healthz: gunicorn {ms(m['floor_cpu'])} per call (measured apart, taken off the line above)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=2_000)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900, help="give up (and clean up) after this many seconds")
    args = parser.parse_args()
    stop_on_signals(args.timeout)
    rng = random.Random(args.seed)

    with bench_database() as database_url, workdir("espalier-bench-api-") as tmp, \
            psycopg.connect(database_url) as conn:
        port = free_port()
        key = prepare_server(write_settings(tmp, database_url, port, mtls_proxy=True))
        print(f"Espalier API benchmark: {args.devices:,} devices, PostgreSQL "
              f"{conn.execute('SHOW server_version').fetchone()[0]}, gunicorn {args.workers} workers x "
              f"{args.threads} threads, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}, {load_average()}")
        serials, t_load = timed(lambda: load_devices(conn, args.devices, args.seed))
        conn.autocommit = True
        _, t_vacuum = timed(lambda: conn.execute("VACUUM ANALYZE enrolled_devices"))
        print(f"load       {args.devices:,} devices by COPY in {t_load:.1f} s, VACUUM ANALYZE {t_vacuum:.1f} s")

        probe = rng.choice(serials)
        udid = conn.execute("SELECT udid FROM enrolled_devices WHERE serial_number = %s", (probe,)).fetchone()[0]
        last_offset = (args.devices - 1) // args.page_size * args.page_size
        plans_ok = check_plans(conn, database_url, probe, udid, last_offset, args.page_size)
        count_statement = next((st for st, _ in statements_of(database_url, limit=args.page_size)
                                if "count(" in st.lower()), None)
        with Gunicorn(tmp / "settings.json", port, workers=args.workers, threads=args.threads) as server:
            measured = measure(server, key, conn, serials, count_statement, rng, args)
        report(measured, args.page_size)
    if not plans_ok:
        print("FAIL       a lookup by serial_number or udid scans enrolled_devices sequentially", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    run_main(main)
