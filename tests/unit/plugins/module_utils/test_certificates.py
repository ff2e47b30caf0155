# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import base64
import datetime

import pytest

from ansible_collections.espalier.mdm.plugins.module_utils import certificates
from ansible_collections.espalier.mdm.plugins.module_utils.certificates import CertificateError
from ansible_collections.espalier.mdm.tests.unit.plugins import push_cert_fixtures as certs

READERS = ['cryptography', 'der']


@pytest.fixture(params=READERS)
def reader(request, monkeypatch):
    """Run the test with the cryptography reader and with the standard-library DER reader."""
    if request.param == 'cryptography':
        pytest.importorskip('cryptography')
        if certificates.x509 is None:
            pytest.skip('cryptography was not importable when certificates.py was loaded')
    else:
        monkeypatch.setattr(certificates, 'x509', None)
    return request.param


@pytest.mark.parametrize('label', sorted(certs.EXPECTED))
def test_both_readers_read_what_the_server_reads(reader, label):
    assert certificates.read_push_certificate(certs.PEMS[label]) == certs.EXPECTED[label]


def test_a_certificate_without_uid_is_refused_by_both_readers(reader):
    with pytest.raises(CertificateError, match='no UID in its subject: it is not an APNs push certificate'):
        certificates.read_push_certificate(certs.NO_UID)


def test_the_first_certificate_of_a_chain_is_the_push_certificate(reader):
    assert certificates.read_push_certificate(certs.RENEWED + certs.CA) == certs.EXPECTED['RENEWED']
    assert certificates.fingerprint(certs.RENEWED + certs.CA) == certs.EXPECTED['RENEWED']['fingerprint']


def test_crlf_and_surrounding_text_do_not_matter(reader):
    text = 'Bag Attributes\r\n' + certs.OTHER.replace('\n', '\r\n') + '\r\n'
    assert certificates.read_push_certificate(text) == certs.EXPECTED['OTHER']


def test_der_reader_handles_utctime_and_generalizedtime():
    uid, not_before, not_after = certificates.read_der(certificates.first_der(certs.RENEWED))
    assert uid == certs.TOPIC_A
    assert not_before == datetime.datetime(2025, 2, 1, 8, 30)  # UTCTime
    assert not_after == datetime.datetime(2051, 6, 30, 12, 0)  # GeneralizedTime


def test_der_reader_names_the_uid_oid():
    # 0.9.2342.19200300.100.1.1, encoded 09 92 26 89 93 F2 2C 64 01 01
    assert certificates._oid(bytes.fromhex('0992268993F22C640101')) == certificates.UID_OID


@pytest.mark.parametrize('text, message', [
    ('', 'not a PEM certificate'),
    ('-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----', 'not a PEM certificate'),
    ('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----', 'not valid base64'),
])
def test_not_a_certificate(text, message):
    with pytest.raises(CertificateError, match=message):
        certificates.read_push_certificate(text)


def test_a_truncated_certificate_is_refused_by_both_readers(reader):
    der = certificates.first_der(certs.FIRST)[:200]
    pem = '-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----' % base64.b64encode(der).decode()
    with pytest.raises(CertificateError, match='cannot be read'):
        certificates.read_push_certificate(pem)


def test_a_non_certificate_der_is_refused_by_the_der_reader():
    with pytest.raises(CertificateError, match='cannot be read'):
        certificates.read_der(bytes.fromhex('020101'))
