"""espalier dep: request a token, upload the p7m, list, sync; the operator's path without the API."""
from __future__ import annotations

import json

from click.testing import CliRunner

from espalier.cli import main


def test_cli_token_request_upload_list_sync(runtime, fake, tmp_path, settings):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({**settings.data, "apps": {"espalier.mdm": {"abm": settings.mdm["abm"]}}}))
    run = CliRunner().invoke
    args = ["--settings", str(path), "dep"]
    cert = tmp_path / "dep.pem"
    result = run(main, args + ["token-request", "--out", str(cert)])
    assert result.exit_code == 0, result.output
    token_id = int(result.output.split()[1].rstrip(":"))
    p7m = tmp_path / "server_smime.p7m"
    p7m.write_bytes(fake.server_token_p7m(cert.read_bytes()))
    result = run(main, args + ["token-upload", str(token_id), str(p7m)])
    assert result.exit_code == 0 and fake.account["server_uuid"] in result.output, result.output
    server_id = int(result.output.split()[2].rstrip(":"))
    result = run(main, args + ["list"])
    assert "ok" in result.output and "days" in result.output
    result = run(main, args + ["sync", str(server_id)])
    assert result.exit_code == 0 and "added=25" in result.output, result.output
    result = run(main, args + ["token-upload", str(token_id), str(tmp_path / "dep.pem")])
    assert result.exit_code == 2 and "espalier:" in result.output
