#!/usr/bin/env bash
# Build the espalier.mdm collection, install it in a temporary ansible_collections/ tree and test it
# on the supported range of ansible-core: sanity and units on the oldest supported release and on
# the newest one, integration (only when ESPALIER_URL and ESPALIER_TOKEN are set) on the newest,
# ansible-lint and antsibull-changelog lint on the whole collection, and a check that the built
# artifact holds only collection files. Needs no network but the Python package index.
#
# usage: tests/ansible/run.sh [sanity] [units] [integration] [lint] [artifact]   (default: all)
#
# environment:
#   ESPALIER_ANSIBLE_CORES  ansible-core releases to test, oldest first (default: tests/ansible/cores.txt)
#   ESPALIER_INTEGRATION_CORES  which of them run integration: newest (default), all, or releases
#   ESPALIER_INTEGRATION_TARGETS  only these integration targets (names, space-separated; default: all)
#   ESPALIER_PYTHON_<X_Y>   Python for ansible-core X.Y (default: found as cores.txt says, see find_python)
#   ESPALIER_CORE_VENVS     where the ansible-core virtualenvs are kept (default ~/.cache/espalier)
#   ESPALIER_URL, ESPALIER_TOKEN   server for the integration targets; without them integration is skipped
#   ESPALIER_TEST_SERIAL    a device the targets may lock (default: the first device not blocked)
#   ESPALIER_BLOCK_SERIAL   a device the device target may block and unblock (default: the test device)
#   ESPALIER_ERASE_SERIAL   a device the device_erase target may really erase (default: none, check mode only)
#   ESPALIER_DEVICE_ONLINE  true when the test device answers commands, to test wait: true (default false)
#   ESPALIER_VALIDATE_CERTS false for a test server with a self-signed certificate (default true)
#   ESPALIER_LINT_VENV      virtualenv for ansible-lint (default ~/.cache/espalier/ansible-lint)
#   KEEP_WORKDIR=1          keep the temporary tree (its path is printed)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
venvs=${ESPALIER_CORE_VENVS:-$HOME/.cache/espalier}
work=""
coll=""
passed=0
failed=0
summary=()
cores=()
declare -A core_python core_bin

log() { printf '\n=== %s\n' "$*"; }

cleanup() {
    [[ -n "$work" ]] || return 0
    if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then
        echo "kept $work"
    else
        rm -rf "$work"
    fi
}

# "2.16.19 3.11" lines: a release and the Python versions it runs on, preferred first.
read_cores() {
    local line release pythons wanted=" ${ESPALIER_ANSIBLE_CORES:-} "
    while read -r release pythons; do
        [[ -z "$release" || "$release" == \#* ]] && continue
        if [[ -n "${ESPALIER_ANSIBLE_CORES:-}" && "$wanted" != *" $release "* && "$wanted" != *" ${release%.*} "* ]]; then
            continue
        fi
        cores+=("$release")
        core_python[$release]=$pythons
    done <"$here/cores.txt"
    if [[ ${#cores[@]} -eq 0 ]]; then
        echo "no ansible-core release selected (ESPALIER_ANSIBLE_CORES=${ESPALIER_ANSIBLE_CORES:-}; see $here/cores.txt)" >&2
        exit 2
    fi
}

python_version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

# A Python of one of the given versions: ESPALIER_PYTHON_<X_Y>, pyenv's builds, pythonX.Y on PATH,
# else Debian's package when apt has one; fails naming what it looked for.
find_python() {
    local release=$1 versions=$2 override version candidate
    override="ESPALIER_PYTHON_$(echo "${release%.*}" | tr . _)"
    if [[ -n "${!override:-}" ]]; then
        echo "${!override}"
        return 0
    fi
    for version in $versions; do
        for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version"*/bin/python \
            "$(command -v "python$version" 2>/dev/null || true)" /usr/bin/python"$version" /usr/local/bin/python"$version"; do
            [[ -n "$candidate" && -x "$candidate" ]] || continue
            if [[ "$(python_version_of "$candidate")" == "$version" ]] && "$candidate" -c 'import venv, ensurepip' 2>/dev/null; then
                echo "$candidate"
                return 0
            fi
        done
    done
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        for version in $versions; do
            if apt-cache policy "python$version" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
                echo "installing python$version from Debian's packages for ansible-core $release" >&2
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python$version" "python$version-venv" >/dev/null
                echo "/usr/bin/python$version"
                return 0
            fi
        done
    fi
    cat >&2 <<EOF
ansible-core $release needs Python ${versions// / or } on the controller, and none was found
(looked in ${PYENV_ROOT:-$HOME/.pyenv}/versions, on PATH and in apt). Install one, for example
  pyenv install ${versions%% *}      or      apt-get install python${versions%% *} python${versions%% *}-venv
or point ESPALIER_PYTHON_$(echo "${release%.*}" | tr . _) at one, then rerun.
EOF
    return 1
}

# One virtualenv per ansible-core release, kept between runs, with what building and testing need.
ensure_core() {
    local release=$1 python venv want
    python=$(find_python "$release" "${core_python[$release]}") || exit 2
    venv="$venvs/ansible-core-$release-py$(python_version_of "$python")"
    want="ansible-core==$release distlib"
    if [[ "$(cat "$venv/.espalier-core" 2>/dev/null)" != "$want" ]]; then
        log "virtualenv for ansible-core $release ($python)"
        rm -rf "$venv"
        "$python" -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check $want 2>&1 | grep -v '^WARNING: Location' >&2 || true
        "$venv/bin/ansible-test" --version >/dev/null
        echo "$want" >"$venv/.espalier-core"
    fi
    core_bin[$release]="$venv/bin"
}

newest() { echo "${cores[${#cores[@]} - 1]}"; }

# Build the collection with the newest core and install the artifact into a temporary tree.
# In a git work tree the build reads a copy of the files git would commit (tracked or not
# ignored), as a fresh clone has them.
build_and_install() {
    local bin=${core_bin[$(newest)]} src=$root
    log "build and install espalier.mdm (ansible-core $(newest))"
    if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        src="$work/src"
        mkdir -p "$src"
        (cd "$root" && git ls-files -z --cached --others --exclude-standard |
            tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$src"
    fi
    "$bin/ansible-galaxy" collection build --output-path "$work/dist" "$src" >/dev/null
    ANSIBLE_COLLECTIONS_PATH="$work/collections" "$bin/ansible-galaxy" collection install --offline --force \
        -p "$work/collections" "$work"/dist/espalier-mdm-*.tar.gz >/dev/null
    coll="$work/collections/ansible_collections/espalier/mdm"
    echo "installed in $coll"
}

# ansible-test bootstraps pip in its venvs with a get-pip.py it downloads from a host we cannot
# reach; it first looks for ~/.ansible/test/cache/get_pip_<version>.py, so put our shim there
# for the pip version each core asks for.
install_pip_shim() {
    local release pip_version
    mkdir -p "$HOME/.ansible/test/cache"
    for release in "${cores[@]}"; do
        pip_version=$("${core_bin[$release]}/python" - <<'PY'
import pathlib, re, ansible_test
src = pathlib.Path(ansible_test.__file__).parent / '_internal' / 'python_requirements.py'
match = re.search(r"pip='([0-9.]+)'", src.read_text())
print(match.group(1) if match else '24.2')
PY
)
        cp "$here/get_pip_shim.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
    done
}

run_step() {
    local name=$1 start=$SECONDS status=0 elapsed
    shift
    log "$name"
    (cd "$coll" && "$@") || status=$?
    elapsed=$((SECONDS - start))
    if [[ $status -eq 0 ]]; then
        summary+=("$name: passed (${elapsed}s)")
        passed=$((passed + 1))
    else
        summary+=("$name: FAILED, exit $status (${elapsed}s)")
        failed=$((failed + 1))
    fi
}

# ansible-test of one core, with its Python first on PATH (ansible-test looks pythonX.Y up there).
core_test() {
    local release=$1 bin=${core_bin[$1]} version
    shift
    version=$(python_version_of "$bin/python")
    PATH="$bin:$PATH" "$bin/ansible-test" "$@" --venv --python "$version" --color no
}

# tests/integration/integration_config.yml: ansible-test passes it to the targets as extra vars.
write_integration_config() {
    (
        umask 077
        cat >"$coll/tests/integration/integration_config.yml" <<EOF
---
espalier_url: "${ESPALIER_URL}"
espalier_token: "${ESPALIER_TOKEN}"
espalier_validate_certs: ${ESPALIER_VALIDATE_CERTS:-true}
espalier_test_serial: "${ESPALIER_TEST_SERIAL:-}"
espalier_block_serial: "${ESPALIER_BLOCK_SERIAL:-${ESPALIER_TEST_SERIAL:-}}"
espalier_erase_serial: "${ESPALIER_ERASE_SERIAL:-}"
espalier_device_online: ${ESPALIER_DEVICE_ONLINE:-false}
EOF
    )
}

integration_cores() {
    case ${ESPALIER_INTEGRATION_CORES:-newest} in
        newest) newest ;;
        all) echo "${cores[@]}" ;;
        *) echo "$ESPALIER_INTEGRATION_CORES" ;;
    esac
}

lint() {
    local venv=${ESPALIER_LINT_VENV:-$HOME/.cache/espalier/ansible-lint}
    if ! cmp -s "$here/requirements-lint.txt" "$venv/requirements-lint.txt"; then
        python3 -m venv "$venv"
        "$venv/bin/python" -m pip install --quiet -r "$here/requirements-lint.txt" 2>&1 | grep -v '^WARNING: Location' >&2 || true
        cp "$here/requirements-lint.txt" "$venv/requirements-lint.txt"
    fi
    # The whole collection as installed (plugins, roles, playbooks, tests, changelogs, meta).
    ANSIBLE_COLLECTIONS_PATH="$work/collections" PATH="$venv/bin:$PATH" \
        "$venv/bin/ansible-lint" --offline --profile production --exclude tests/output &&
        PATH="$venv/bin:$PATH" "$venv/bin/antsibull-changelog" lint
}

main() {
    local steps=("$@") step release
    if [[ ${#steps[@]} -eq 0 ]]; then
        steps=(artifact sanity units integration lint)
    fi
    read_cores
    for release in "${cores[@]}"; do
        ensure_core "$release"
    done
    work=$(mktemp -d "${TMPDIR:-/tmp}/espalier-ansible.XXXXXX")
    trap cleanup EXIT
    build_and_install
    install_pip_shim

    for step in "${steps[@]}"; do
        case $step in
            artifact)
                run_step artifact "${core_bin[$(newest)]}/python" "$here/check_artifact.py" "$root" \
                    "${core_bin[$(newest)]}/ansible-galaxy"
                ;;
            sanity | units)
                for release in "${cores[@]}"; do
                    if [[ $step == sanity ]]; then
                        run_step "sanity, ansible-core $release" core_test "$release" sanity --requirements
                    else
                        run_step "units, ansible-core $release" core_test "$release" units --requirements
                    fi
                done
                ;;
            integration)
                if [[ -n "${ESPALIER_URL:-}" && -n "${ESPALIER_TOKEN:-}" ]]; then
                    write_integration_config
                    for release in $(integration_cores); do
                        [[ -n "${core_bin[$release]:-}" ]] || { echo "integration: unknown core $release" >&2; exit 2; }
                        # shellcheck disable=SC2086  # a list of target names
                        run_step "integration, ansible-core $release" core_test "$release" integration --continue-on-error \
                            ${ESPALIER_INTEGRATION_TARGETS:-}
                    done
                else
                    summary+=("integration: skipped (set ESPALIER_URL and ESPALIER_TOKEN)")
                fi
                ;;
            lint)
                run_step "ansible-lint and changelog lint" lint
                ;;
            *)
                echo "unknown step: $step (artifact, sanity, units, integration, lint)" >&2
                exit 2
                ;;
        esac
    done

    log "summary"
    printf '%s\n' "${summary[@]}"
    echo "ansible: $passed passed, $failed failed"
    [[ $failed -eq 0 ]]
}

main "$@"
