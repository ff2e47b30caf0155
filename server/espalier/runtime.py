"""The wired-up server: the process-wide resources, built once and passed in explicitly.

A ``Runtime`` holds the settings, the database, the secret box, the task queue, the
built-in device CA, the device trust store, the APNs connections and the listing totals
kept a few seconds (``services.paging.CountCache``). Entry points (the
Flask app factory, ``espalier worker``, CLI commands) build one with ``build()`` and hand
it down: views read it from their app, jobs receive it as their first argument, services
and the protocol core take what they need as arguments. Nothing is built at import time
and there is no process-global "current" runtime.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from espalier.db import Database
from espalier.mdm.blueprint_cache import BlueprintCache
from espalier.mdm.context import MdmConfig
from espalier.pki.secrets import SecretBox
from espalier.pki.store import DeviceCAStore
from espalier.services.paging import CountCache
from espalier.settings import Settings

if TYPE_CHECKING:
    from espalier.apple.apns import APNsPool
    from espalier.mdm.identity import TrustStore
    from espalier.tasks.queue import TaskQueue


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: SecretBox
    queue: TaskQueue
    ca: DeviceCAStore
    apns: APNsPool
    config: MdmConfig
    counts: CountCache = field(default_factory=CountCache, repr=False)  # listing totals, a few seconds
    blueprints: BlueprintCache = field(default_factory=BlueprintCache, repr=False)  # as of the convergence epoch
    _trust: TrustStore | None = field(default=None, repr=False)
    _trust_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def trust(self) -> TrustStore:
        """The device trust store: the built-in CA and ``scep_ca_fullchain``, built on first use."""
        if self._trust is None:
            from espalier.mdm.identity import TrustStore

            with self._trust_lock:
                if self._trust is None:
                    with self.db.session() as s, s.begin():
                        builtin = self.ca.get(s).certificate
                    self._trust = TrustStore(builtin, self.settings.external_ca_chain)
        return self._trust

    def apps_books_client(self, token: str):
        """A client of Apple's Apps and Books service for one location's sToken (close it after use)."""
        from espalier.apple.apps_books import AppsBooksClient, ClientSettings

        conf = self.settings.mdm["apps_books"]
        return AppsBooksClient(token, ClientSettings(base_url=conf["url"], verify=conf["ca_file"] or True,
                                                     timeout=conf["timeout"]))

    def mdm_context(self, s):
        """What the protocol core needs for one request or job, on session ``s``."""
        from espalier.mdm.context import Context

        return Context(s=s, secrets=self.secrets, ca_store=self.ca, config=self.config, blueprint_cache=self.blueprints)

    def close(self) -> None:
        self.apns.close()
        self.queue.close()
        self.db.dispose()


def build(settings: Settings, *, queue: TaskQueue | None = None) -> Runtime:
    """The runtime for ``settings``; ``queue`` replaces the configured one (tests, CLI)."""
    from espalier.apple.apns import APNsPool
    from espalier.tasks.queue import make_queue

    db = Database(settings["database_url"])
    secrets = SecretBox(settings["secret_keys"])
    rt = Runtime(settings=settings, db=db, secrets=secrets, queue=queue if queue is not None else make_queue(settings),
                 ca=DeviceCAStore(secrets), apns=APNsPool(settings.mdm["apns"]),
                 config=MdmConfig.from_settings(settings))
    rt.queue.bind(rt)
    return rt


def configure_logging(level: str) -> None:
    """Entry points call this once; importing or building the runtime configures nothing."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # one line per start-up check otherwise
