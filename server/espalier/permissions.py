"""Permission codenames, named as in Zentral (``app.action_model``), and the built-in roles."""
from __future__ import annotations

_MODELS = ("enrolleddevice", "devicecommand", "pushcertificate", "otaenrollment", "blueprint",
           "depvirtualserver", "location", "locationasset", "softwareupdate", "enrolleduser")
_ACTIONS = ("view", "add", "change", "delete")

PERMISSIONS: frozenset[str] = frozenset(
    {f"mdm.{action}_{model}" for model in _MODELS for action in _ACTIONS}
    | {"mdm.view_filevault_prk", "mdm.view_recovery_password", "mdm.view_bootstrap_token"}
)

# Secrets are never part of a role by accident: viewers see no keys or passwords.
_SECRET_READS = {"mdm.view_filevault_prk", "mdm.view_recovery_password", "mdm.view_bootstrap_token"}
ROLES: dict[str, frozenset[str]] = {
    "admin": PERMISSIONS,
    "operator": frozenset(p for p in PERMISSIONS if p not in _SECRET_READS),
    "viewer": frozenset(p for p in PERMISSIONS if p.startswith("mdm.view_") and p not in _SECRET_READS),
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
