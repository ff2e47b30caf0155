#!/usr/bin/env bash
# Deployment tests: the molecule scenarios in extensions/molecule (default, scale) on this machine,
# without a container engine. They deploy roles/server and roles/proxy with playbooks/deploy.yml on
# localhost (supervisord, nginx), against the PostgreSQL (127.0.0.1:5432, user postgres, trust) and
# Redis (127.0.0.1:6379) of the machine, started here when they do not answer. Needs root.
#
# usage: tests/molecule/run.sh [SCENARIO...]      (default: default scale)
#
# environment:
#   ESPALIER_MOLECULE_VENV   virtualenv for molecule (default ~/.cache/espalier/molecule)
#   KEEP_WORKDIR=1           keep the temporary tree (collection link, server snapshot)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${ESPALIER_MOLECULE_VENV:-$HOME/.cache/espalier/molecule}
work=""
summary=()
passed=0
failed=0

log() { printf '\n=== %s\n' "$*"; }

cleanup() {
    [[ -n "$work" ]] || return 0
    if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}

apt_install() {
    if [[ -z "${_apt_updated:-}" ]]; then
        apt-get update -qq >/dev/null
        _apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 -t 3 2>/dev/null && psql -h 127.0.0.1 -U postgres -tAc 'select 1' >/dev/null 2>&1; }
redis_up() { [[ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" == PONG ]]; }

# The same recipe as ./run test: Debian's packages, trust for local TCP, started without systemd.
ensure_postgres() {
    command -v psql >/dev/null && pg_up && return 0
    log "PostgreSQL is not answering on 127.0.0.1:5432; installing/starting it"
    command -v pg_ctlcluster >/dev/null || apt_install postgresql
    local version hba
    version=$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf "%f\n" | sort -V | tail -1)
    hba="/etc/postgresql/$version/main/pg_hba.conf"
    grep -q '^host all all 127.0.0.1/32 trust' "$hba" || sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
        pg_ctlcluster --skip-systemctl-redirect "$version" main reload
    for _ in $(seq 30); do pg_up && return 0; sleep 1; done
    echo "PostgreSQL did not come up" >&2
    exit 1
}

ensure_redis() {
    command -v redis-cli >/dev/null && redis_up && return 0
    log "Redis is not answering on 127.0.0.1:6379; installing/starting it"
    command -v redis-server >/dev/null || apt_install redis-server
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/espalier.log
    for _ in $(seq 30); do redis_up && return 0; sleep 1; done
    echo "Redis did not come up" >&2
    exit 1
}

ensure_molecule() {
    if ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
        log "installing molecule into $venv"
        command -v python3 >/dev/null || apt_install python3 python3-venv
        python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; rm -rf "$venv"; python3 -m venv "$venv"; }
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
        cp "$here/requirements.txt" "$venv/requirements.txt"
    fi
    export PATH="$venv/bin:$PATH" # molecule runs ansible-config and ansible-playbook from PATH
}

# The collection is the work tree: link it into a collections path (molecule's prerun is off,
# so nothing is built or installed into ~/.ansible), and snapshot server/ so that the deployed
# source stays the same for the whole run (converge, idempotence, verify).
prepare_tree() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/espalier-molecule.XXXXXX")
    mkdir -p "$work/collections/ansible_collections/espalier" "$work/server-src"
    ln -s "$root" "$work/collections/ansible_collections/espalier/mdm"
    tar --exclude=__pycache__ --exclude='*.egg-info' --exclude=build --exclude=dist -C "$root" -cf - server |
        tar -xf - -C "$work/server-src"
    mkdir -p "$work/tmp"
    export TMPDIR="$work/tmp" # the server role packs the source tree there
    export ANSIBLE_COLLECTIONS_PATH="$work/collections"
    export MOLECULE_ESPALIER_SERVER_SOURCE="$work/server-src/server"
    export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1
}

main() {
    local scenarios=("$@") scenario start status elapsed
    [[ ${#scenarios[@]} -gt 0 ]] || scenarios=(default scale)
    if [[ "$(id -u)" != 0 ]]; then
        echo "the molecule scenarios deploy system services: run as root" >&2
        exit 2
    fi
    ensure_postgres
    ensure_redis
    ensure_molecule
    trap cleanup EXIT
    prepare_tree
    cd "$root"
    for scenario in "${scenarios[@]}"; do
        log "molecule test -s $scenario"
        start=$SECONDS
        status=0
        molecule test -s "$scenario" || status=$?
        elapsed=$((SECONDS - start))
        if [[ $status -eq 0 ]]; then
            summary+=("$scenario: passed (${elapsed}s)")
            passed=$((passed + 1))
        else
            summary+=("$scenario: FAILED, exit $status (${elapsed}s)")
            failed=$((failed + 1))
            molecule destroy -s "$scenario" >/dev/null 2>&1 || true
        fi
    done
    log "summary"
    printf '%s\n' "${summary[@]}"
    echo "molecule: $passed passed, $failed failed"
    [[ $failed -eq 0 ]]
}

main "$@"
