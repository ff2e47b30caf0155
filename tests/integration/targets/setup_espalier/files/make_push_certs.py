"""Write stand-in APNs push certificates for the push_certificate targets (Apple cannot be reached).

    python make_push_certs.py OUTDIR

writes a CA and, signed by it, shaped like Apple's (UID=<topic>, CN=APSP:<uuid>, C=US):

* ``first``: topic A, valid 20 days (expiring);
* ``renewed``: topic A again, valid 400 days, a new key encrypted with the password
  ``renewal password`` (what Apple's Renew gives: same topic, later expiry);
* ``other``: topic B, valid 200 days (what Apple's Create gives: a new topic).

Topics are random, so the targets can run again against the same server. Prints JSON:
{"password": ..., "certs": {label: {cert, key, topic, days}}}, cert and key being file paths.
Needs the ``cryptography`` library (ansible-core's own dependency).
"""
from __future__ import annotations

import datetime
import json
import sys
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

PASSWORD = "renewal password"


def name(**attributes):
    oids = {"uid": NameOID.USER_ID, "cn": NameOID.COMMON_NAME, "c": NameOID.COUNTRY_NAME}
    return x509.Name([x509.NameAttribute(oids[k], v) for k, v in attributes.items()])


def issue(subject, key, issuer_name, issuer_key, days, ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days)))
    builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def main(out):
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name(cn="Stand-in Apple push CA for espalier.mdm tests")
    ca = issue(ca_name, ca_key, ca_name, ca_key, 3650, ca=True)
    (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    topic_a, topic_b = str(uuid.uuid4()), str(uuid.uuid4())
    plan = {"first": (topic_a, 20, None), "renewed": (topic_a, 400, PASSWORD), "other": (topic_b, 200, None)}
    certs = {}
    for label, (topic_uuid, days, password) in plan.items():
        key = ec.generate_private_key(ec.SECP256R1())
        topic = "com.apple.mgmt.External." + topic_uuid
        cert = issue(name(uid=topic, cn="APSP:" + topic_uuid, c="US"), key, ca_name, ca_key, days)
        encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                      else serialization.NoEncryption())
        cert_path, key_path = out / ("%s.pem" % label), out / ("%s.key" % label)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               encryption))
        certs[label] = {"cert": str(cert_path), "key": str(key_path), "topic": topic, "days": days}
    print(json.dumps({"password": PASSWORD, "certs": certs}))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
