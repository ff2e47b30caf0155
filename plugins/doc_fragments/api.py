# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations


class ModuleDocFragment:
    """Connection options of the Espalier operator API, kept in step with module_utils/api.py."""

    DOCUMENTATION = r'''
options:
  url:
    description:
      - Base URL of the Espalier server, for example V(https://mdm.example.com).
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
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of the CA certificates that signed the server certificate.
    type: path
  timeout:
    description:
      - Timeout in seconds of each HTTP request.
      - Requests answered with 429, 502 or 503 are retried a few times, waiting as the
        C(Retry-After) header says (at most 60 seconds per wait).
    type: int
    default: 30
notes:
  - 'On a C(local) connection (C(hosts: localhost), C(delegate_to: localhost)) the module runs in the Ansible
    worker process through its action plugin, rather than in a new Python process: the result is the same, about
    a second sooner. Set the variable C(espalier_mdm_in_process=false) to run it as a usual module. With another
    connection, C(become) or C(async), it runs as a usual module.'
'''

    PLUGINS = r'''
options:
  url:
    description:
      - Base URL of the Espalier server, for example V(https://mdm.example.com).
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
      - PEM file of the CA certificates that signed the server certificate.
    type: path
    env:
      - name: ESPALIER_CA_PATH
  timeout:
    description:
      - Timeout in seconds of each HTTP request.
    type: int
    default: 30
'''
