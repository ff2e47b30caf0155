"""A hostile run against a live server: how many 5xx and resets, and the slowest hostile case.

Starts gunicorn on a throw-away PostgreSQL database and on a SQLite file, then sends every
operator route of the served OpenAPI document and every device endpoint a battery of bad
input: ids beyond the integer range, NUL bytes, odd encodings, malformed and deeply nested
JSON, plists that are truncated, nested, full of shared references or NULs, forged identity
headers, and bodies over the limit. Each request goes over a keep-alive connection, as a
client would send it; a reset or a dropped connection is counted, as is every 5xx.

    .venv/bin/python bench/hostile.py [--seed 1] [--backends postgresql,sqlite]

Exits 1 when a 5xx or a reset was seen (the cases are printed), so it can gate a run.
"""
from __future__ import annotations

import argparse
import json
import plistlib
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (Gunicorn, bench_database, free_port, load_average, ms, prepare_server,  # noqa: E402
                    stop_on_signals, workdir, write_settings)

PATH_VALUES = ["0", "-1", str(2**31), str(2**63), "9" * 40, "%00", "a%00b", "%ff%fe", "..%2f..%2fetc",
               "%C3%A9", "1e9", " 1"]
QUERY_VALUES = ["", "%00", "9" * 40, "-1", "x" * 4000, "true", "%ff", "1,2,,3"]
DEVICE_PATHS = ["/mdm/checkin", "/mdm/connect"]
LARGE = 2 * 1024 * 1024  # a large body under the default limit (8 MiB)
OVER = 9 * 1024 * 1024  # over it


@dataclass
class Case:
    label: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict | None = None


def _deep_json(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _deep_plist(depth: int) -> bytes:
    inner = b"<array>" * depth + b"</array>" * depth
    return b'<?xml version="1.0"?><plist version="1.0"><dict><key>MessageType</key>' + inner + b"</dict></plist>"


def _shared_reference_plist(depth: int = 30) -> bytes:
    objects = [b"\x51\x78"] + [bytes([0xA2, i - 1, i - 1]) for i in range(1, depth + 1)]
    objects += [bytes([0xD1, depth + 2, depth]), b"\x54Bomb"]
    body, offsets = b"bplist00", []
    for obj in objects:
        offsets.append(len(body))
        body += obj
    table = len(body)
    body += bytes(offsets)
    return body + bytes(6) + bytes([1, 1]) + len(objects).to_bytes(8, "big") + (depth + 1).to_bytes(8, "big") \
        + table.to_bytes(8, "big")


def json_bodies(rng: random.Random, fields: list[str]) -> list[tuple[str, bytes]]:
    odd = ["", "\u0000", "x" * 5000, -1, 2**64, 1e308, True, None, [], {}, ["\u0000"], {"\u0000": 1}, "١٢٣٤٥٦"]
    bodies = [("empty", b""), ("null", b"null"), ("list", b"[]"), ("string", b'"x"'), ("inf", b"1e999999"),
              ("nan", b"NaN"), ("bad utf-8", b'{"a": "\xff\xfe"}'), ("truncated", b'{"a": '),
              ("deep 50k", _deep_json(50_000)), ("nul key", b'{"\\u0000": 1}'),
              ("lone surrogate", b'{"a": "\\ud800"}'), ("huge int", b'{"a": ' + b"9" * 5000 + b"}")]
    for name in fields:
        for value in odd:
            bodies.append((f"{name}={value!r:.20}", json.dumps({name: value}).encode()))
    rng.shuffle(bodies)
    return bodies


def plist_bodies() -> list[tuple[str, bytes]]:
    base = {"MessageType": "Authenticate", "UDID": "X", "Topic": "t"}
    return [("random bytes", bytes(random.Random(7).getrandbits(8) for _ in range(1024))),
            ("truncated bplist", plistlib.dumps(base, fmt=plistlib.FMT_BINARY)[:-9]),
            ("shared refs", _shared_reference_plist()), ("deep xml 50k", _deep_plist(50_000)),
            ("nul string", plistlib.dumps({**base, "UDID": "a\x00b"}, fmt=plistlib.FMT_BINARY)),
            ("unknown type", plistlib.dumps({"MessageType": "Nope"})),
            ("not a dict", plistlib.dumps(["x"])), ("entity", b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a '
                                                   b'"aaaa">]><plist><string>&a;&a;</string></plist>')]


def forged_headers() -> list[tuple[str, dict]]:
    return [("none", {}), ("Mdm-Signature junk", {"Mdm-Signature": "not base64!"}),
            ("Mdm-Signature b64 junk", {"Mdm-Signature": "AAAA" * 64}),
            ("proxy DN junk", {"X-SSL-Client-S-DN": "CN=\x7f", "X-SSL-Client-Cert": "%00garbage"})]


def cases(spec: dict, rng: random.Random) -> list[Case]:
    out: list[Case] = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = re.findall(r"{(\w+)}", path)
            fields = list(((op.get("requestBody") or {}).get("content", {}).get("application/json", {})
                           .get("schema", {}).get("properties") or {}).keys())
            schema_ref = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}) \
                .get("schema", {}).get("$ref")
            if schema_ref:
                fields = list(spec["components"]["schemas"][schema_ref.split("/")[-1]].get("properties", {}))
            url = "/api" + path if not path.startswith("/api") else path
            for value in PATH_VALUES if params else ["1"]:
                target = re.sub(r"{\w+}", value, url)
                out.append(Case(f"{method.upper()} {path} id={value}", method.upper(), target))
            query = [p["name"] for p in op.get("parameters", []) if p.get("in") == "query"]
            concrete = re.sub(r"{\w+}", "1", url)
            for name in query:
                for value in QUERY_VALUES:
                    out.append(Case(f"{method.upper()} {path} ?{name}={value:.12}", method.upper(),
                                    f"{concrete}?{name}={value}"))
            if method != "get":
                for label, body in json_bodies(rng, fields)[:40]:
                    out.append(Case(f"{method.upper()} {path} body {label}", method.upper(), concrete, body,
                                    {"Content-Type": "application/json"}))
                out.append(Case(f"{method.upper()} {path} 2 MiB list", method.upper(), concrete,
                                b"[" + b"1," * (LARGE // 2) + b"1]", {"Content-Type": "application/json"}))
                out.append(Case(f"{method.upper()} {path} over the limit", method.upper(), concrete,
                                b"x" * OVER, {"Content-Type": "application/json"}))
    return out + device_cases()


def device_cases() -> list[Case]:
    """The device endpoints (check-in, SCEP, enrollment): no token, forged identities."""
    out: list[Case] = []
    for path in DEVICE_PATHS:
        for hlabel, headers in forged_headers():
            for blabel, body in plist_bodies():
                out.append(Case(f"PUT {path} {blabel} / {hlabel}", "PUT", path, body, headers))
        out.append(Case(f"PUT {path} over the limit", "PUT", path, b"x" * OVER, {"Mdm-Signature": "AAAA"}))
    for value in ["x", "%00", "a" * 300, "..%2f"]:
        out.append(Case(f"GET /public/enroll/{value:.8}/", "GET", f"/public/enroll/{value}/"))
        out.append(Case(f"POST /public/enroll/{value:.8}/attest/", "POST", f"/public/enroll/{value}/attest/",
                        b"\x30\x82\xff\xff" + bytes(64)))
    for query in ["operation=GetCACert", "operation=PKIOperation&message=%00", "operation=PKIOperation&message="
                  + "A" * 9000, "operation=Nope", "operation=GetCACaps"]:
        out.append(Case(f"GET /scep ?{query:.30}", "GET", f"/scep?{query}"))
    out.append(Case("POST /scep junk", "POST", "/scep?operation=PKIOperation", bytes(300)))
    return out


def run(base_url: str, token: str, rng: random.Random) -> dict:
    auth = {"Authorization": f"Token {token}"}
    spec = httpx.get(f"{base_url}/api/openapi.json", headers=auth, timeout=30).json()
    todo = cases(spec, rng)
    statuses: Counter = Counter()
    bad: list[str] = []
    slowest: list[tuple[float, str]] = []
    previous = "(first)"
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for case in todo:
            headers = {**auth, **(case.headers or {})} if case.path.startswith("/api") else (case.headers or {})
            start = time.perf_counter()
            try:
                resp = client.request(case.method, case.path, content=case.body, headers=headers)
                status = resp.status_code
            except httpx.TransportError as exc:
                status = f"reset ({type(exc).__name__}, after {previous!r})"
            elapsed = time.perf_counter() - start
            statuses[status if isinstance(status, str) else f"{status // 100}xx"] += 1
            if isinstance(status, str) or status >= 500:
                bad.append(f"{status}: {case.label}")
            slowest.append((elapsed, case.label))
            previous = case.label
    slowest.sort(reverse=True)
    return {"requests": len(todo), "statuses": statuses, "bad": bad, "slowest": slowest[:3]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args()
    stop_on_signals(args.timeout)
    print(f"bench/hostile.py: {load_average()}")
    failures = 0
    for backend in args.backends.split(","):
        with workdir("espalier-hostile-") as tmp, bench_database(backend) as pg_url:
            url = pg_url if backend == "postgresql" else f"sqlite:///{tmp}/hostile.db"
            port = free_port()
            settings = write_settings(tmp, url, port, mtls_proxy=False)
            token = prepare_server(settings)
            with Gunicorn(settings, port) as server:
                result = run(server.base_url, token, random.Random(args.seed))
        counts = ", ".join(f"{k}: {v}" for k, v in sorted(result["statuses"].items()))
        print(f"{backend}: {result['requests']} hostile requests; {counts}")
        for elapsed, label in result["slowest"]:
            print(f"  slow: {ms(elapsed)}  {label}")
        for line in result["bad"]:
            print(f"  BAD {line}")
        failures += len(result["bad"])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
