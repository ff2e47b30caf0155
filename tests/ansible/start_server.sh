#!/usr/bin/env bash
# Start a real Espalier server for the Ansible tests and benchmarks: the embedded server (SQLite and
# the in-process queue) on a free loopback port, a stand-in push certificate ("Stand-in", id 1), an
# OTA enrollment using it and simulated devices (a Mac, iPhones, iPads) that stay online, polling
# every second since APNs cannot be reached.
#
# Sourced (by with_server.sh): defines
#   espalier_start_server WORKDIR [DEVICES]   start everything, export the variables below
#   espalier_stop_server                      stop what espalier_start_server started (by pid)
#   espalier_server_log                       print the tail of the server log
# Executed: tests/ansible/start_server.sh CMD [ARG...]
#   start the server, run CMD with the variables below, stop the server, exit with CMD's status
#   (bench/ansible_noop.py runs itself this way).
#
# Exported: ESPALIER_URL, ESPALIER_TOKEN (an admin token), ESPALIER_DEVICE_ONLINE=true,
#   ESPALIER_TEST_SERIAL (a Mac), ESPALIER_ERASE_SERIAL (an iPhone), ESPALIER_BLOCK_SERIAL (an iPad),
#   ESPALIER_SERIALS (every simulated device, space separated).
# The espalier command is looked up on PATH (put the venv's bin/ first).

espalier_server_pids=()
espalier_server_work=""

espalier_start_server() {
    local work=$1 devices=${2:-4} here py port url token secret
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    espalier_server_work=$work
    command -v espalier >/dev/null || { echo "espalier not on PATH (PATH=/work/venv/bin:\$PATH?)" >&2; return 2; }
    py=$(command -v python3)
    [[ -x "$(dirname "$(command -v espalier)")/python" ]] && py="$(dirname "$(command -v espalier)")/python"
    port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    url="http://127.0.0.1:$port"
    export ESPALIER_SETTINGS="$work/settings.json"

    espalier init "$ESPALIER_SETTINGS" --base-url "$url" >/dev/null
    espalier db upgrade >/dev/null
    espalier user create ansible >/dev/null
    token=$(espalier token create --user ansible --role admin --name integration --quiet)
    "$py" "$here/make_push_cert.py" "$work" >/dev/null
    espalier push-certificate add --name "Stand-in" --certificate "$work/push.pem" --private-key "$work/push.key" >/dev/null
    secret=$(espalier enrollment create --name "Ansible integration" --push-certificate 1 --attestation none --quiet)

    espalier serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
    espalier_server_pids+=($!)
    for _ in $(seq 100); do
        curl -fsS "$url/healthz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    curl -fsS "$url/healthz" >/dev/null || { cat "$work/server.log" >&2; return 1; }

    espalier simulate --url "$url" --enrollment "$secret" --devices "$devices" --platform mixed --signature \
        --stay 3600 --poll 1 --devices-file "$work/devices.jsonl" >"$work/simulate.log" 2>&1 &
    espalier_server_pids+=($!)
    for _ in $(seq 300); do
        [[ -f "$work/devices.jsonl" && $(wc -l <"$work/devices.jsonl") -ge $devices ]] && break
        sleep 0.2
    done
    [[ -s "$work/devices.jsonl" ]] || { cat "$work/simulate.log" >&2; return 1; }

    _espalier_pick() {
        "$py" - "$work/devices.jsonl" "$@" <<'PY'
import json, sys
devices = [json.loads(line) for line in open(sys.argv[1])]
platform, index = sys.argv[2], int(sys.argv[3])
matches = [d["serial_number"] for d in devices if platform in ("*", d["platform"])]
print(" ".join(matches) if index < 0 else matches[index] if len(matches) > index else "")
PY
    }
    export ESPALIER_URL="$url" ESPALIER_TOKEN="$token" ESPALIER_DEVICE_ONLINE=true
    ESPALIER_TEST_SERIAL=$(_espalier_pick macOS 0)
    ESPALIER_ERASE_SERIAL=$(_espalier_pick iOS 0)
    ESPALIER_BLOCK_SERIAL=$(_espalier_pick iPadOS 0)
    ESPALIER_SERIALS=$(_espalier_pick '*' -1)
    export ESPALIER_TEST_SERIAL ESPALIER_ERASE_SERIAL ESPALIER_BLOCK_SERIAL ESPALIER_SERIALS
    echo "espalier at $url with $(wc -l <"$work/devices.jsonl") simulated devices online"
}

espalier_stop_server() {
    local pid
    for pid in "${espalier_server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${espalier_server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    espalier_server_pids=()
}

espalier_server_log() {
    [[ -n "$espalier_server_work" && -f "$espalier_server_work/server.log" ]] || return 0
    echo "--- server log (tail)" >&2
    tail -n 40 "$espalier_server_work/server.log" >&2
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    if [[ $# -eq 0 ]]; then
        echo "usage: $0 CMD [ARG...]  (or source it and call espalier_start_server WORKDIR)" >&2
        exit 2
    fi
    _espalier_work=$(mktemp -d "${TMPDIR:-/tmp}/espalier-server.XXXXXX")
    trap 'espalier_stop_server; rm -rf "$_espalier_work"' EXIT
    espalier_start_server "$_espalier_work" "${ESPALIER_SIMULATED_DEVICES:-4}"
    _espalier_status=0
    "$@" || _espalier_status=$?
    [[ $_espalier_status -eq 0 ]] || espalier_server_log
    exit $_espalier_status
fi
