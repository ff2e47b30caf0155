"""The access_log setting: what gunicorn's access log keeps (MaskingLogger)."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from espalier.web.masking import MaskingLogger


def _logged(tmp_path, mode: str, path: str, status: int) -> str:
    cfg = Config()
    log_file = tmp_path / f"access-{mode}-{status}.log"
    cfg.set("accesslog", str(log_file))
    logger = MaskingLogger(cfg)
    logger.mode = mode
    resp = SimpleNamespace(status=f"{status} X", status_code=status, headers=[], sent=0, response_length=0)
    req = SimpleNamespace(headers=[], method="PUT", uri=path, path=path, query="", version=(1, 1))
    environ = {"REQUEST_METHOD": "PUT", "RAW_URI": path, "PATH_INFO": path, "QUERY_STRING": "",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1"}
    logger.access(resp, req, environ, timedelta(milliseconds=1))
    for handler in logger.access_log.handlers:
        handler.flush()
    return log_file.read_text() if log_file.exists() else ""


@pytest.mark.parametrize(("mode", "path", "status", "kept"), [
    ("operator", "/mdm/connect", 200, False),  # a fleet's answered connects: most of the log
    ("operator", "/mdm/checkin", 200, False),
    ("operator", "/mdm/connect", 401, True),  # refused: an operator wants to see it
    ("operator", "/mdm/checkin", 500, True),
    ("operator", "/api/mdm/devices/", 200, True),
    ("all", "/mdm/connect", 200, True),
    ("off", "/api/mdm/devices/", 200, False),
    ("off", "/mdm/connect", 500, False),
])
def test_the_access_log_keeps_what_the_setting_says(tmp_path, mode, path, status, kept):
    assert (path in _logged(tmp_path, mode, path, status)) is kept


def test_the_access_log_setting_is_checked(tmp_path):
    from espalier.settings import SettingsError, load

    path = tmp_path / "s.json"
    path.write_text('{"database_url": "sqlite://", "secret_keys": ["' + "k" * 40 + '"], "access_log": "some"}')
    with pytest.raises(SettingsError, match="access_log: must be one of all, operator, off"):
        load(str(path))


def test_gunicorns_app_factory_applies_the_setting(tmp_path, monkeypatch):
    """gunicorn started with espalier.wsgi:make() (the server role) reads access_log too."""
    from espalier import wsgi
    from espalier.web import masking

    seen = []
    monkeypatch.setattr(masking.MaskingLogger, "mode", "operator")
    monkeypatch.setattr(wsgi, "create_app", lambda settings: seen.append(settings["access_log"]))
    monkeypatch.setattr(wsgi, "configure_logging", lambda level: None)
    path = tmp_path / "s.json"
    path.write_text('{"database_url": "sqlite://", "secret_keys": ["' + "k" * 40 + '"], "access_log": "all"}')
    monkeypatch.setenv("ESPALIER_SETTINGS", str(path))
    wsgi.make()
    assert seen == ["all"] and masking.MaskingLogger.mode == "all"


def test_enrollment_secrets_are_masked_in_every_mode_that_logs(tmp_path):
    for mode in ("all", "operator"):
        line = _logged(tmp_path, mode, "/public/enroll/S3cretEnrollmentLinkValue/", 404)
        assert "/public/enroll/S3cr…/" in line and "S3cretEnrollmentLinkValue" not in line
