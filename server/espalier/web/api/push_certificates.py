"""/api/mdm/push_certificates/: add (POST), renew (PUT), list and read APNs certificates."""
from __future__ import annotations

from espalier.services import push_certificates as svc
from espalier.validation import char
from espalier.web import runtime

from . import operation
from .pagination import PageQuery, paginate_list
from .schemas import PushCertificate, PushCertificateIn, push_certificate


class PushCertificateQuery(PageQuery):
    name: char(256, allow_blank=True) = None
    topic: char(256, allow_blank=True) = None


@operation("GET", "/mdm/push_certificates/", "mdm.view_pushcertificate", query=PushCertificateQuery,
           response=[PushCertificate], paginated=True)
def push_certificate_list(s, query: PushCertificateQuery):
    """Push certificates; filters ``name`` and ``topic``."""
    items = svc.list_all(s, query.name or None, query.topic or None)
    return paginate_list([push_certificate(pc) for pc in items], query), 200


@operation("GET", "/mdm/push_certificates/<int:cert_id>/", "mdm.view_pushcertificate", response=PushCertificate)
def push_certificate_detail(s, cert_id: int):
    """One push certificate."""
    return push_certificate(svc.get(s, cert_id)), 200


@operation("POST", "/mdm/push_certificates/", "mdm.add_pushcertificate", body=PushCertificateIn,
           response=PushCertificate, status=201)
def push_certificate_add(s, body: PushCertificateIn):
    """Add a push certificate (a new topic). To replace an expiring one, renew it (PUT)."""
    return push_certificate(svc.add(s, runtime().secrets, body.model_dump())), 201


@operation("PUT", "/mdm/push_certificates/<int:cert_id>/", "mdm.change_pushcertificate", body=PushCertificateIn,
           response=PushCertificate)
def push_certificate_renew(s, cert_id: int, body: PushCertificateIn):
    """Renew: the new certificate must have the same topic and must not expire earlier
    than the current one (unless ``force``)."""
    return push_certificate(svc.renew(s, runtime().secrets, cert_id, body.model_dump(exclude_unset=True))), 200
