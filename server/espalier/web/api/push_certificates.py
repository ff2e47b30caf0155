"""/api/mdm/push_certificates/: add (POST), renew (PUT), list and read APNs certificates."""
from __future__ import annotations

from flask import request

from espalier.services import push_certificates as svc
from espalier.web import runtime

from . import api_view, bp, serializers
from .pagination import paginate_list
from .validation import json_body, reject_unknown_args

FIELDS = {"name", "certificate", "private_key", "private_key_password"}


@bp.get("/mdm/push_certificates/")
@api_view("mdm.view_pushcertificate")
def push_certificate_list(s):
    """Push certificates; filters ``name`` and ``topic``."""
    reject_unknown_args({"name", "topic", "limit", "offset"})
    items = svc.list_all(s, request.args.get("name"), request.args.get("topic"))
    return paginate_list([serializers.push_certificate(pc) for pc in items]), 200


@bp.get("/mdm/push_certificates/<int:cert_id>/")
@api_view("mdm.view_pushcertificate")
def push_certificate_detail(s, cert_id: int):
    """One push certificate."""
    return serializers.push_certificate(svc.get(s, cert_id)), 200


@bp.post("/mdm/push_certificates/")
@api_view("mdm.add_pushcertificate")
def push_certificate_add(s):
    """Add a push certificate (a new topic). To replace an expiring one, renew it (PUT)."""
    return serializers.push_certificate(svc.add(s, runtime().secrets, json_body(FIELDS))), 201


@bp.put("/mdm/push_certificates/<int:cert_id>/")
@api_view("mdm.change_pushcertificate")
def push_certificate_renew(s, cert_id: int):
    """Renew: the new certificate must have the same topic."""
    return serializers.push_certificate(svc.renew(s, runtime().secrets, cert_id, json_body(FIELDS))), 200
