"""An Apps and Books sync of 5,000 assets: wall time and peak RSS against the bare fetch of the same pages.

    .venv/bin/python bench/assets_sync.py [--assets 5000] [--assignments-per-asset 2] [--page-size 1000]

The fake Apps and Books service (``tests/fakes/apps_books.py``, HTTPS on 127.0.0.1 in this
process) holds one location with ``--assets`` assets, each assigned to
``--assignments-per-asset`` serial numbers; the location is uploaded through the service
(as the API does) into a throw-away PostgreSQL database. Each phase then runs in a child
process forked from the same parent (so each starts from the same memory and its peak RSS,
read with ``wait4``, is its own):

1. **fetch**: every page of ``assets`` and then of ``assignments`` with the sync's client and
   pager (HTTPS, JSON parse, the versionId check), nothing stored: the floor of any sync;
2. **sync**: ``tasks.apps_books.sync_location`` on the empty database (every asset, location
   asset and assignment inserted);
3. **resync**: the same again, nothing changed at Apple (every row compared, none written);
4. **fetch** again, so a drift of the machine's load between phases shows.

FIGURE = sync wall time / mean fetch wall time, and the same for peak RSS.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

from common import REPO, BenchError, bench_database, load_average, ratio, run_main, stop_on_signals


def forked(fn) -> tuple[dict, int]:
    """Run ``fn()`` in a forked child: (its JSON-able result, its peak RSS in KiB)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.close(read)
        code = 0
        try:
            out = json.dumps(fn()).encode()
        except BaseException as exc:  # reported by the parent
            out, code = json.dumps({"error": f"{type(exc).__name__}: {exc}"}).encode(), 1
        with os.fdopen(write, "wb") as pipe:
            pipe.write(out)
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        data = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    result = json.loads(data or b"{}")
    if status != 0 or "error" in result:
        raise BenchError(f"child failed: {result.get('error', status)}")
    return result, usage.ru_maxrss


def run(args) -> None:
    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))
    from fakes.apps_books import FakeAppsBooks

    from espalier import runtime as runtime_mod
    from espalier.services import locations
    from espalier.settings import from_mapping
    from espalier.tasks import apps_books as jobs
    from espalier.tasks.queue import InProcessTaskQueue

    with FakeAppsBooks(assets_page_size=args.page_size, assignments_page_size=args.page_size) as fake, \
            bench_database("assets") as url:
        loc = fake.add_location(name="Bench")
        fake.fill(loc, args.assets, args.assignments_per_asset)
        settings = from_mapping({
            "base_url": "https://mdm.example.test", "database_url": url, "secret_keys": [os.urandom(32).hex()],
            "log_level": "WARNING",
            "apps": {"espalier.mdm": {"apps_books": {"url": fake.base_url, "ca_file": fake.ca_file}}}})

        def runtime():
            return runtime_mod.build(settings, queue=InProcessTaskQueue(sync=True))

        rt = runtime()
        try:
            rt.db.upgrade(secret_keys=settings["secret_keys"])
            with rt.db.session() as s, s.begin():
                location_id = locations.upload(s, rt, loc.stoken).location.id
        finally:
            rt.close()  # the children build their own (no connection crosses a fork)

        def fetch() -> dict:
            stats = {"pages": 0, "restarts": 0}
            child = runtime()
            try:
                start = time.perf_counter()
                with child.apps_books_client(loc.stoken) as client:
                    assets = jobs.fetch_all(client, "assets", "assets", stats)
                    assignments = jobs.fetch_all(client, "assignments", "assignments", stats)
            finally:
                child.close()
            return {"wall": time.perf_counter() - start, "assets": len(assets), "assignments": len(assignments),
                    **stats}

        def sync() -> dict:
            child = runtime()
            try:
                start = time.perf_counter()
                result = jobs.sync_location(child, location_id)
                return {"wall": time.perf_counter() - start, **result}
            finally:
                child.close()

        phases = [("fetch", fetch), ("sync", sync), ("resync", sync), ("fetch", fetch)]
        results = []
        for name, fn in phases:
            out, rss = forked(fn)
            results.append((name, out, rss))
            extra = (f"{out['assets']} assets, {out['assignments']} assignments, {out['pages']} pages"
                     if name == "fetch" else
                     f"{out['assets']} assets (+{out['assets_created']}), {out['assignments']} assignments "
                     f"(+{out['assignments_created']} -{out['assignments_deleted']}); fetch "
                     f"{out['fetch_seconds']:.2f} s of it")
            print(f"  {name:<7} {out['wall']:6.2f} s  peak RSS {rss / 1024:6.1f} MiB  {extra}")
    fetches = [(out["wall"], rss) for name, out, rss in results if name == "fetch"]
    fetch_wall = sum(w for w, _ in fetches) / len(fetches)
    fetch_rss = sum(r for _, r in fetches) / len(fetches)
    _, first, first_rss = results[1]
    _, again, again_rss = results[2]
    if first["assignments"] != args.assets * args.assignments_per_asset:
        raise BenchError(f"the sync stored {first['assignments']} assignments, expected "
                         f"{args.assets * args.assignments_per_asset}")
    print(f"  FIGURE   sync / fetch: wall {ratio(first['wall'], fetch_wall)}, peak RSS "
          f"{ratio(first_rss, fetch_rss)}; resync / fetch: wall {ratio(again['wall'], fetch_wall)}, "
          f"peak RSS {ratio(again_rss, fetch_rss)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assets", type=int, default=5000)
    parser.add_argument("--assignments-per-asset", type=int, default=2)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900, help="give up (and clean up) after this many seconds")
    args = parser.parse_args()
    if args.assets < 1 or args.assignments_per_asset < 0 or args.page_size < 1:
        parser.error("--assets and --page-size take a positive number, --assignments-per-asset 0 or more")
    stop_on_signals(args.timeout)
    print(f"Espalier Apps and Books sync benchmark: {args.assets} assets x {args.assignments_per_asset} "
          f"assignments, pages of {args.page_size}, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d')}, "
          f"{load_average()}")
    run(args)
    return 0


if __name__ == "__main__":
    run_main(main)
