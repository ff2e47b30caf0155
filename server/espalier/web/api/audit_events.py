"""/api/mdm/audit_events/: the stored audit events (Espalier's own route)."""
from __future__ import annotations

from pydantic import Field

from espalier.permissions import VIEW_AUDIT_EVENTS
from espalier.services import audit as svc
from espalier.validation import char, integer
from espalier.web import runtime

from . import operation
from .pagination import PageQuery, paginated
from .schemas import AuditEvent, dump


class AuditEventQuery(PageQuery):
    enrolled_device: integer(1) = Field(None, description="events about this enrolled device")
    action: char(64, allow_blank=True) = Field(None, description="e.g. filevault_prk_viewed, "
                                                                 "recovery_password_viewed, device_released")


@operation("GET", "/mdm/audit_events/", VIEW_AUDIT_EVENTS, query=AuditEventQuery, response=[AuditEvent],
           paginated=True)
def audit_event_list(s, query: AuditEventQuery):
    """Audit events, newest first: who revealed an escrowed secret or released a device, and when."""
    items, count = svc.list_events(s, enrolled_device=query.enrolled_device, action=query.action or None,
                                   limit=query.limit, offset=query.offset or 0, counts=runtime().counts)
    return paginated([dump(AuditEvent, e) for e in items], count, query.limit, query.offset), 200
