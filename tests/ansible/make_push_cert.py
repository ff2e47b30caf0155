"""Write a stand-in APNs push certificate and key (Apple's service cannot be reached in tests)."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (fakes)

from fakes.push_certs import make_ca, make_push_cert  # noqa: E402

out = Path(sys.argv[1])
pc = make_push_cert(make_ca("Stand-in Apple push CA"))
(out / "push.pem").write_bytes(pc.cert_pem)
(out / "push.key").write_bytes(pc.key_pem)
print(pc.topic)
