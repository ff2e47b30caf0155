"""Permission codenames, named as in Zentral (``app.action_model``), and the built-in roles."""
from __future__ import annotations

_MODELS = ("enrolleddevice", "devicecommand", "pushcertificate", "otaenrollment", "blueprint",
           "depvirtualserver", "depdevice", "location", "locationasset", "softwareupdate", "softwareupdateenforcement",
           "enrolleduser", "artifact", "blueprintartifact", "profile", "deviceartifact", "declaration",
           "filevaultconfig", "recoverypasswordconfig", "depenrollment", "storeapp")
_INVENTORY_MODELS = ("tag", "taxonomy", "machinetag")
_ACTIONS = ("view", "add", "change", "delete")

# Escrowed secrets: only these reveal them.
SECRET_READS = frozenset({"mdm.view_filevault_prk", "mdm.view_recovery_password", "mdm.view_bootstrap_token",
                          "mdm.view_admin_password"})  # the last: the ADE macOS admin account's (Espalier's)
# Hand-written commands (CustomCommand, InstallProfile with any profile) can ask a device for
# anything, an escrowed key included: a permission of their own, outside the operator role.
RAW_COMMANDS = "mdm.add_raw_devicecommand"
# Enrollment secrets and links: whoever holds one can enroll a device.
ENROLLMENT_SECRETS = "mdm.view_enrollment_secret"
# The stored audit events (who revealed which secret, who released which device): Espalier's own.
VIEW_AUDIT_EVENTS = "mdm.view_auditevent"
# Recovery password configurations show their static password (as in Zentral): not for viewers.
_PASSWORD_READS = frozenset({"mdm.view_recoverypasswordconfig"})
# Disowning a DEP device is irreversible at Apple: Zentral's permission of its own.
DISOWN_DEP_DEVICE = "mdm.disown_depdevice"

PERMISSIONS: frozenset[str] = frozenset(
    {f"mdm.{action}_{model}" for model in _MODELS for action in _ACTIONS}
    | {f"inventory.{action}_{model}" for model in _INVENTORY_MODELS for action in _ACTIONS}
    | SECRET_READS | {RAW_COMMANDS, ENROLLMENT_SECRETS, VIEW_AUDIT_EVENTS, DISOWN_DEP_DEVICE}
)

# Secrets are never part of a role by accident: viewers see no keys, passwords or enrollment links.
ROLES: dict[str, frozenset[str]] = {
    "admin": PERMISSIONS,
    "operator": frozenset(p for p in PERMISSIONS if p not in SECRET_READS and p not in (RAW_COMMANDS, DISOWN_DEP_DEVICE)),
    "viewer": frozenset(p for p in PERMISSIONS if p.startswith(("mdm.view_", "inventory.view_"))
                        and p not in SECRET_READS | _PASSWORD_READS and p != ENROLLMENT_SECRETS),
}


def expand(permissions: list[str] | tuple[str, ...] = (), roles: list[str] | tuple[str, ...] = ()) -> set[str]:
    """The set of codenames for the given permissions and roles; unknown names raise ValueError."""
    out: set[str] = set()
    for role in roles:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r} (known: {', '.join(sorted(ROLES))})")
        out |= ROLES[role]
    for perm in permissions:
        if perm not in PERMISSIONS:
            raise ValueError(f"unknown permission {perm!r}")
        out.add(perm)
    return out
