#!/usr/bin/env bash
# Run tests/ansible/run.sh against a real Espalier server: the embedded server (SQLite and the
# in-process queue) on a free loopback port, a stand-in push certificate, an OTA enrollment and
# simulated devices that stay online (polling, since APNs cannot be reached), so the modules'
# integration targets lock, erase, block and wait on real devices. start_server.sh starts it.
#
# usage: tests/ansible/with_server.sh [sanity] [units] [integration] [lint]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/ansible/start_server.sh
source "$here/start_server.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/espalier-itest.XXXXXX")
trap 'espalier_stop_server; rm -rf "$work"' EXIT

espalier_start_server "$work"
status=0
"$here/run.sh" "$@" || status=$?
[[ $status -eq 0 ]] || espalier_server_log
exit $status
