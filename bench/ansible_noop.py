"""What an espalier.mdm task costs when there is nothing to do, against Ansible's own floor.

    python bench/ansible_noop.py [--tasks 50] [--rounds 3] [--max-module-ratio 1.5] [--without-pipelining]

(with the venv's python, or with /work/venv/bin first on PATH: the script needs ``espalier``
and ``ansible-playbook`` from the same venv.)

It starts a real Espalier server the way ``tests/ansible/with_server.sh`` does, by running
itself under ``tests/ansible/start_server.sh`` (embedded server on a free loopback port,
simulated devices online, an admin token), puts this work tree on ANSIBLE_COLLECTIONS_PATH
as ``espalier.mdm`` and times two plays on localhost, each ``--tasks`` tasks long:

* **espalier.mdm.device**: ``blocked: false`` on the simulated devices, which are not blocked,
  so every task reads its device (one API request) and reports ``ok`` (changed=false): a
  converged fleet. The modules run the normal way, each task in a Python of its own, with
  ``ansible_pipelining: true`` as the collection's playbooks and inventory plugin set it (the
  module is fed on the Python's stdin: no temporary directory to create, copy into and remove);
* **ansible.builtin.debug**: the same number of tasks that do nothing, the cost of a task
  in Ansible itself (fork, templating, callbacks): the floor, as it runs in the controller;
* **ansible.builtin.ping**: the same number of tasks of the smallest module there is, run the
  same way as the device tasks: the floor of any module (a Python per task, AnsiballZ,
  ``ansible.module_utils.basic``), so device/ping is the part this collection answers for.

Each play runs ``--rounds`` times, alternating, after one untimed warm-up of each; the best
round of each is compared (wall time of the whole ``ansible-playbook`` run, start-up
included, measured from here). It prints the times, the per-task costs above the floor and
the ratios device/debug and device/ping, and exits 1 when device/ping is above
``--max-module-ratio`` or a device task reported changed or failed. ``--without-pipelining`` adds one run of the device play with
``ansible_pipelining: false`` (Ansible's default), for comparison.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
START_SERVER = REPO / "tests" / "ansible" / "start_server.sh"
INNER = "ESPALIER_BENCH_INNER"
RECAP = re.compile(r"^localhost\s*:.*$", re.MULTILINE)
RECAP_FIELD = re.compile(r"(\w+)=(\d+)")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=50, help="tasks per play (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each play (default 3)")
    parser.add_argument("--max-module-ratio", type=float, default=1.5,
                        help="fail when device/ping is above this ratio (default 1.5)")
    parser.add_argument("--without-pipelining", action="store_true",
                        help="also time the device play once with ansible_pipelining=false (slower)")
    return parser.parse_args(argv)


def playbook(name: str, tasks: list[dict], pipelining: bool = True) -> list[dict]:
    return [{
        "name": name,
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": sys.executable, "ansible_pipelining": pipelining},
        "module_defaults": {"group/espalier.mdm.all": {"url": os.environ["ESPALIER_URL"],
                                                       "token": os.environ["ESPALIER_TOKEN"]}},
        "tasks": tasks,
    }]


def write_playbooks(work: Path, count: int) -> dict[str, Path]:
    serials = os.environ["ESPALIER_SERIALS"].split()
    device_tasks = [{"name": f"device {i}", "espalier.mdm.device": {
        "serial_number": serials[i % len(serials)], "blocked": False}} for i in range(count)]
    debug_tasks = [{"name": f"debug {i}", "ansible.builtin.debug": {"msg": f"task {i}"}} for i in range(count)]
    ping_tasks = [{"name": f"ping {i}", "ansible.builtin.ping": {"data": f"task {i}"}} for i in range(count)]
    paths = {}
    for label, tasks, pipelining in (("device", device_tasks, True), ("debug", debug_tasks, True),
                                     ("ping", ping_tasks, True), ("unpipelined", device_tasks, False)):
        paths[label] = work / f"{label}.yml"
        # JSON is YAML: no PyYAML needed here
        paths[label].write_text(json.dumps(playbook(f"{count} {label} tasks", tasks, pipelining), indent=1))
    return paths


def run_play(path: Path, env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    proc = subprocess.run([shutil.which("ansible-playbook", path=env["PATH"]) or "ansible-playbook",
                           "-i", "localhost,", str(path)],
                          env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    recap = RECAP.search(proc.stdout)
    stats = {k: int(v) for k, v in RECAP_FIELD.findall(recap.group(0))} if recap else {}
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"bench: ansible-playbook {path.name} failed (exit {proc.returncode})")
    return elapsed, stats


def measure(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="espalier-bench-ansible.") as tmp:
        work = Path(tmp)
        collections = work / "collections" / "ansible_collections" / "espalier"
        collections.mkdir(parents=True)
        (collections / "mdm").symlink_to(REPO)
        env = dict(os.environ,
                   ANSIBLE_COLLECTIONS_PATH=str(work / "collections"),
                   ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
                   ANSIBLE_NOCOLOR="1",
                   ANSIBLE_LOCALHOST_WARNING="false",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
                   ANSIBLE_LOCAL_TEMP=str(work / "tmp"),
                   ANSIBLE_HOME=str(work / "home"),
                   PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        paths = write_playbooks(work, args.tasks)
        for label in ("debug", "ping", "device"):  # warm-up: caches, pyc files
            run_play(paths[label], env)
        times: dict[str, list[float]] = {"debug": [], "ping": [], "device": []}
        for round_ in range(args.rounds):
            order = ("debug", "ping", "device") if round_ % 2 == 0 else ("device", "ping", "debug")
            for label in order:
                elapsed, stats = run_play(paths[label], env)
                times[label].append(elapsed)
                if label == "device" and (stats.get("changed") or stats.get("failed") or not stats.get("ok")):
                    raise SystemExit(f"bench: the device play was not a no-op: {stats}")
        if args.without_pipelining:
            times["unpipelined"] = [run_play(paths["unpipelined"], env)[0]]
    floor, ping, device = min(times["debug"]), min(times["ping"]), min(times["device"])
    ratio, module_ratio = device / floor, device / ping
    print(f"{args.tasks} ansible.builtin.debug tasks:                  best {floor:6.2f} s "
          f"(rounds: {', '.join(f'{t:.2f}' for t in times['debug'])})")
    print(f"{args.tasks} ansible.builtin.ping tasks:                   best {ping:6.2f} s "
          f"(rounds: {', '.join(f'{t:.2f}' for t in times['ping'])})")
    print(f"{args.tasks} espalier.mdm.device tasks (converged): best {device:6.2f} s "
          f"(rounds: {', '.join(f'{t:.2f}' for t in times['device'])})")
    if "unpipelined" in times:
        unpipelined = times["unpipelined"][0]
        print(f"{args.tasks} espalier.mdm.device tasks without pipelining (ansible_pipelining=false): "
              f"{unpipelined:.2f} s, ratio {unpipelined / floor:.2f}")
    print(f"per task above the debug floor: device {(device - floor) / args.tasks * 1000:.0f} ms, "
          f"ping {(ping - floor) / args.tasks * 1000:.0f} ms")
    print(f"ratio device/debug: {ratio:.2f}; ratio device/ping: {module_ratio:.2f} "
          f"(target <= {args.max_module_ratio:g})")
    return 0 if module_ratio <= args.max_module_ratio else 1


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if os.environ.get(INNER) == "1":
        return measure(args)
    # Start the server as the tests do and run this script again inside it.
    env = dict(os.environ, **{INNER: "1"})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.call(["bash", str(START_SERVER), sys.executable, str(Path(__file__).resolve()), *argv],
                           env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
