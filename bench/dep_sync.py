"""An ADE device sync of a large account from the fake ABM, against the bare fetch of the same pages.

    /work/venv/bin/python bench/dep_sync.py [--devices 100000] [--page 1000]

The fake ABM (``tests/fakes/abm.py``) runs in a process of its own, seeded with N devices.
In one run, alternating, this process times:

* the bare fetch: ``ABMClient.fetch_devices`` page after page (HTTPS, JSON), nothing stored;
* the sync: ``POST sync_devices``'s job (``tasks/dep.py``) on a fresh PostgreSQL database:
  the same pages, each upserted with its cursor in one transaction (a first, full fetch:
  every row inserted), then a second full fetch of the unchanged account (every row compared).

It prints wall time, rows/s, the ratio to the bare fetch, and this process's RSS: before,
peak during the sync (sampled every 20 ms) and after; memory is flat when the peak does not
grow with the number of pages. Target: the first sync of 100,000 devices under 20 s.
"""
from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import threading
import time

from common import REPO, bench_database, load_average, ratio, run_main, stop_on_signals

sys.path.insert(0, str(REPO / "tests"))


def _serve_fake(pipe, devices: int, page: int) -> None:
    from fakes.abm import FakeABM

    with FakeABM(devices=devices, fetch_limit={"default": page, "maximum": page},
                 sync_limit={"default": page, "maximum": page}) as fake:
        pipe.send((fake.base_url, fake.ca_file))
        while True:
            request = pipe.recv()
            if request is None:
                return
            kind, arg = request
            if kind == "p7m":
                pipe.send(fake.server_token_p7m(arg))
            elif kind == "creds":
                creds = fake.issue_credentials()
                pipe.send(creds.as_dict())


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class RssSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.peak, self.samples, self._done = 0.0, [], threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.02):
            value = rss_mb()
            self.samples.append(value)
            self.peak = max(self.peak, value)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak


def bare_fetch(base_url: str, ca_file: str, creds: dict) -> tuple[float, int, int]:
    from espalier.apple.abm import ABMClient, OAuthCredentials

    start = time.perf_counter()
    rows = pages = 0
    with ABMClient(OAuthCredentials(creds["consumer_key"], creds["consumer_secret"], creds["access_token"],
                                    creds["access_secret"]), base_url=base_url, verify=ca_file) as client:
        client.account()
        cursor = None
        while True:
            page = client.fetch_devices(cursor)
            rows, pages = rows + len(page.devices), pages + 1
            if not page.more_to_follow:
                break
            cursor = page.cursor
    return time.perf_counter() - start, rows, pages


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    stop_on_signals(args.timeout)

    from espalier import runtime as runtime_mod
    from espalier.db import Database
    from espalier.models import TaskResult
    from espalier.services import dep_devices, dep_tokens
    from espalier.settings import from_mapping
    from espalier.tasks.queue import InProcessTaskQueue

    parent, child = multiprocessing.Pipe()
    fake = multiprocessing.Process(target=_serve_fake, args=(child, args.devices, args.page), daemon=True)
    fake.start()
    try:
        base_url, ca_file = parent.recv()
        with bench_database("dep") as url:
            secret = "bench-secret-key-0123456789-abcdefghijklmnop"
            Database(url).upgrade(secret_keys=[secret])
            settings = from_mapping({"database_url": url, "secret_keys": [secret], "log_level": "WARNING",
                                     "apps": {"espalier.mdm": {"abm": {"base_url": base_url, "ca_file": ca_file}}}})
            rt = runtime_mod.build(settings, queue=InProcessTaskQueue(sync=True))
            from espalier.apple.abm import client_for

            with rt.db.session() as s, s.begin():
                token = dep_tokens.request_token(s, rt.secrets)
                token_id, certificate = token.id, token.certificate
            parent.send(("p7m", certificate.encode()))
            p7m = parent.recv()
            with rt.db.session() as s, s.begin():
                server_id = dep_tokens.upload_token(s, rt.secrets, token_id, p7m,
                                                    lambda c: client_for(settings.mdm["abm"], c)).id
            parent.send(("creds", None))
            creds = parent.recv()

            def sync(full: bool) -> tuple[float, dict, float, float]:
                before = rss_mb()
                sampler = RssSampler()
                sampler.start()
                start = time.perf_counter()
                with rt.db.session() as s, s.begin():
                    task_id, _ = dep_devices.start_sync(s, rt.queue, server_id, full)
                elapsed = time.perf_counter() - start
                peak = sampler.stop()
                with rt.db.session() as s:
                    task = s.get(TaskResult, task_id)
                    if task.status != "finished":
                        raise SystemExit(f"bench: sync {task.status}: {task.error}")
                    return elapsed, task.result, before, peak

            fetch1, rows, pages = bare_fetch(base_url, ca_file, creds)
            first, result1, before1, peak1 = sync(full=True)
            fetch2, _, _ = bare_fetch(base_url, ca_file, creds)
            second, result2, before2, peak2 = sync(full=True)
            baseline = (fetch1 + fetch2) / 2
            print(f"ADE sync of {rows:,} devices in {pages} pages of {args.page} ({load_average()})")
            print(f"  bare fetch (HTTPS + JSON, nothing stored): {fetch1:.2f} s / {fetch2:.2f} s, "
                  f"{rows / baseline:,.0f} rows/s")
            print(f"  first sync (every row inserted):  {first:.2f} s, {rows / first:,.0f} rows/s, "
                  f"{ratio(first, baseline)} the bare fetch; added {result1['added']:,}")
            print(f"  second sync (every row compared): {second:.2f} s, {rows / second:,.0f} rows/s, "
                  f"{ratio(second, baseline)} the bare fetch; unchanged {result2['unchanged']:,}")
            print(f"  RSS: {before1:.0f} MB before, peak {peak1:.0f} MB in the first sync, "
                  f"{before2:.0f} MB before / peak {peak2:.0f} MB in the second, {rss_mb():.0f} MB after")
            target = "met" if first < 20 else "MISSED"
            print(f"  target (first sync under 20 s): {target}")
            rt.close()
            return 0 if result1["added"] == rows and result2["unchanged"] == rows else 1
    finally:
        parent.send(None)
        fake.join(timeout=10)
        if fake.is_alive():
            fake.terminate()


if __name__ == "__main__":
    run_main(main)
