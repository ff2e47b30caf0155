"""What protocol handlers need besides the message: the session, secrets, CA and settings."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from espalier.models import Blueprint, utcnow
from espalier.pki.secrets import SecretBox
from espalier.pki.store import DeviceCAStore, StoredCA

from .blueprint_cache import BlueprintCache

if TYPE_CHECKING:
    from .connect import Unprocessable


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
    licence_locations: set[int] = field(default_factory=set)  # licence requests to send once it commits
    holds_store_apps: bool | None = None  # read with the device (mdm/lookup.py); None: ask
    epoch: int | None = None  # the convergence epoch, read with the device (Idle or report); None: not read
    blueprint_cache: BlueprintCache | None = None  # the process's, for a context that read the epoch
    unprocessable: Unprocessable | None = None  # connect.Unprocessable of an earlier try of this request
    _blueprints: dict[int, Blueprint | None] = field(default_factory=dict, repr=False)

    def blueprint(self, blueprint_id: int | None) -> Blueprint | None:
        """A blueprint read once per context (the scheduling steps share it; the session's
        identity map alone would forget it between steps, it holds objects weakly); once the
        context read the convergence epoch, from the process's cache of that epoch."""
        if blueprint_id is None:
            return None
        if blueprint_id not in self._blueprints:
            self._blueprints[blueprint_id] = (
                self.blueprint_cache.get(self.s, blueprint_id, self.epoch)
                if self.epoch is not None and self.blueprint_cache is not None else self.s.get(Blueprint, blueprint_id))
        return self._blueprints[blueprint_id]

    @property
    def ca(self) -> StoredCA:
        """The built-in device CA."""
        return self.ca_store.get(self.s)
