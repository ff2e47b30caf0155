"""What protocol handlers need besides the message: the session, secrets and MDM settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from espalier.models import utcnow
from espalier.pki.secrets import SecretBox


@dataclass
class Context:
    s: Session
    secrets: SecretBox
    inventory_interval: int = 86400
    user_channels: bool = False
    now: datetime = field(default_factory=utcnow)
    pushes: set[int] = field(default_factory=set)  # devices to wake once the transaction commits
    database_key: str = ""  # names the database for the per-process CA cache

    @property
    def ca(self):
        """The built-in device CA (pki.store.StoredCA)."""
        from espalier.pki.store import device_ca
        return device_ca(self.s, self.secrets, self.database_key)
