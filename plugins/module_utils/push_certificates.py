# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""APNs push certificates of the API: list, read, and the view the modules compare and diff."""

from __future__ import annotations

import datetime

from ansible_collections.espalier.mdm.plugins.module_utils.api import EspalierApiError
from ansible_collections.espalier.mdm.plugins.module_utils.certificates import CertificateError, fingerprint

PUSH_CERTIFICATES_PATH = 'api/mdm/push_certificates/'
EXPIRY_WARNING = datetime.timedelta(days=30)  # the server's "expiring"
# What the diff shows of a push certificate.
DIFF_KEYS = ('name', 'topic', 'not_before', 'not_after', 'fingerprint')


def push_certificate_path(cert_id=None):
    return PUSH_CERTIFICATES_PATH + ('%d/' % int(cert_id) if cert_id is not None else '')


def list_push_certificates(client, name=None, topic=None):
    """Every push certificate, filtered by the server on name and topic.

    The endpoint answers one plain list (it takes no limit or offset); a paginated answer
    ({results, next}) is followed as well.
    """
    page = client.get(PUSH_CERTIFICATES_PATH, dict(name=name, topic=topic))
    found = []
    while True:
        if isinstance(page, list):
            return found + page
        if not isinstance(page, dict) or not isinstance(page.get('results'), list):
            raise EspalierApiError(200, client.url_for(PUSH_CERTIFICATES_PATH), 'unexpected list response: %r' % (page,))
        found.extend(page['results'])
        if not page.get('next'):
            return found
        page = client.get(page['next'])


def get_push_certificate(client, cert_id):
    """One push certificate by id, or None when there is none."""
    return client.get_or_none(push_certificate_path(cert_id))


def describe(pc):
    return "push certificate '%s' (#%s, topic %s)" % (pc.get('name'), pc.get('id'), pc.get('topic'))


def certificate_view(pc):
    """The compared and diffed fields of a push certificate (None: there is none)."""
    if not pc:
        return {}
    try:
        sha256 = fingerprint(pc.get('certificate') or '')
    except CertificateError:
        sha256 = None
    return dict(name=pc.get('name'), topic=pc.get('topic'), not_before=pc.get('not_before'),
                not_after=pc.get('not_after'), fingerprint=sha256)


def predicted(current, name, pem, read, now=None):
    """The push certificate as the server will return it after the upload (check mode)."""
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    not_after = datetime.datetime.fromisoformat(read['not_after'])
    pc = dict(current or dict(id=None, created_at=None, updated_at=None))
    expired = not_after <= now
    pc.update(name=name, topic=read['topic'], not_before=read['not_before'], not_after=read['not_after'],
              days_left=(not_after - now).days, expiring=not_after - now <= EXPIRY_WARNING,
              status='expired' if expired else 'ok', status_message=None, certificate=pem)
    return pc


def renewal_refusal(current, read, now=None):
    """Why the server refuses this renewal without force (expired, or expires before the current one), or None.

    Only check mode asks: the server has no dry run for uploads, and a check run must not say
    "changed" for a renewal that the real run fails.
    """
    if not current or not current.get('not_after'):
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    new = datetime.datetime.fromisoformat(read['not_after'])
    if new <= now:
        return 'this certificate expired on %s (force: true to use it anyway)' % read['not_after'][:10]
    if new < datetime.datetime.fromisoformat(current['not_after']):
        return ('this certificate expires on %s, before the current one (%s): is it an older download? '
                '(force: true to use it anyway)' % (read['not_after'][:10], current['not_after'][:10]))
    return None
