"""The sync and its claim on SQLite (the embedded default): the same job, executemany instead of COPY."""
from __future__ import annotations

from sqlalchemy import func, select

from espalier import runtime as runtime_mod
from espalier.apple.abm import client_for
from espalier.db import Database
from espalier.models import DEPDevice, TaskResult
from espalier.services import dep_devices, dep_tokens
from espalier.settings import from_mapping
from espalier.tasks.queue import InProcessTaskQueue

SECRET = "sqlite-secret-key-0123456789-abcdefghijklmnopq"


def test_sync_and_claim_on_sqlite(tmp_path, fake):
    url = f"sqlite:///{tmp_path}/espalier.db"
    Database(url).upgrade(secret_keys=[SECRET])
    settings = from_mapping({"database_url": url, "secret_keys": [SECRET], "log_level": "WARNING",
                             "apps": {"espalier.mdm": {"abm": {"base_url": fake.base_url, "ca_file": fake.ca_file}}}})
    rt = runtime_mod.build(settings, queue=InProcessTaskQueue(sync=True))
    try:
        with rt.db.session() as s, s.begin():
            token = dep_tokens.request_token(s, rt.secrets)
            token_id, certificate = token.id, token.certificate
        with rt.db.session() as s, s.begin():
            server_id = dep_tokens.upload_token(s, rt.secrets, token_id, fake.server_token_p7m(certificate),
                                                lambda c: client_for(settings.mdm["abm"], c)).id
        with rt.db.session() as s, s.begin():
            held, started = dep_devices.start_sync(s, InProcessTaskQueue(), server_id)  # never runs
        assert started
        with rt.db.session() as s, s.begin():
            assert dep_devices.start_sync(s, rt.queue, server_id) == (held, False)
            s.get(TaskResult, held).status = "failed"
        with rt.db.session() as s, s.begin():
            task_id, started = dep_devices.start_sync(s, rt.queue, server_id)
        assert started
        fake.delete("FAKE00000001")
        with rt.db.session() as s, s.begin():
            dep_devices.start_sync(s, rt.queue, server_id)
        with rt.db.session() as s:
            assert s.get(TaskResult, task_id).result["added"] == 25
            assert s.scalar(select(func.count()).select_from(DEPDevice)) == 25
            assert s.scalar(select(DEPDevice.last_op_type).where(DEPDevice.serial_number == "FAKE00000001")) == "deleted"
    finally:
        rt.close()
