#!/usr/bin/env bash
# The collection's playbooks and the devices inventory, run as a user runs them: ansible-playbook
# with an inventory directory. The server comes from tests/integration/integration_config.yml, as
# for the other targets (ansible-test passes it to roles, not to scripts); "$@" is -v... if any.
set -eux

config=$(cd ../.. && pwd)/integration_config.yml
if [[ -f "$config" ]]; then
    set -- "$@" -e "@$config"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/espalier-playbooks.XXXXXX")
trap 'rm -rf "$work"' EXIT
recap() { grep -E '^localhost +:' "$1"; }

ansible-playbook setup.yml -e "work=$work" "$@"
# shellcheck disable=SC1091
source "$work/serials.sh"

# fleet.yml: the lists in host_vars/localhost.yml next to the inventory reach the play.
ansible-playbook -i "$work/inventory" espalier.mdm.fleet "$@" | tee "$work/fleet1.log"
recap "$work/fleet1.log" | grep -q 'changed=1 '
ansible-playbook -i "$work/inventory" espalier.mdm.fleet "$@" | tee "$work/fleet2.log"
recap "$work/fleet2.log" | grep -q 'changed=0 '
ansible-playbook verify_blocked.yml -e "serial=$BLOCK_SERIAL" -e blocked=true "$@"
# extra vars win over host_vars: unblock again
ansible-playbook -i "$work/inventory" espalier.mdm.fleet "$@" \
    -e "{\"espalier_blocked_devices\": [], \"espalier_unblocked_devices\": [\"$BLOCK_SERIAL\"]}"
ansible-playbook verify_blocked.yml -e "serial=$BLOCK_SERIAL" -e blocked=false "$@"

# fleet.yml, the whole fleet: --check --diff plans it and writes nothing, a run converges the Mac, a
# second run changes nothing; purge takes away what the smaller declaration drops (the profile only
# once the Mac removed it), and the empty one deletes the blueprint.
fleet() { ansible-playbook -i "$work/inventory" espalier.mdm.fleet -e "@$work/fleet/$1.yml" "${@:2}"; }
verify() { ansible-playbook verify_fleet.yml -e "mac_serial=$MAC_SERIAL" -e "state=$1" "${@:2}"; }
fleet full --check --diff "$@" | tee "$work/plan.log"
! recap "$work/plan.log" | grep -q 'changed=0 '
grep -q 'Playbook Wi-Fi' "$work/plan.log"
verify planned "$@"
fleet full "$@" | tee "$work/full1.log"
! recap "$work/full1.log" | grep -q 'changed=0 '
verify present "$@"
fleet full "$@" | tee "$work/full2.log"
recap "$work/full2.log" | grep -q 'changed=0 '
fleet full --check "$@" | tee "$work/full3.log"
recap "$work/full3.log" | grep -q 'changed=0 '
# compliance.yml lists the profile the Mac refused, with the device's error
if ansible-playbook espalier.mdm.compliance "$@" -e "@$work/artifacts_policy.yml" >"$work/artifacts.log" 2>&1; then
    cat "$work/artifacts.log"
    exit 1
fi
grep -q "$MAC_SERIAL: Playbook broken version 1 failed: .*PayloadType" "$work/artifacts.log" || {
    cat "$work/artifacts.log"
    exit 1
}
grep -q "\b1 problem(s), listed" "$work/artifacts.log"
fleet smaller --check --diff "$@" | tee "$work/smaller_plan.log"
verify present "$@"
fleet smaller "$@" | tee "$work/smaller1.log"
verify detached "$@"
fleet smaller "$@" | tee "$work/smaller2.log"
verify purged "$@"
fleet smaller "$@" | tee "$work/smaller3.log"
recap "$work/smaller3.log" | grep -q 'changed=0 '
fleet empty "$@" | tee "$work/empty.log"
verify gone "$@"

# lost_device.yml: numbers are taken (a PIN that kept its 6 digits, a phone number)...
lost_vars="{\"serial_number\": \"$MAC_SERIAL\", \"lock_pin\": 123456, \"phone_number\": 4900000000, \"wait_timeout\": 120}"
ansible-playbook espalier.mdm.lost_device "$@" -e "$lost_vars"
# ...the lock is one-shot: the device acknowledged it, so a rerun of the play changes nothing...
ansible-playbook espalier.mdm.lost_device "$@" -e "$lost_vars" | tee "$work/lost2.log"
recap "$work/lost2.log" | grep -q 'changed=0 '
# ...and a PIN YAML turned into another number stops the play with the fix.
if ansible-playbook espalier.mdm.lost_device "$@" -e "@$work/octal.yml" >"$work/octal.log" 2>&1; then
    cat "$work/octal.log"
    exit 1
fi
grep -q 'Quote the PIN' "$work/octal.log"
recap "$work/octal.log" | grep -q 'failed=1'

# compliance.yml: each problem is listed once; exempt devices are not checked.
if ansible-playbook espalier.mdm.compliance "$@" -e "@$work/strict_policy.yml" >"$work/strict.log" 2>&1; then
    cat "$work/strict.log"
    exit 1
fi
[[ $(grep -c "$MAC_SERIAL: macOS .* is older than 99.0" "$work/strict.log") == 1 ]]
grep -q 'problem(s), listed in the task above' "$work/strict.log"
ansible-playbook espalier.mdm.compliance "$@" -e "@$work/exempt_policy.yml" | tee "$work/exempt.log"
grep -q '0 device(s) checked, all compliant' "$work/exempt.log"

# The devices inventory: groups with the prefix, device_facts as the facts module of gather_facts,
# and the inventory's connection handed to the modules through module_defaults.
ansible-playbook -i "$work/devices/espalier.yml" inventory_facts.yml -e "mac_serial=$MAC_SERIAL" "$@"
