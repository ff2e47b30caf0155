"""/api/mdm/push_certificates/: add (POST), renew (PUT), list and read APNs certificates."""
from __future__ import annotations

from flask import current_app, request

from espalier.models import PushCertificate
from espalier.services import push_certificates as svc

from . import api_view, bp
from .serializers import dt
from .pagination import paginate_list
from .validation import json_body, reject_unknown_args

FIELDS = {"name", "certificate", "private_key", "private_key_password"}


def serialize(pc: PushCertificate) -> dict:
    return {
        "id": pc.id, "name": pc.name, "topic": pc.topic, "not_before": dt(pc.not_before), "not_after": dt(pc.not_after),
        "days_left": svc.days_left(pc), "expiring": svc.is_expiring(pc), "status": svc.state(pc),
        "status_message": pc.status_message, "certificate": pc.certificate,
        "created_at": dt(pc.created_at), "updated_at": dt(pc.updated_at),
    }


@bp.get("/mdm/push_certificates/")
@api_view("mdm.view_pushcertificate")
def push_certificate_list(s):
    """Push certificates; filters ``name`` and ``topic``."""
    reject_unknown_args({"name", "topic", "limit", "offset"})
    items = svc.list_all(s, request.args.get("name"), request.args.get("topic"))
    return paginate_list([serialize(pc) for pc in items]), 200


@bp.get("/mdm/push_certificates/<int:cert_id>/")
@api_view("mdm.view_pushcertificate")
def push_certificate_detail(s, cert_id: int):
    """One push certificate."""
    return serialize(svc.get(s, cert_id)), 200


@bp.post("/mdm/push_certificates/")
@api_view("mdm.add_pushcertificate")
def push_certificate_add(s):
    """Add a push certificate (a new topic). To replace an expiring one, renew it (PUT)."""
    box = current_app.extensions["espalier"].secrets
    return serialize(svc.add(s, box, json_body(FIELDS))), 201


@bp.put("/mdm/push_certificates/<int:cert_id>/")
@api_view("mdm.change_pushcertificate")
def push_certificate_renew(s, cert_id: int):
    """Renew: the new certificate must have the same topic."""
    box = current_app.extensions["espalier"].secrets
    return serialize(svc.renew(s, box, cert_id, json_body(FIELDS))), 200
