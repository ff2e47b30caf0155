# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

# FOR INTERNAL COLLECTION USE ONLY
# The interfaces in this file are meant for use within the espalier.mdm collection
# and may not remain stable to outside uses. Changes may be made in ANY release, even a bugfix release.

"""The one client of the Espalier operator API, shared by modules and the inventory plugin."""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlencode, urljoin, urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.espalier.mdm.plugins.module_utils.transport import TransportError, UrllibTransport

# The connection options of modules and plugins, and the environment variables they fall back
# to. plugins/doc_fragments/api.py documents them (DOCUMENTATION for modules, PLUGINS for the
# inventory plugin); a unit test keeps the three in step.
CONNECTION_ENV = dict(
    url='ESPALIER_URL',
    token='ESPALIER_TOKEN',
    validate_certs='ESPALIER_VALIDATE_CERTS',
    ca_path='ESPALIER_CA_PATH',
    timeout='ESPALIER_TIMEOUT',
)
URL_ENV = CONNECTION_ENV['url']
TOKEN_ENV = CONNECTION_ENV['token']

DEFAULT_TIMEOUT = 30
RETRY_STATUSES = frozenset((429, 502, 503))
# A POST that got a 502 may have reached the server: only statuses that say
# "not processed" are retried for writes.
WRITE_RETRY_STATUSES = frozenset((429, 503))
MAX_RETRIES = 4
MAX_RETRY_WAIT = 60
PAGE_SIZE = 500
# /api/task_result/ answers Zentral's shape: Celery's status words and 'unready' (poll again).
FAILED_TASK_STATUS = 'FAILURE'
UNKNOWN_TASK_STATUS = 'UNKNOWN'  # the server answers 200 for an id it does not know, as Zentral does


def _fallback(option):
    return (env_fallback, [CONNECTION_ENV[option]])


API_ARGSPEC = dict(
    url=dict(type='str', required=True, fallback=_fallback('url')),
    token=dict(type='str', required=True, no_log=True, fallback=_fallback('token')),
    validate_certs=dict(type='bool', default=True, fallback=_fallback('validate_certs')),
    ca_path=dict(type='path', fallback=_fallback('ca_path')),
    timeout=dict(type='int', default=DEFAULT_TIMEOUT, fallback=_fallback('timeout')),
)


# wait and wait_timeout of the modules that may wait for a command or a background task
WAIT_ARGSPEC = dict(
    wait=dict(type='bool', default=False),
    wait_timeout=dict(type='int', default=300),
)


def api_argument_spec(**own):
    """Return the shared connection argspec merged with the module's own options."""
    spec = {name: dict(option) for name, option in API_ARGSPEC.items()}
    spec.update(own)
    return spec


class EspalierError(Exception):
    """Base of the errors a module or plugin reports as its failure message."""


class EspalierModuleError(EspalierError):
    """A failure explained to the user without an HTTP status: bad arguments, no such device."""


class EspalierApiError(EspalierError):
    """Any failure talking to the API: an HTTP error status, a transport error (status None) or a timeout."""

    def __init__(self, status, url, detail, errors=None):
        self.status = status
        self.url = url
        self.detail = detail
        self.errors = errors or {}
        self.result = {}  # what the module had done when this happened (changed, objects...)
        super().__init__(str(self))

    def __str__(self):
        if self.status:
            message = 'HTTP %s from %s: %s' % (self.status, self.url, self.detail)
        else:
            message = '%s (%s)' % (self.detail, self.url)
        # The server's detail usually says the field errors already ("private_key: does not
        # match the certificate", "unknown command 'X' (known: ...)"): add only those it does not.
        missing = []
        detail = str(self.detail)
        for field, msgs in sorted(self.errors.items()):
            msgs = [str(m) for m in (msgs if isinstance(msgs, list) else [msgs])]
            if not all(m in detail for m in msgs):
                missing.append('%s: %s' % (field, ' '.join(msgs)))
        if missing:
            message = '%s (%s)' % (message, '; '.join(missing))
        return message


def known_task(task):
    """The task, or an error when the server does not know its id (it would never be ready)."""
    if task.get('status') == UNKNOWN_TASK_STATUS:
        raise EspalierModuleError('the server knows no task %s' % task.get('id'))
    return task


def normalise_url(url):
    """The API base URL: http(s) scheme required; trailing / and a trailing /api/ dropped."""
    url = (url or '').strip()
    if not url:
        raise EspalierModuleError('no API URL: set the url option or %s' % URL_ENV)
    parts = urlsplit(url)
    if parts.scheme.lower() not in ('http', 'https') or not parts.netloc:
        raise EspalierModuleError(
            "url must be the server's base URL with an http:// or https:// scheme, for example "
            "https://mdm.example.com, not %r" % url)
    if parts.query or parts.fragment:
        raise EspalierModuleError('url must not have a query or fragment: %r' % url)
    path = parts.path.rstrip('/')
    if path.lower().endswith('/api'):
        path = path[:-4]  # the client adds api/... itself
    return '%s://%s%s/' % (parts.scheme.lower(), parts.netloc, path)


def positive_seconds(name, value):
    """value as a positive number of seconds, or an EspalierModuleError naming the option."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise EspalierModuleError('%s must be a positive number of seconds, not %r' % (name, value))
    return value


def retry_after_seconds(value, now=None):
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def _messages(value):
    return ' '.join(str(m) for m in value) if isinstance(value, list) else str(value)


def _error_detail(status, body, reason):
    """(detail, field errors) from an error body in DRF's shapes.

    DRF answers {"detail": "..."}, or the field errors themselves at the top level
    ({"pin": ["This field is required."], "non_field_errors": [...]}), or a list of messages.
    """
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and payload:
        if set(payload) == {'detail'}:
            return str(payload['detail']), None
        errors = {k: v for k, v in payload.items() if k != 'detail'}
        parts = ['%s: %s' % (field, _messages(msgs)) if field != 'non_field_errors' else _messages(msgs)
                 for field, msgs in sorted(errors.items())]
        if payload.get('detail'):
            parts.insert(0, str(payload['detail']))
        return '; '.join(parts), errors
    if isinstance(payload, list) and payload:
        return '; '.join(str(p) for p in payload), None
    text = (body or '').strip()
    return (text[:300] if text else (reason or 'HTTP %s' % status)), None


class EspalierClient:
    """Espalier operator API: JSON requests, retries, pagination and task waiting."""

    def __init__(self, url, token, validate_certs=True, ca_path=None, timeout=DEFAULT_TIMEOUT,
                 transport=None, sleep=None, clock=None,
                 max_retries=MAX_RETRIES, max_retry_wait=MAX_RETRY_WAIT):
        self.base_url = normalise_url(url)
        if not token:
            raise EspalierModuleError('no API token: set the token option or %s' % TOKEN_ENV)
        positive_seconds('timeout', timeout)
        self._token = token
        self._transport = transport or UrllibTransport(validate_certs, ca_path, timeout)
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait

    @classmethod
    def from_options(cls, options, **kwargs):
        """A client from the connection options (module params or plugin options), by CONNECTION_ENV name."""
        return cls(options.get('url'), options.get('token'), validate_certs=options.get('validate_certs', True),
                   ca_path=options.get('ca_path'), timeout=options.get('timeout', DEFAULT_TIMEOUT), **kwargs)

    @classmethod
    def from_module(cls, module, **kwargs):
        return cls.from_options(module.params, **kwargs)

    def url_for(self, path, params=None):
        url = urljoin(self.base_url, path.lstrip('/')) if not path.startswith(('http://', 'https://')) else path
        params = {k: v for k, v in (params or {}).items() if v is not None}
        if params:
            url += ('&' if '?' in url else '?') + urlencode(sorted(params.items()), doseq=True)
        return url

    def request(self, method, path, params=None, data=None):
        """Send a request and return the decoded JSON body (None when empty)."""
        url = self.url_for(path, params)
        headers = {'Authorization': 'Token %s' % self._token, 'Accept': 'application/json'}
        body = None
        if data is not None:
            body = json.dumps(data).encode('utf-8')
            headers['Content-Type'] = 'application/json'
        retryable = RETRY_STATUSES if method in ('GET', 'HEAD') else WRITE_RETRY_STATUSES
        attempt = 0
        while True:
            try:
                status, resp_headers, payload = self._transport(method, url, headers, body)
            except TransportError as ex:
                raise EspalierApiError(None, url, str(ex)) from None
            text = payload.decode('utf-8', errors='replace') if isinstance(payload, bytes) else (payload or '')
            if status in retryable and attempt < self.max_retries:
                self._sleep(self._retry_delay(resp_headers, attempt))
                attempt += 1
                continue
            if status >= 400:
                detail, errors = _error_detail(status, text, None)
                if status in retryable:
                    detail = '%s (gave up after %d retries)' % (detail, attempt)
                raise EspalierApiError(status, url, detail, errors)
            if not text.strip():
                return None
            try:
                return json.loads(text)
            except ValueError:
                raise EspalierApiError(status, url, 'response is not JSON: %s' % text[:200]) from None

    def _retry_delay(self, headers, attempt):
        lowered = {str(k).lower(): v for k, v in (headers or {}).items()}
        delay = retry_after_seconds(lowered.get('retry-after'))
        if delay is None:
            delay = 2 ** attempt
        return min(delay, self.max_retry_wait)

    def get(self, path, params=None):
        return self.request('GET', path, params=params)

    def get_or_none(self, path, params=None):
        """The object at path, or None when the server answers 404."""
        try:
            return self.get(path, params)
        except EspalierApiError as ex:
            if ex.status == 404:
                return None
            raise

    def post(self, path, data=None, params=None):
        return self.request('POST', path, params=params, data=data if data is not None else {})

    def delete(self, path):
        return self.request('DELETE', path)

    def put(self, path, data):
        return self.request('PUT', path, data=data)

    def paginate(self, path, params=None, page_size=PAGE_SIZE):
        """Yield every object of a list endpoint, following limit/offset pages."""
        query = dict(params or {})
        query.update(limit=page_size, offset=0)
        url = self.url_for(path, query)
        seen = set()
        while url:
            if url in seen:
                raise EspalierApiError(None, url, 'pagination loops back to a page already read')
            seen.add(url)
            page = self.get(url)
            if isinstance(page, list):  # server ignored limit: the whole list at once
                yield from page
                return
            if not isinstance(page, dict) or 'results' not in page:
                raise EspalierApiError(200, url, 'unexpected list response: %r' % (page,))
            yield from page['results']
            nxt = page.get('next')
            url = urljoin(url, nxt) if nxt else None

    def list_all(self, path, params=None, page_size=PAGE_SIZE):
        return list(self.paginate(path, params, page_size))

    def poll(self, fetch, done, timeout, interval=1.0, max_interval=5.0, what='object'):
        """Call fetch() until done(result) or timeout seconds pass; return the last result."""
        positive_seconds('wait_timeout', timeout)
        deadline = self._clock() + timeout
        while True:
            result = fetch()
            if done(result):
                return result
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise EspalierApiError(None, self.base_url, '%s still not done after %s seconds' % (what, timeout))
            self._sleep(min(interval, remaining))
            interval = min(interval * 2, max_interval)

    def get_task(self, task_id):
        return self.get('api/task_result/%s/' % quote(str(task_id), safe=''))

    def wait_task(self, task_id, timeout):
        """Wait until the task is ready (SUCCESS or FAILURE) and return it."""
        task = self.poll(lambda: self.get_task(task_id),
                         lambda task: task.get('unready') is False or task.get('status') == UNKNOWN_TASK_STATUS,
                         timeout, what='task %s' % task_id)
        return known_task(task)


def fail_from_error(module, error, **result):
    """The one place an API error becomes a module failure: status + the server's explanation."""
    if error.status == 401:
        hint = ' Check the token (option token or %s).' % TOKEN_ENV
    elif error.status == 403:
        hint = ' The token lacks the permission for this operation.'
    else:
        hint = ''
    result = dict(error.result, **result)
    message = str(error)
    if hint and not message.endswith(('.', '!', '?', ')')):
        message += '.'
    module.fail_json(msg=message + hint, status=error.status, url=error.url,
                     detail=error.detail, errors=error.errors, **result)


def run_module(module, run):
    """Build the client, call run(module, client) and exit with its result, failing readably."""
    try:
        for name in ('timeout', 'wait_timeout'):
            if module.params.get(name) is not None:
                positive_seconds(name, module.params[name])
        client = EspalierClient.from_module(module)
        result = run(module, client)
    except EspalierApiError as ex:
        fail_from_error(module, ex)
    except EspalierError as ex:
        module.fail_json(msg=str(ex))
    else:
        module.exit_json(**result)
