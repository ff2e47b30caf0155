"""The JSON shapes of the API, one model each, field for field as Zentral serializes them.

Each response model names its fields once: ``dump(Model, row, **computed)`` reads them from
an ORM row (a field's ``validation_alias`` names the attribute when it differs) and takes
computed values from the caller. ``device()`` does the same for the Device shape, from a row
or from the columns a listing selects (``DEVICE_COLUMNS``), so a page of devices builds no
ORM object. Dates and times stay as they are in both: ``json_response`` writes them as
Zentral's ISO 8601 without offset. The same models make the OpenAPI document.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

from espalier.mdm.commands import device_lock, erase_device
from espalier.models import EnrolledDevice
from espalier.models.blueprints import ARTIFACT_TYPES, CHANNELS, COLLECTION_OPTIONS, PLATFORMS, REINSTALL_ON_OS_UPDATE
from espalier.models.enrollments import ATTESTATIONS
from espalier.validation import (Bool, Dict, Schema, char, choice, choice_list, int_choice, int_list, integer,
                                 naive_datetime, pk_list, time_of_day, url, uuid_pk)


class Out(BaseModel):
    """A response shape (documentation and field list; rows are dumped without validation)."""


def dump(model: type[Out], row: Any, **computed) -> dict:
    out = {}
    for name, info in model.model_fields.items():
        if name in computed:
            value = computed[name]
        else:
            value = getattr(row, info.validation_alias if isinstance(info.validation_alias, str) else name)
        out[name] = value
    return out


# -- common --------------------------------------------------------------------------------

class Detail(Out):
    detail: str


class TaskRef(Out):
    task_id: str
    task_result_url: str


def task_ref(task) -> dict:
    return {"task_id": task.id, "task_result_url": f"/api/task_result/{task.id}/"}


# -- devices -------------------------------------------------------------------------------

class Device(Out):
    id: int
    udid: str
    serial_number: str | None
    name: str | None
    model: str | None
    platform: str | None
    os_version: str = Field(description='"" when not known yet, as in Zentral')
    build_version: str = Field(description='"" when not known yet, as in Zentral')
    apple_silicon: bool | None
    cert_not_valid_after: str | None
    blueprint: int | None = Field(validation_alias="blueprint_id")
    awaiting_configuration: bool | None
    declarative_management: bool
    dep_enrollment: bool | None
    user_enrollment: bool | None
    user_approved_enrollment: bool | None
    supervised: bool | None
    bootstrap_token_escrowed: bool
    filevault_enabled: bool | None
    filevault_prk_escrowed: bool
    recovery_password_escrowed: bool
    activation_lock_manageable: bool | None
    pin_required_for_erase: bool = Field(description="EraseDevice needs a pin on this device (Espalier's)")
    pin_required_for_lock: bool = Field(description="DeviceLock needs a pin on this device (Espalier's)")
    last_seen_at: str | None
    last_notified_at: str | None
    checkout_at: str | None
    blocked_at: str | None
    released_at: str | None = Field(description="when the device was released: the next enrollment of its UDID "
                                                "may take it over (Espalier's)")
    created_at: str
    updated_at: str


# What the Device shape reads, field by field: the EnrolledDevice attribute of the field's
# name (or its validation_alias), a column or an SQL-capable hybrid (the escrowed flags), so
# a listing selects exactly these and builds no ORM object. The pin fields read the stored
# values their rules start from.
_DEVICE_FIELDS = tuple(Device.model_fields)
_DEVICE_ATTRS = tuple(info.validation_alias if isinstance(info.validation_alias, str) else name
                      for name, info in Device.model_fields.items())
DEVICE_COLUMNS = tuple(getattr(EnrolledDevice, attr).label(attr) for attr in _DEVICE_ATTRS)
_device_values = attrgetter(*_DEVICE_ATTRS)


def device(d) -> dict:
    """The Device JSON of an EnrolledDevice, or of a row of ``DEVICE_COLUMNS`` (a SQLAlchemy or a
    ``HotStatement`` row: the same attributes, in that order)."""
    out = dict(zip(_DEVICE_FIELDS, _device_values(d) if isinstance(d, EnrolledDevice) else d))
    out["os_version"] = out["os_version"] or ""
    out["build_version"] = out["build_version"] or ""
    out["pin_required_for_erase"] = erase_device.pin_required(d)
    out["pin_required_for_lock"] = device_lock.pin_required(d)
    return out


class Command(Out):
    id: int
    uuid: str
    enrolled_device: int = Field(validation_alias="enrolled_device_id")
    name: str
    artifact_version: str | None
    artifact_operation: str | None
    not_before: str | None
    time: str | None
    result: Any = None
    result_time: str | None
    status: str | None
    error_chain: list | None
    created_at: str
    updated_at: str
    request_hash: str | None = Field(description="equal for the same RequestType and arguments (Espalier's)")


class CommandPreview(Out):
    name: str
    enrolled_device: int
    request_hash: str


class DryRun(Out):
    dry_run: bool
    command: CommandPreview


class BlockedDevice(Out):
    id: int
    serial_number: str | None
    udid: str | None
    reason: str | None
    created_at: str


class BlockedDeviceIn(Schema):
    serial_number: char(64) = None
    udid: char(64) = None
    reason: char(256) = None


class TokenInfo(Out):
    user: str
    token_prefix: str
    name: str
    permissions: list[str]
    created_at: str


def command(c) -> dict:
    return dump(Command, c)


class FileVaultPRK(Out):
    id: int
    serial_number: str | None
    filevault_prk: str | None


class RecoveryPassword(Out):
    id: int
    serial_number: str | None
    recovery_password: str | None


class AdminPassword(Out):
    """Espalier's: the password of the admin account ADE's AccountConfiguration created."""

    id: int
    serial_number: str | None
    admin_short_name: str | None
    admin_password: str | None


# -- enrollments and push certificates -----------------------------------------------------

class OtaEnrollment(Out):
    id: int
    name: str
    display_name: str
    push_certificate: int | None = Field(validation_alias="push_certificate_id")
    blueprint: int | None = Field(validation_alias="blueprint_id")
    identity_source: str
    attestation: str
    scep_url: str | None
    reusable: bool
    quota: int | None
    secret: str | None = Field(description="null without mdm.view_enrollment_secret")
    enroll_url: str | None = Field(description="null without mdm.view_enrollment_secret")
    secret_used_at: str | None
    created_at: str
    updated_at: str


def ota_enrollment(e, secret: str | None, base_url: str) -> dict:
    return dump(OtaEnrollment, e, secret=secret,
                enroll_url=f"{base_url}/public/enroll/{secret}/" if secret else None)


class PushCertificate(Out):
    id: int
    name: str
    topic: str
    not_before: str
    not_after: str
    days_left: int
    expiring: bool
    status: str
    status_message: str | None
    certificate: str
    created_at: str
    updated_at: str


def push_certificate(pc) -> dict:
    return dump(PushCertificate, pc, days_left=pc.days_left(), expiring=pc.is_expiring(), status=pc.state())


class DEPVirtualServer(Out):
    id: int
    name: str
    uuid: str
    default_enrollment: int | None = Field(validation_alias="default_enrollment_id",
                                           description="Espalier's: new devices are assigned this enrollment")
    created_at: str
    updated_at: str


def dep_virtual_server(vs) -> dict:
    return dump(DEPVirtualServer, vs)


class DEPDevice(Out):
    id: int
    virtual_server: int = Field(validation_alias="virtual_server_id")
    serial_number: str
    asset_tag: str | None
    color: str | None
    description: str | None
    device_family: str | None
    model: str | None
    os: str | None
    device_assigned_by: str | None
    device_assigned_date: str | None
    last_op_type: str | None
    last_op_date: str | None
    profile_status: str | None
    profile_uuid: str | None
    profile_assign_time: str | None
    profile_push_time: str | None
    enrollment: int | None = Field(validation_alias="enrollment_id")
    disowned_at: str | None
    created_at: str
    updated_at: str


def dep_device(d) -> dict:
    return dump(DEPDevice, d)


class DEPEnrollment(Out):
    id: int
    name: str
    display_name: str
    virtual_server: int = Field(validation_alias="virtual_server_id")
    push_certificate: int = Field(validation_alias="push_certificate_id")
    blueprint: int | None = Field(validation_alias="blueprint_id")
    enrollment_secret: dict
    use_realm_user: bool
    realm_user_is_admin: bool
    username_pattern: str
    realm: str | None
    acme_issuer: str | None
    scep_issuer: str | None
    is_supervised: bool
    is_mandatory: bool
    is_mdm_removable: bool
    is_multi_user: bool
    await_device_configured: bool
    auto_advance_setup: bool
    allow_pairing: bool
    include_tls_certificates: bool
    skip_setup_items: list[str]
    language: str
    region: str
    department: str
    org_magic: str
    support_phone_number: str
    support_email_address: str
    ios_min_version: str
    ios_max_version: str
    macos_min_version: str
    macos_max_version: str
    admin_full_name: str | None
    admin_short_name: str | None
    hidden_admin: bool
    admin_password_complexity: int
    admin_password_rotation_delay: int
    profile_uuid: str | None = Field(description="Espalier's: Apple's profile, once defined")
    defined_at: str | None
    secret: str | None = Field(description="null without mdm.view_enrollment_secret")
    enroll_url: str | None = Field(description="the profile's url at Apple; null without mdm.view_enrollment_secret")
    created_at: str
    updated_at: str


def dep_enrollment(e, secret: str | None, url: str | None) -> dict:
    return dump(DEPEnrollment, e, secret=secret, enroll_url=url, use_realm_user=False, realm_user_is_admin=False,
                username_pattern="", realm=None, acme_issuer=None, scep_issuer=None,
                enrollment_secret={"id": e.id, "secret": secret, "meta_business_unit": None, "tags": [],
                                   "serial_numbers": None, "udids": None, "quota": None, "request_count": 0})


class DEPToken(Out):
    """Espalier's: a server token's certificate (to upload to ABM) and its expiry; never its secrets."""

    id: int
    certificate: str
    virtual_server: int | None
    consumer_key: str | None
    access_token_expiry: str | None
    days_left: int | None
    expiring: bool
    expired: bool
    created_at: str
    updated_at: str


def dep_token(t, virtual_server_id: int | None) -> dict:
    return dump(DEPToken, t, virtual_server=virtual_server_id, days_left=t.days_left(), expiring=t.is_expiring(),
                expired=t.is_expired())


class DEPDisownResult(Out):
    result: str | None = None
    error: str | None = None


class Location(Out):
    id: int
    server_token_expiration_date: str
    organization_name: str
    name: str
    country_code: str
    library_uid: str
    platform: str
    website_url: str
    mdm_info_id: str
    created_at: str | None
    updated_at: str | None
    days_left: int = Field(description="days before the token expires (Espalier's, as push certificates)")
    expiring: bool = Field(description="within 30 days of expiry, or expired (Espalier's)")


def location(loc) -> dict:
    return dump(Location, loc, days_left=loc.days_left(), expiring=loc.is_expiring())


class LocationIn(Schema):
    server_token: char(16 * 1024) = Field(description="the .vpptoken file's content (base64 of JSON)")
    force: Bool = Field(False, description="take over a location another MDM server manages (Espalier's)")


class LocationDryRun(Out):
    dry_run: bool
    action: str = Field(description="created, renewed or unchanged")
    changed: bool
    claimed_by: dict | None = Field(description="the mdmInfo Apple holds for the location now")
    location: Location


class LocationAsset(Out):
    id: int
    assigned_count: int
    available_count: int
    retired_count: int
    total_count: int
    created_at: str
    updated_at: str
    location: int = Field(validation_alias="location_id")
    asset: int = Field(validation_alias="asset_id")


# -- request shapes of the API routes (commands' own shapes live with each command) ----------

class OtaEnrollmentIn(Schema):
    """Create (name and push_certificate required) or update (any subset)."""

    name: char(256) = None
    display_name: char(256) = None
    push_certificate: integer(1) = None
    blueprint: integer(1, allow_null=True) = None
    identity_source: choice("builtin", "external") = None
    attestation: choice(*ATTESTATIONS) = None
    scep_url: char(1024, allow_null=True) = None
    scep_challenge: char(1024, allow_blank=True, allow_null=True) = None
    reusable: Bool = None
    quota: integer(1, allow_null=True) = None


class PushCertificateIn(Schema):
    name: char(256) = None
    certificate: char(64 * 1024)
    private_key: char(64 * 1024)
    private_key_password: char(1024, allow_blank=True, allow_null=True) = None
    force: Bool = Field(False, description="renew with a certificate that expires earlier (Espalier's)")


# Apple's Setup Assistant skip keys (apple/device-management other/skipkeys.yaml), current and retired
DEP_SKIP_KEYS = (
    "Accessibility", "ActionButton", "Android", "Appearance", "AppleID", "AppStore", "Biometric", "CameraButton",
    "DeviceToDeviceMigration", "Diagnostics", "DisplayTone", "EnableLockdownMode", "ExpressLanguage", "FileVault",
    "HomeButtonSensitivity", "iCloudDiagnostics", "iCloudStorage", "iMessageAndFaceTime", "Intelligence", "Keyboard",
    "Location", "MessagingActivationUsingPhoneNumber", "Multitasking", "OnBoarding", "OSShowcase", "Passcode",
    "Payment", "PreferredLanguage", "Privacy", "Registration", "Restore", "RestoreCompleted", "Safety",
    "ScreenSaver", "ScreenTime", "SIMSetup", "Siri", "SoftwareUpdate", "SpokenLanguage", "TapToSetup",
    "TermsOfAddress", "TOS", "TVHomeScreenSync", "TVProviderSignIn", "TVRoom", "UnlockWithWatch",
    "UpdateCompleted", "Wallpaper", "WatchMigration", "Welcome", "Zoom",
)


class DEPEnrollmentSecretIn(Schema):
    """Zentral's enrollment secret: Espalier has no business units or secret scopes, so only
    their empty values are taken."""

    meta_business_unit: integer(0, allow_null=True) = None
    tags: int_list(allow_empty=True) = None
    serial_numbers: Any = None
    udids: Any = None
    quota: Any = None


class DEPEnrollmentIn(Schema):
    """Zentral's DEP enrollment fields (create: name, push_certificate, virtual_server required)."""

    name: char(256) = None
    display_name: char(256) = None
    virtual_server: integer(1) = None
    push_certificate: integer(1) = None
    blueprint: integer(1, allow_null=True) = None
    enrollment_secret: DEPEnrollmentSecretIn | None = None
    is_supervised: Bool = None
    is_mandatory: Bool = None
    is_mdm_removable: Bool = None
    is_multi_user: Bool = None
    await_device_configured: Bool = None
    auto_advance_setup: Bool = None
    allow_pairing: Bool = None
    include_tls_certificates: Bool = None
    skip_setup_items: choice_list(*DEP_SKIP_KEYS) = None
    language: char(3, allow_blank=True, pattern=r"[a-z]{2,3}|") = None
    region: char(2, allow_blank=True, pattern=r"[A-Z]{2}|") = None
    department: char(125, allow_blank=True) = None
    org_magic: char(256, allow_blank=True) = None
    support_phone_number: char(50, allow_blank=True) = None
    support_email_address: char(250, allow_blank=True) = None
    ios_min_version: char(32, allow_blank=True) = None
    ios_max_version: char(32, allow_blank=True) = None
    macos_min_version: char(32, allow_blank=True) = None
    macos_max_version: char(32, allow_blank=True) = None
    admin_full_name: char(80, allow_null=True, allow_blank=True) = None
    admin_short_name: char(32, allow_null=True, allow_blank=True, pattern=r"[a-z_][a-z0-9_.-]{0,31}|") = None
    hidden_admin: Bool = None
    admin_password_complexity: integer(1, 3) = None
    admin_password_rotation_delay: integer(0, 719) = None
    # Zentral's realms and issuers: Espalier authenticates no realm user and issues with its own CA
    use_realm_user: Bool = None
    realm_user_is_admin: Bool = None
    username_pattern: char(256, allow_blank=True) = None
    realm: char(64, allow_null=True, allow_blank=True) = None
    acme_issuer: char(64, allow_null=True, allow_blank=True) = None
    scep_issuer: char(64, allow_null=True, allow_blank=True) = None


class DEPVirtualServerIn(Schema):
    default_enrollment: integer(1, allow_null=True) = Field(description="the enrollment new devices are assigned")


class DEPDeviceIn(Schema):
    enrollment: integer(1) = Field(description="assign this DEP enrollment's profile to the device")


class DEPTokenUploadIn(Schema):
    token: char(64 * 1024) = Field(description="the content of the *_smime.p7m downloaded from ABM/ASM")


class NotifyIn(Schema):
    devices: int_list(max_length=10_000)


class CommandIn(Schema):
    name: char(64) = Field(description="the RequestType")
    arguments: Dict = Field(default_factory=dict)


# -- blueprints, artifacts, profiles, tags ---------------------------------------------------

class Blueprint(Out):
    id: int
    name: str
    inventory_interval: int
    collect_apps: int
    collect_certificates: int
    collect_profiles: int
    legacy_profiles_via_ddm: bool
    filevault_config: int | None = Field(validation_alias="filevault_config_id")
    recovery_password_config: int | None = Field(validation_alias="recovery_password_config_id")
    software_update_enforcements: list[int] = Field(description="ids of software update enforcements")
    created_at: str
    updated_at: str


class BlueprintIn(Schema):
    name: char(256)
    inventory_interval: integer(14400, 604800) = None
    collect_apps: int_choice(*COLLECTION_OPTIONS) = None
    collect_certificates: int_choice(*COLLECTION_OPTIONS) = None
    collect_profiles: int_choice(*COLLECTION_OPTIONS) = None
    legacy_profiles_via_ddm: Bool = None
    software_update_enforcements: pk_list() = None
    filevault_config: integer(1, allow_null=True) = Field(None, description="null: none; absent: unchanged")
    recovery_password_config: integer(1, allow_null=True) = Field(None, description="null: none; absent: unchanged")


# -- FileVault and recovery password configurations, audit events ------------------------------

class FileVaultConfig(Out):
    id: int
    name: str
    escrow_location_display_name: str
    at_login_only: bool
    bypass_attempts: int
    show_recovery_key: bool
    destroy_key_on_standby: bool
    prk_rotation_interval_days: int
    created_at: str
    updated_at: str


class FileVaultConfigIn(Schema):
    """Absent fields: the model's default at creation, unchanged on update."""

    name: char(256)
    escrow_location_display_name: char(256)
    at_login_only: Bool = None
    bypass_attempts: integer(-1, 9999) = None
    show_recovery_key: Bool = None
    destroy_key_on_standby: Bool = None
    prk_rotation_interval_days: integer(0, 365) = None


class RecoveryPasswordConfig(Out):
    id: int
    name: str
    dynamic_password: bool
    static_password: str | None
    rotation_interval_days: int
    rotate_firmware_password: bool
    created_at: str
    updated_at: str


class RecoveryPasswordConfigIn(Schema):
    """Absent fields: the model's default at creation, unchanged on update; but an absent
    ``static_password`` clears it, as Zentral's update does."""

    name: char(256)
    dynamic_password: Bool = None
    static_password: char(256, allow_null=True) = None
    rotation_interval_days: integer(0, 365) = None
    rotate_firmware_password: Bool = None


class AuditEvent(Out):
    id: int
    action: str
    token_id: int | None
    user_id: int | None
    username: str | None
    object_type: str
    object_id: str
    details: dict
    created_at: str


class Artifact(Out):
    id: str
    name: str
    type: str
    channel: str
    platforms: list[str]
    requires: list[str]
    install_during_setup_assistant: bool
    auto_update: bool
    reinstall_interval: int
    reinstall_on_os_update: str
    created_at: str
    updated_at: str


class ArtifactIn(Schema):
    name: char(256)
    type: choice(*ARTIFACT_TYPES)
    channel: choice(*CHANNELS)
    platforms: choice_list(*PLATFORMS) = None
    requires: pk_list(uuid=True) = None
    install_during_setup_assistant: Bool = None
    auto_update: Bool = None
    reinstall_interval: integer(0, 366) = None
    reinstall_on_os_update: choice(*REINSTALL_ON_OS_UPDATE) = None


class TagShard(Out):
    tag: int
    shard: int


class TagShardIn(Schema):
    tag: integer(1)
    shard: integer(1, 100)


class FilteredItem(Out):
    ios: bool
    ios_min_version: str
    ios_max_version: str
    ipados: bool
    ipados_min_version: str
    ipados_max_version: str
    macos: bool
    macos_min_version: str
    macos_max_version: str
    tvos: bool
    tvos_min_version: str
    tvos_max_version: str
    shard_modulo: int
    default_shard: int
    excluded_tags: list[int]
    tag_shards: list[TagShard]


# Nested request lists are documented inline (no $ref).
_TAG_SHARDS = {"type": "array", "maxItems": 1000, "items": {
    "type": "object", "required": ["tag", "shard"], "properties": {
        "tag": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
        "shard": {"type": "integer", "minimum": 1, "maximum": 100}}}}
# The operations as prose: schemathesis' generator fails on their nested shape (a CPython 3.11
# ast recursion error inside hypothesis), the server validates them all the same.
_OPERATIONS = {"type": "array", "minItems": 1, "maxItems": 100, "items": {
    "type": "object", "description": '{"kind": "ADD" | "REMOVE" | "SET", "taxonomy": name or null, '
                                     '"names": [up to 1000 tag names of up to 50 characters]}'}}


class FilteredItemIn(Schema):
    ios: Bool = False
    ios_min_version: char(32, allow_blank=True) = ""
    ios_max_version: char(32, allow_blank=True) = ""
    ipados: Bool = False
    ipados_min_version: char(32, allow_blank=True) = ""
    ipados_max_version: char(32, allow_blank=True) = ""
    macos: Bool = False
    macos_min_version: char(32, allow_blank=True) = ""
    macos_max_version: char(32, allow_blank=True) = ""
    tvos: Bool = False
    tvos_min_version: char(32, allow_blank=True) = ""
    tvos_max_version: char(32, allow_blank=True) = ""
    shard_modulo: integer(1, 100) = 100
    default_shard: integer(0, 100) = 100
    excluded_tags: pk_list(max_length=1000) = Field(default_factory=list)
    tag_shards: Annotated[list[TagShardIn], WithJsonSchema(_TAG_SHARDS)] = Field(default_factory=list, max_length=1000)


class BlueprintArtifact(FilteredItem):
    id: int
    blueprint: int = Field(validation_alias="blueprint_id")
    artifact: str = Field(validation_alias="artifact_id")
    created_at: str
    updated_at: str


class BlueprintArtifactIn(FilteredItemIn):
    blueprint: integer(1)
    artifact: uuid_pk()


class ProfileOut(FilteredItem):
    id: str = Field(validation_alias="artifact_version_id")
    artifact: str
    version: int
    created_at: str
    updated_at: str
    source: str = Field(description="base64 of the .mobileconfig as uploaded")


class ProfileIn(FilteredItemIn):
    artifact: uuid_pk()
    version: integer(1)
    source: char(4 * 1024 * 1024) = Field(description="base64 of the .mobileconfig (signed or not)")


class DeclarationOut(FilteredItem):
    id: str = Field(validation_alias="artifact_version_id")
    artifact: str
    version: int
    type: str
    identifier: str
    server_token: str
    source: dict = Field(description="the declaration as stored: Type, Identifier, Payload (no ServerToken)")
    created_at: str
    updated_at: str


class DeclarationIn(FilteredItemIn):
    artifact: uuid_pk()
    version: integer(1)
    source: Dict = Field(description='{"Type": "com.apple.<kind>.…", "Identifier": "…", "Payload": {…}}; '
                                     "a ServerToken is ignored (the server computes it)")


_UUID_TEXT = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


class StoreAppOut(FilteredItem):
    id: str = Field(validation_alias="artifact_version_id")
    artifact: str
    version: int
    location_asset: int = Field(validation_alias="location_asset_id")
    associated_domains: list[str]
    associated_domains_enable_direct_downloads: bool
    configuration: str | None = Field(description="the managed app configuration: a plist dictionary, as text")
    content_filter_uuid: str | None
    dns_proxy_uuid: str | None
    vpn_uuid: str | None
    prevent_backup: bool
    removable: bool
    remove_on_unenroll: bool
    created_at: str
    updated_at: str


class StoreAppIn(FilteredItemIn):
    artifact: uuid_pk()
    version: integer(1)
    location_asset: integer(1)
    associated_domains: Annotated[list[char(256)], Field(max_length=100)] = Field(default_factory=list)
    associated_domains_enable_direct_downloads: Bool = False
    configuration: char(256 * 1024, allow_blank=True, allow_null=True) = None
    content_filter_uuid: char(36, allow_null=True, allow_blank=True, pattern=_UUID_TEXT) = None
    dns_proxy_uuid: char(36, allow_null=True, allow_blank=True, pattern=_UUID_TEXT) = None
    vpn_uuid: char(36, allow_null=True, allow_blank=True, pattern=_UUID_TEXT) = None
    prevent_backup: Bool = False
    removable: Bool = False
    remove_on_unenroll: Bool = True


class DeviceDeclaration(Out):
    identifier: str
    kind: str
    server_token: str
    valid: str
    active: bool
    reasons: list | None
    updated_at: str


class Tag(Out):
    id: int
    taxonomy: int | None = Field(validation_alias="taxonomy_id")
    meta_business_unit: int | None
    name: str
    color: str


class TagIn(Schema):
    taxonomy: integer(1, allow_null=True) = None
    meta_business_unit: integer(1, allow_null=True) = None
    name: char(50)
    color: char(6, pattern="[0-9a-fA-F]{6}") = None


class MachineTagOperation(Schema):
    kind: choice("ADD", "REMOVE", "SET")
    taxonomy: char(256, allow_null=True) = None
    names: Annotated[list[char(50)], Field(max_length=1000)]


class MachineTagsIn(Schema):
    serial_numbers: Annotated[list[char(64)], Field(min_length=1, max_length=10_000), WithJsonSchema(
        {"type": "array", "minItems": 1, "maxItems": 10_000, "items": {"type": "string", "maxLength": 64}})]
    operations: Annotated[list[MachineTagOperation], Field(min_length=1, max_length=100), WithJsonSchema(_OPERATIONS)]


class MachineTags(Out):
    serial_number: str
    tags: list[Tag]


class MachineTagsResult(Out):
    machines: dict = Field(description='{"found": n}')
    tags: dict = Field(description='{"added": n, "removed": n}')


class DeviceArtifact(Out):
    id: int
    enrolled_device: int = Field(validation_alias="enrolled_device_id")
    artifact: str = Field(validation_alias="artifact_id")
    artifact_version: str = Field(validation_alias="artifact_version_id")
    operation: str
    status: str
    error_chain: list | None
    created_at: str
    updated_at: str


class ArtifactVersionStatus(Out):
    artifact_version: str
    counts: dict = Field(description="devices by status: pending, installed, failed, removed")


class DeviceBlueprintIn(Schema):
    blueprint: integer(1, allow_null=True)


def artifact(a) -> dict:
    return dump(Artifact, a)


def blueprint_artifact(item) -> dict:
    return dump(BlueprintArtifact, item)


def declaration(d, source: dict) -> dict:
    v = d.artifact_version
    return dump(DeclarationOut, v, id=v.id, artifact=v.artifact_id, type=d.type, identifier=d.identifier,
                server_token=d.server_token, source=source)


def store_app(a, configuration: str | None) -> dict:
    v = a.artifact_version
    return dump(StoreAppOut, v, id=v.id, artifact=v.artifact_id, location_asset=a.location_asset_id,
                configuration=configuration, **{f: getattr(a, f) for f in (
                    "associated_domains", "associated_domains_enable_direct_downloads", "content_filter_uuid",
                    "dns_proxy_uuid", "vpn_uuid", "prevent_backup", "removable", "remove_on_unenroll")})


def profile(p, source: str) -> dict:
    v = p.artifact_version
    return dump(ProfileOut, v, id=v.id, artifact=v.artifact_id, source=source)


# -- software updates ----------------------------------------------------------------------

class SoftwareUpdate(Out):
    id: int
    platform: str
    major: int
    minor: int
    patch: int
    extra: str
    prerequisite_build: str
    build: str
    public: bool
    posting_date: str
    expiration_date: str | None
    supported_devices: list[str] = Field(description="SoftwareUpdateDeviceID values the update is offered to")
    created_at: str
    updated_at: str


class SoftwareUpdateEnforcement(Out):
    id: int
    name: str
    details_url: str
    platforms: list[str]
    tags: list[int]
    max_os_version: str
    delay_days: int | None
    local_time: str | None
    os_version: str
    build_version: str
    local_datetime: str | None
    created_at: str
    updated_at: str


class SoftwareUpdateEnforcementIn(Schema):
    name: char(256)
    details_url: url(200) = None
    platforms: choice_list(*PLATFORMS)
    tags: pk_list() = None
    max_os_version: char(32, allow_blank=True) = None
    delay_days: integer(0, allow_null=True) = None
    local_time: time_of_day(allow_null=True) = None
    os_version: char(32, allow_blank=True) = None
    build_version: char(32, allow_blank=True) = None
    local_datetime: naive_datetime(allow_null=True) = None


class DeviceBelowTarget(Out):
    id: int
    serial_number: str | None
    udid: str
    platform: str | None
    os_version: str | None
    build_version: str | None
    target_os_version: str
    target_build_version: str
    target_local_datetime: str
    install_state: str | None
    pending_os_version: str | None
    pending_build_version: str | None
    failure_reason: Any = None
    install_reason: Any = None
    reported_at: str | None


def software_update_enforcement(e, tag_ids: list[int]) -> dict:
    return dump(SoftwareUpdateEnforcement, e, tags=tag_ids)


def software_update(su, device_ids: list[str]) -> dict:
    return dump(SoftwareUpdate, su, supported_devices=device_ids)
