"""JSON shapes of the API objects, field for field as Zentral documents them; one place each."""
from __future__ import annotations

from datetime import datetime

from espalier.models import DeviceCommand, EnrolledDevice, OtaEnrollment, PushCertificate, TaskResult


def dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def device(d: EnrolledDevice) -> dict:
    return {
        "id": d.id, "udid": d.udid, "serial_number": d.serial_number, "name": d.name, "model": d.model,
        "platform": d.platform, "os_version": d.os_version, "build_version": d.build_version,
        "apple_silicon": d.apple_silicon, "cert_not_valid_after": dt(d.cert_not_valid_after),
        "blueprint": d.blueprint_id, "awaiting_configuration": d.awaiting_configuration,
        "declarative_management": d.declarative_management, "dep_enrollment": d.dep_enrollment,
        "user_enrollment": d.user_enrollment, "user_approved_enrollment": d.user_approved_enrollment,
        "supervised": d.supervised, "bootstrap_token_escrowed": d.bootstrap_token_escrowed,
        "filevault_enabled": d.filevault_enabled, "filevault_prk_escrowed": d.filevault_prk_escrowed,
        "activation_lock_manageable": d.activation_lock_manageable, "last_seen_at": dt(d.last_seen_at),
        "last_notified_at": dt(d.last_notified_at), "checkout_at": dt(d.checkout_at),
        "blocked_at": dt(d.blocked_at), "created_at": dt(d.created_at), "updated_at": dt(d.updated_at),
    }


def command(c: DeviceCommand) -> dict:
    return {
        "id": c.id, "uuid": c.uuid, "enrolled_device": c.enrolled_device_id, "name": c.name,
        "artifact_version": c.artifact_version, "artifact_operation": c.artifact_operation,
        "not_before": dt(c.not_before), "time": dt(c.time), "result": c.result,
        "result_time": dt(c.result_time), "status": c.status, "error_chain": c.error_chain,
        "created_at": dt(c.created_at), "updated_at": dt(c.updated_at),
    }


def ota_enrollment(e: OtaEnrollment, secret: str | None, base_url: str) -> dict:
    return {
        "id": e.id, "name": e.name, "display_name": e.display_name, "push_certificate": e.push_certificate_id,
        "blueprint": e.blueprint_id, "identity_source": e.identity_source, "attestation": e.attestation,
        "scep_url": e.scep_url, "reusable": e.reusable, "quota": e.quota, "secret": secret,
        "enroll_url": f"{base_url}/public/enroll/{secret}/" if secret else None,
        "secret_used_at": dt(e.secret_used_at), "created_at": dt(e.created_at), "updated_at": dt(e.updated_at),
    }


def push_certificate(pc: PushCertificate) -> dict:
    return {
        "id": pc.id, "name": pc.name, "topic": pc.topic, "not_before": dt(pc.not_before),
        "not_after": dt(pc.not_after), "days_left": pc.days_left(), "expiring": pc.is_expiring(),
        "status": pc.state(), "status_message": pc.status_message, "certificate": pc.certificate,
        "created_at": dt(pc.created_at), "updated_at": dt(pc.updated_at),
    }


def task(t: TaskResult) -> dict:
    return {"id": t.id, "name": t.name, "status": t.status, "progress": t.progress, "result": t.result,
            "error": t.error, "created_at": dt(t.created_at), "updated_at": dt(t.updated_at)}


def task_ref(t: TaskResult) -> dict:
    return {"task_id": t.id, "task_result_url": f"/api/task_result/{t.id}/"}
