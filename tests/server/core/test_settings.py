"""Settings: substitution, defaults, and one clear line for every mistake."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from espalier.cli import main
from espalier.settings import SettingsError, from_mapping, load

KEY = "k" * 40


def base(**extra):
    data = {"database_url": "sqlite:///x.db", "secret_keys": [KEY]}
    data.update(extra)
    return data


def test_defaults_fill_the_mdm_section():
    s = from_mapping(base())
    assert s.mdm["mtls_proxy"] is True
    assert s.mdm["scep_ca_fullchain"] is None
    assert s.mdm["apns"]["expiration_seconds"] == 3 * 86400
    assert s.base_url == "http://127.0.0.1:8000"


def _ca_pem() -> str:
    from cryptography.hazmat.primitives import serialization

    from espalier.pki.ca import create_ca

    return create_ca("Chain test CA")[0].public_bytes(serialization.Encoding.PEM).decode()


def test_file_and_env_substitution(tmp_path, monkeypatch):
    chain = tmp_path / "chain.pem"
    chain.write_text(_ca_pem())
    monkeypatch.setenv("ESP_DB", "postgresql://db/espalier")
    monkeypatch.setenv("ESP_MTLS", "false")
    s = from_mapping(base(database_url="{{ env:ESP_DB }}", apps={"espalier.mdm": {
        "scep_ca_fullchain": f"{{{{ file:{chain} }}}}", "mtls_proxy": "{{ env:ESP_MTLS }}"}}))
    assert s["database_url"] == "postgresql://db/espalier"
    assert s.mdm["scep_ca_fullchain"].startswith("-----BEGIN CERTIFICATE-----")
    assert s.mdm["mtls_proxy"] is False
    assert len(s.external_ca_chain) == 1


def test_a_chain_that_is_not_pem_stops_start_up_with_one_line(tmp_path):
    """It used to start and answer every check-in with a 500."""
    chain = tmp_path / "chain.pem"
    chain.write_text("-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n")
    with pytest.raises(SettingsError) as exc:
        from_mapping(base(apps={"espalier.mdm": {"scep_ca_fullchain": f"{{{{ file:{chain} }}}}"}}))
    assert str(exc.value) == "settings: apps.espalier.mdm.scep_ca_fullchain: not a PEM certificate chain"


@pytest.mark.parametrize("data, message", [
    (base(apps={"espalier.mdm": {"scep_ca_fullchain": "{{ file:/nonexistent/chain.pem }}"}}),
     "apps.espalier.mdm.scep_ca_fullchain: cannot read file /nonexistent/chain.pem"),
    (base(database_url="{{ env:ESPALIER_TEST_UNSET_VAR }}"),
     "database_url: environment variable ESPALIER_TEST_UNSET_VAR is not set"),
    (base(databse_url="typo"), "databse_url: unknown key"),
    (base(apps={"espalier.mdm": {"mtls_proxy": "yes"}}), "apps.espalier.mdm.mtls_proxy: expected a boolean"),
    (base(apps={"espalier.mdm": {"max_body_bytes": 0}}), "apps.espalier.mdm.max_body_bytes: must be greater than 0"),
    (base(apps={"espalier.other": {}}), "apps.espalier.other: unknown key"),
    ({"secret_keys": [KEY]}, "database_url: required"),
    (base(secret_keys=["short"]), "secret_keys: must be a non-empty list"),
    (base(redis_url="http://x"), "redis_url: must start with redis"),
])
def test_mistakes_name_the_key(data, message):
    with pytest.raises(SettingsError) as exc:
        from_mapping(data)
    assert message in str(exc.value)
    assert "\n" not in str(exc.value)


def test_yaml_file(tmp_path):
    p = tmp_path / "s.yml"
    p.write_text(f"database_url: sqlite:///x.db\nsecret_keys: [{KEY}]\napps:\n  espalier.mdm:\n    mtls_proxy: false\n")
    assert load(p).mdm["mtls_proxy"] is False


def test_broken_json_is_one_line(tmp_path):
    p = tmp_path / "s.json"
    p.write_text("{nope")
    with pytest.raises(SettingsError, match="not valid JSON"):
        load(p)


def test_cli_prints_one_line_and_exits_2(tmp_path):
    p = tmp_path / "s.json"
    p.write_text(json.dumps(base(apps={"espalier.mdm": {"inventory_interval": "daily"}})))
    result = CliRunner().invoke(main, ["--settings", str(p), "db", "upgrade"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        "espalier: settings: apps.espalier.mdm.inventory_interval: expected an integer, got \"daily\"")


def test_cli_without_settings_file():
    result = CliRunner(env={"ESPALIER_SETTINGS": None}).invoke(main, ["db", "upgrade"])
    assert result.exit_code == 2
    assert "no settings file" in result.output
