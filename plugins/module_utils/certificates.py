# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""Read what the modules need from an APNs push certificate: topic, validity, fingerprint.

The topic of a push certificate is the UID attribute of its subject. It is read with the
``cryptography`` library when it can be imported (ansible-core depends on it, so it is
there on every controller), else with the small DER reader below, which knows just enough
of X.509 to walk to the subject and the validity: the modules then need nothing but the
Python standard library on the host that runs them. Both give the same answer; the unit
tests check that they do. The fingerprint is the SHA-256 of the DER certificate, as the
server computes it.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re

try:
    from cryptography import x509
    from cryptography.x509.oid import NameOID
except ImportError:  # the DER reader below does the job
    x509 = None

PEM_CERTIFICATE_RE = re.compile(r'-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----', re.DOTALL)
UID_OID = '0.9.2342.19200300.100.1.1'

# ASN.1 universal tags
_INTEGER, _OID, _SEQUENCE, _SET = 0x02, 0x06, 0x30, 0x31
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18
_VERSION = 0xA0  # [0] EXPLICIT, the optional version of TBSCertificate
_TEXT_ENCODINGS = {0x0C: 'utf-8', 0x13: 'ascii', 0x16: 'ascii', 0x14: 'latin-1', 0x1E: 'utf-16-be', 0x1C: 'utf-32-be'}


class CertificateError(ValueError):
    """The text is not a PEM certificate, or not one of an APNs push certificate."""


def first_der(pem):
    """The DER bytes of the first certificate of a PEM text (a chain may follow it)."""
    match = PEM_CERTIFICATE_RE.search(pem or '')
    if not match:
        raise CertificateError('certificate is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)')
    try:
        return base64.b64decode(re.sub(r'\s+', '', match.group(1)), validate=True)
    except (binascii.Error, ValueError):
        raise CertificateError('certificate: the PEM block is not valid base64') from None


def fingerprint(pem):
    """SHA-256 of the first certificate of a PEM text, in lowercase hex."""
    return hashlib.sha256(first_der(pem)).hexdigest()


def read_push_certificate(pem):
    """{topic, not_before, not_after, fingerprint} of the first certificate of a PEM text.

    Times are naive UTC ISO 8601 strings, as the API writes them. Raises CertificateError.
    """
    der = first_der(pem)
    reader = _read_with_cryptography if x509 is not None else read_der
    try:
        topic, not_before, not_after = reader(der)
    except CertificateError:
        raise
    except (ValueError, IndexError, UnicodeDecodeError) as ex:
        raise CertificateError('certificate cannot be read: %s' % ex) from None
    if not topic or not topic.strip():
        raise CertificateError('certificate has no UID in its subject: it is not an APNs push certificate')
    return dict(topic=topic.strip(), not_before=not_before.isoformat(), not_after=not_after.isoformat(),
                fingerprint=hashlib.sha256(der).hexdigest())


def _read_with_cryptography(der):
    cert = x509.load_der_x509_certificate(der)
    uids = cert.subject.get_attributes_for_oid(NameOID.USER_ID)
    if hasattr(cert, 'not_valid_after_utc'):  # cryptography >= 42
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    else:
        not_before, not_after = cert.not_valid_before, cert.not_valid_after
    return (str(uids[0].value) if uids else None,
            not_before.replace(tzinfo=None), not_after.replace(tzinfo=None))


# -- a minimal DER reader ---------------------------------------------------------------

def _tlv(data, pos):
    """(tag, start of the value, end of the value) of the element at pos."""
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise CertificateError('certificate cannot be read: unexpected high-tag-number element')
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if not 0 < count <= 4:
            raise CertificateError('certificate cannot be read: bad DER length')
        length = int.from_bytes(data[pos:pos + count], 'big')
        pos += count
    end = pos + length
    if end > len(data):
        raise CertificateError('certificate cannot be read: truncated DER')
    return tag, pos, end


def _children(data, start, end):
    """(tag, value start, value end) of each element between start and end."""
    pos = start
    while pos < end:
        tag, value_start, value_end = _tlv(data, pos)
        yield tag, value_start, value_end
        pos = value_end


def _expect(element, tag, what):
    if element[0] != tag:
        raise CertificateError('certificate cannot be read: %s is not where X.509 puts it' % what)
    return element


def _oid(raw):
    first = raw[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in raw[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return '.'.join(str(p) for p in parts)


def _time(tag, raw):
    text = raw.decode('ascii')
    if not text.endswith('Z'):
        raise CertificateError('certificate cannot be read: time %s is not in UTC' % text)
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ, years 1950 to 2049 (RFC 5280)
        when = datetime.datetime.strptime(text, '%y%m%d%H%M%SZ')
        if when.year >= 2050:
            when = when.replace(year=when.year - 100)
        return when
    if tag == _GENERALIZED_TIME:  # YYYYMMDDHHMMSSZ
        return datetime.datetime.strptime(text, '%Y%m%d%H%M%SZ')
    raise CertificateError('certificate cannot be read: validity is not a time')


def read_der(der):
    """(UID of the subject or None, not_before, not_after) of a DER certificate, standard library only."""
    dummy, cert_start, cert_end = _expect(_tlv(der, 0), _SEQUENCE, 'the certificate')
    tbs = _expect(next(_children(der, cert_start, cert_end)), _SEQUENCE, 'the TBS certificate')
    fields = list(_children(der, tbs[1], tbs[2]))
    if fields and fields[0][0] == _VERSION:
        fields = fields[1:]
    if len(fields) < 5:
        raise CertificateError('certificate cannot be read: too few fields')
    serial, signature, issuer, validity, subject = fields[:5]
    _expect(serial, _INTEGER, 'the serial number')
    _expect(signature, _SEQUENCE, 'the signature algorithm')
    _expect(issuer, _SEQUENCE, 'the issuer')
    _expect(validity, _SEQUENCE, 'the validity')
    _expect(subject, _SEQUENCE, 'the subject')
    times = [_time(tag, der[start:end]) for tag, start, end in _children(der, validity[1], validity[2])]
    if len(times) != 2:
        raise CertificateError('certificate cannot be read: validity is not two times')
    return _subject_uid(der, subject), times[0], times[1]


def _subject_uid(der, subject):
    for rdn in _children(der, subject[1], subject[2]):
        _expect(rdn, _SET, 'a subject RDN')
        for attribute in _children(der, rdn[1], rdn[2]):
            _expect(attribute, _SEQUENCE, 'a subject attribute')
            parts = list(_children(der, attribute[1], attribute[2]))
            if len(parts) != 2 or parts[0][0] != _OID:
                raise CertificateError('certificate cannot be read: bad subject attribute')
            if _oid(der[parts[0][1]:parts[0][2]]) == UID_OID:
                tag, start, end = parts[1]
                if tag not in _TEXT_ENCODINGS:
                    raise CertificateError('certificate cannot be read: the UID is not a string')
                return der[start:end].decode(_TEXT_ENCODINGS[tag])
    return None
