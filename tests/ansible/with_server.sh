#!/usr/bin/env bash
# Run tests/ansible/run.sh against a real Espalier server: the embedded server (SQLite and the
# in-process queue) on a free loopback port, a stand-in push certificate, an OTA enrollment and
# simulated devices that stay online (polling, since APNs cannot be reached), so the modules'
# integration targets lock, erase, block and wait on real devices.
#
# usage: tests/ansible/with_server.sh [sanity] [units] [integration] [lint]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/espalier-itest.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

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
secret=$(espalier enrollment create --name "Ansible integration" --push-certificate 1 --quiet)

espalier serve --bind "127.0.0.1:$port" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    curl -fsS "$url/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "$url/healthz" >/dev/null || { cat "$work/server.log" >&2; exit 1; }

espalier simulate --url "$url" --enrollment "$secret" --devices 4 --platform mixed --signature \
    --stay 3600 --poll 1 --devices-file "$work/devices.jsonl" >"$work/simulate.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
    [[ -s "$work/devices.jsonl" ]] && break
    sleep 0.2
done
[[ -s "$work/devices.jsonl" ]] || { cat "$work/simulate.log" >&2; exit 1; }

pick() { "$py" - "$work/devices.jsonl" "$@" <<'PY'
import json, sys
devices = [json.loads(line) for line in open(sys.argv[1])]
platform, index = sys.argv[2], int(sys.argv[3])
matches = [d["serial_number"] for d in devices if d["platform"] == platform]
print(matches[index] if len(matches) > index else "")
PY
}
export ESPALIER_URL="$url" ESPALIER_TOKEN="$token" ESPALIER_DEVICE_ONLINE=true
ESPALIER_TEST_SERIAL=$(pick macOS 0)
ESPALIER_ERASE_SERIAL=$(pick iOS 0)
ESPALIER_BLOCK_SERIAL=$(pick iPadOS 0)
export ESPALIER_TEST_SERIAL ESPALIER_ERASE_SERIAL ESPALIER_BLOCK_SERIAL
echo "espalier at $url with $(wc -l <"$work/devices.jsonl") simulated devices online"
status=0
"$here/run.sh" "$@" || status=$?
if [[ $status -ne 0 ]]; then
    echo "--- server log (tail)" >&2; tail -n 40 "$work/server.log" >&2
fi
exit $status
