"""/api/mdm/filevault_configs/ and /api/mdm/recovery_password_configs/ (Zentral's routes and shapes)."""
from __future__ import annotations

from espalier.services import security_configs as svc
from espalier.web import runtime

from . import operation, refusal
from .pagination import NameQuery, paginate_list
from .schemas import FileVaultConfig, FileVaultConfigIn, RecoveryPasswordConfig, RecoveryPasswordConfigIn, dump


@operation("GET", "/mdm/filevault_configs/", "mdm.view_filevaultconfig", query=NameQuery,
           response=[FileVaultConfig], paginated=True)
def filevault_config_list(s, query: NameQuery):
    """FileVault configurations; filter ``name``."""
    return paginate_list([dump(FileVaultConfig, c) for c in svc.list_filevault(s, query.name or None)], query), 200


@operation("POST", "/mdm/filevault_configs/", "mdm.add_filevaultconfig", body=FileVaultConfigIn,
           response=FileVaultConfig, status=201)
def filevault_config_create(s, body: FileVaultConfigIn):
    """Create a FileVault configuration."""
    return dump(FileVaultConfig, svc.save_filevault(s, runtime(), body.model_dump(exclude_unset=True))), 201


@operation("GET", "/mdm/filevault_configs/<int:config_id>/", "mdm.view_filevaultconfig", response=FileVaultConfig)
def filevault_config_detail(s, config_id: int):
    """One FileVault configuration."""
    return dump(FileVaultConfig, svc.get_filevault(s, config_id)), 200


@operation("PUT", "/mdm/filevault_configs/<int:config_id>/", "mdm.change_filevaultconfig", body=FileVaultConfigIn,
           response=FileVaultConfig)
def filevault_config_update(s, config_id: int, body: FileVaultConfigIn):
    """Update a FileVault configuration; the Macs of its blueprints reinstall the profile if it changed."""
    return dump(FileVaultConfig, svc.save_filevault(s, runtime(), body.model_dump(exclude_unset=True),
                                                    config_id)), 200


@operation("DELETE", "/mdm/filevault_configs/<int:config_id>/", "mdm.delete_filevaultconfig", status=204,
           extra={"responses": refusal("a blueprint uses the configuration")})
def filevault_config_delete(s, config_id: int):
    """Delete a FileVault configuration no blueprint uses."""
    svc.delete_filevault(s, config_id)
    return None, 204


def _recovery(s, config) -> dict:
    return dump(RecoveryPasswordConfig, config, static_password=svc.static_password(runtime().secrets, config))


@operation("GET", "/mdm/recovery_password_configs/", "mdm.view_recoverypasswordconfig", query=NameQuery,
           response=[RecoveryPasswordConfig], paginated=True)
def recovery_password_config_list(s, query: NameQuery):
    """Recovery password configurations; filter ``name``."""
    return paginate_list([_recovery(s, c) for c in svc.list_recovery(s, query.name or None)], query), 200


@operation("POST", "/mdm/recovery_password_configs/", "mdm.add_recoverypasswordconfig",
           body=RecoveryPasswordConfigIn, response=RecoveryPasswordConfig, status=201)
def recovery_password_config_create(s, body: RecoveryPasswordConfigIn):
    """Create a recovery password configuration."""
    return _recovery(s, svc.save_recovery(s, runtime(), body.model_dump(exclude_unset=True))), 201


@operation("GET", "/mdm/recovery_password_configs/<int:config_id>/", "mdm.view_recoverypasswordconfig",
           response=RecoveryPasswordConfig)
def recovery_password_config_detail(s, config_id: int):
    """One recovery password configuration."""
    return _recovery(s, svc.get_recovery(s, config_id)), 200


@operation("PUT", "/mdm/recovery_password_configs/<int:config_id>/", "mdm.change_recoverypasswordconfig",
           body=RecoveryPasswordConfigIn, response=RecoveryPasswordConfig)
def recovery_password_config_update(s, config_id: int, body: RecoveryPasswordConfigIn):
    """Update a recovery password configuration."""
    return _recovery(s, svc.save_recovery(s, runtime(), body.model_dump(exclude_unset=True), config_id)), 200


@operation("DELETE", "/mdm/recovery_password_configs/<int:config_id>/", "mdm.delete_recoverypasswordconfig",
           status=204, extra={"responses": refusal("a blueprint uses the configuration")})
def recovery_password_config_delete(s, config_id: int):
    """Delete a recovery password configuration no blueprint uses."""
    svc.delete_recovery(s, config_id)
    return None, 204
