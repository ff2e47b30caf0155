# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of the Espalier operator API, as module_utils/api.py defines them.

    CONNECTION_ENV in module_utils/api.py is the one list of options and environment
    variables; tests/unit/plugins/doc_fragments/test_api_fragment.py keeps both texts in step with it.
    """

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Base URL of the Espalier server, for example V(https://mdm.example.com).
      - It must start with V(http://) or V(https://). A trailing C(/) or C(/api/) is dropped.
      - If not set, the value of the E(ESPALIER_URL) environment variable is used.
    type: str
    required: true
  token:
    description:
      - 'API token, sent as C(Authorization: Token <token>).'
      - If not set, the value of the E(ESPALIER_TOKEN) environment variable is used.
    type: str
    required: true
  validate_certs:
    description:
      - Whether to validate the server's TLS certificate.
      - Set to V(false) only on a test server with a self-signed certificate; prefer O(ca_path).
      - If not set, the value of the E(ESPALIER_VALIDATE_CERTS) environment variable is used, else V(true).
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA certificates that signed the server certificate, instead of the system's CA store.
      - If not set, the value of the E(ESPALIER_CA_PATH) environment variable is used.
    type: path
  timeout:
    description:
      - Timeout in seconds of each HTTP request, a positive number.
      - Requests answered with 429, 502 or 503 are retried a few times, waiting as the
        C(Retry-After) header says (at most 60 seconds per wait).
      - If not set, the value of the E(ESPALIER_TIMEOUT) environment variable is used, else V(30).
    type: int
    default: 30
notes:
  - 'The module talks to the Espalier API over HTTP(S) from the host it runs on, usually the controller
    (C(hosts: localhost), C(delegate_to: localhost), or the hosts of the P(espalier.mdm.devices#inventory)
    inventory, which run tasks locally).'
  - HTTP proxies are taken from the usual environment variables (E(https_proxy), E(no_proxy)).
'''

    PLUGINS = r'''
options:
  url:
    description:
      - Base URL of the Espalier server, for example V(https://mdm.example.com).
      - It must start with V(http://) or V(https://). A trailing C(/) or C(/api/) is dropped.
    type: str
    required: true
    env:
      - name: ESPALIER_URL
  token:
    description:
      - 'API token, sent as C(Authorization: Token <token>).'
      - Prefer the environment variable to writing the token into the inventory file.
    type: str
    required: true
    env:
      - name: ESPALIER_TOKEN
  validate_certs:
    description:
      - Whether to validate the server's TLS certificate.
    type: bool
    default: true
    env:
      - name: ESPALIER_VALIDATE_CERTS
  ca_path:
    description:
      - PEM file of the CA certificates that signed the server certificate, instead of the system's CA store.
    type: path
    env:
      - name: ESPALIER_CA_PATH
  timeout:
    description:
      - Timeout in seconds of each HTTP request, a positive number.
    type: int
    default: 30
    env:
      - name: ESPALIER_TIMEOUT
'''
