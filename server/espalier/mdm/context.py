"""What protocol handlers need besides the message: the session, secrets, CA and settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from espalier.models import utcnow
from espalier.pki.secrets import SecretBox
from espalier.pki.store import DeviceCAStore, StoredCA


@dataclass(frozen=True)
class MdmConfig:
    """The protocol's settings, read once from ``apps["espalier.mdm"]``."""

    base_url: str
    mtls_proxy: bool = True
    inventory_interval: int = 86400
    user_channels: bool = False
    scep_cert_validity_days: int = 365

    @classmethod
    def from_settings(cls, settings) -> MdmConfig:
        mdm = settings.mdm
        return cls(base_url=settings.base_url, mtls_proxy=mdm["mtls_proxy"],
                   inventory_interval=mdm["inventory_interval"], user_channels=mdm["user_channels"],
                   scep_cert_validity_days=mdm["scep_cert_validity_days"])


@dataclass
class Context:
    s: Session
    secrets: SecretBox
    ca_store: DeviceCAStore
    config: MdmConfig
    now: datetime = field(default_factory=utcnow)
    pushes: set[int] = field(default_factory=set)  # devices to wake once the transaction commits

    @property
    def ca(self) -> StoredCA:
        """The built-in device CA."""
        return self.ca_store.get(self.s)
