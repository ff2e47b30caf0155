# -*- coding: utf-8 -*-
# Copyright: Espalier developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""Stand-in APNs push certificates for the unit tests, with what the server would read from them.

Made once with the ``cryptography`` library, with fixed validity dates far in the future:
FIRST (topic A, RSA, UID as UTF8String), RENEWED (topic A, EC, UID as PrintableString,
GeneralizedTime expiry after 2050), OTHER (topic B), NO_UID (no UID: not a push certificate),
all signed by CA. EXPECTED holds their topic, validity and SHA-256 fingerprint as the server
computes them (cryptography, independently of the collection's reader).
"""

from __future__ import annotations

CA = '''\
-----BEGIN CERTIFICATE-----
MIIBODCB4KADAgECAhQmDVi132tiwx5UY9tvRriYeigMlzAKBggqhkjOPQQDAjAc
MRowGAYDVQQDDBFVbml0IHRlc3QgcHVzaCBDQTAgFw0yNDAxMDEwMDAwMDBaGA8y
MDYwMDEwMTAwMDAwMFowHDEaMBgGA1UEAwwRVW5pdCB0ZXN0IHB1c2ggQ0EwWTAT
BgcqhkjOPQIBBggqhkjOPQMBBwNCAAQHbrWF6nqsJJQ10NEFBXUfNtOX0DnA0s0Q
cv3PpO3UVD2otjNxUc+1sCO7dgpMbA64JOxMszIRRPFw7hFzOUl2MAoGCCqGSM49
BAMCA0cAMEQCIEapRdg/aFScjMQtXlkB4E1pIyfetAMNiM4K7vDu+BtAAiBG/l9X
ihSB7Ke73zOdG7p1iTpgyHr641QgFdIF0/oHew==
-----END CERTIFICATE-----
'''

FIRST = '''\
-----BEGIN CERTIFICATE-----
MIICdjCCAh2gAwIBAgIUbyQxMVFmKRJDVbs++pzhl1QaHqgwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRVW5pdCB0ZXN0IHB1c2ggQ0EwHhcNMjQwMzAxMTAwMDAwWhcN
NDAwMzAxMTAwMDAwWjCBjzFMMEoGCgmSJomT8ixkAQEMPGNvbS5hcHBsZS5tZ210
LkV4dGVybmFsLjBiNmYzYzJlLTVkMWEtNGM1OS05ZDBlLTFmMmEzYjRjNWQ2ZTEy
MDAGA1UEAwwpQVBTUDowYjZmM2MyZS01ZDFhLTRjNTktOWQwZS0xZjJhM2I0YzVk
NmUxCzAJBgNVBAYTAlVTMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
6npq6YHLCochwbHy4ERSgwczIbcsigPkVWMW9YVgXqcEIV2IuIhh15bUO/EouHi6
yH2g5EWqTHJ6MNJ2s4+sl4x/vGbQmWxF28brKD56JKHMEs69z9UtYEsKT1Mo1sv4
pW3mvkw/TJt4EmYpyZ3FbiZn33w8bFoRon5dPPPDOViyZiQZAnHAYDX9gYZYg9zq
XjwJ2cc5oDr37TxP7jSHzAM59pTlOjPtICOX7SSU2vnykhzb7TVMFZeQPCC+3fHE
vAAst/DEDxp49tDixae3BqwAoe3WbO2hO+2KgtImuw5vjXBuuv3j0NSVfQQ788wj
zzHu8my/SFIYZDf35oV9wwIDAQABMAoGCCqGSM49BAMCA0cAMEQCIAtj5XPu/cky
o1e4uRh8mjrOL76r2Tp2Sz3F+abHSr81AiAH2rEkotExVJzNw/OXNUMULf9eqfCJ
RPJWLWfzkRur/A==
-----END CERTIFICATE-----
'''

RENEWED = '''\
-----BEGIN CERTIFICATE-----
MIIBrzCCAVSgAwIBAgIUPwmrT1pu4QlmQmnz6Fh/TEd9tBcwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRVW5pdCB0ZXN0IHB1c2ggQ0EwIBcNMjUwMjAxMDgzMDAwWhgP
MjA1MTA2MzAxMjAwMDBaMIGPMUwwSgYKCZImiZPyLGQBARM8Y29tLmFwcGxlLm1n
bXQuRXh0ZXJuYWwuMGI2ZjNjMmUtNWQxYS00YzU5LTlkMGUtMWYyYTNiNGM1ZDZl
MTIwMAYDVQQDDClBUFNQOjBiNmYzYzJlLTVkMWEtNGM1OS05ZDBlLTFmMmEzYjRj
NWQ2ZTELMAkGA1UEBhMCVVMwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAQNtKJX
qAU41fJdj6xy+3+rCXKCWB4ZbaiR14zZPjXVzd4buc4wFELwE7wl6R65gQiJzCph
X+CtuUqoNS35QMO/MAoGCCqGSM49BAMCA0kAMEYCIQCoCD0AZrNW8XRiMMGwS3OK
q5ZVTV6RXHj7CtWcFL+pvAIhAI4XtYaI7je7qbLts3pmW/+NIzrCNgXSLXdKnU+W
rxhj
-----END CERTIFICATE-----
'''

OTHER = '''\
-----BEGIN CERTIFICATE-----
MIIBrDCCAVKgAwIBAgIULoXhsGb5gPKdEaPAZtXpy+3jgQswCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRVW5pdCB0ZXN0IHB1c2ggQ0EwHhcNMjQwNTA1MDUwNTA1WhcN
NDUwMTAxMDAwMDAwWjCBjzFMMEoGCgmSJomT8ixkAQEMPGNvbS5hcHBsZS5tZ210
LkV4dGVybmFsLjllOGQ3YzZiLTVhNDktNDgzOC1hN2I2LWM1ZDRlM2YyYTFiMDEy
MDAGA1UEAwwpQVBTUDo5ZThkN2M2Yi01YTQ5LTQ4MzgtYTdiNi1jNWQ0ZTNmMmEx
YjAxCzAJBgNVBAYTAlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGzY7za9e
gLgGbpVK+uaazevqOA+rbmnvLBznTiZr4DQTw6L8588gozXQNlZkBd0Y8C+7HVaj
NwCNjymqgsvuRTAKBggqhkjOPQQDAgNIADBFAiEAoIxU10Z2s6o2mBxylVt8pvm0
LReFGWlQcg4xggZcoD0CIDqJZjM/DKh4DoadpCc1TQQjWxXkzdBbTtTUdwZFTGGf
-----END CERTIFICATE-----
'''

NO_UID = '''\
-----BEGIN CERTIFICATE-----
MIIBPTCB46ADAgECAhR1b5cwRxk/Yu6S+bmmDnIL52AOozAKBggqhkjOPQQDAjAc
MRowGAYDVQQDDBFVbml0IHRlc3QgcHVzaCBDQTAeFw0yNDA1MDUwNTA1MDVaFw00
NTAxMDEwMDAwMDBaMCExEjAQBgNVBAMMCUFQU1A6bm9uZTELMAkGA1UEBhMCVVMw
WTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAATz0jFsGTnmyD392ULO4VNf8zJjj5YE
zg+IwzZAFJdrYWySCIonSzMlSAdK423pESwGiZH8j+N2eAJIrnvGeUY6MAoGCCqG
SM49BAMCA0kAMEYCIQDEUXpxB8R4S0Hffv94DROT/3+Zm7KfogrUUOJcTUhNwwIh
ALKLsEvILAquUTN9D4y0bLmVxIVlnpSqWpxw173l93hg
-----END CERTIFICATE-----
'''

TOPIC_A = 'com.apple.mgmt.External.0b6f3c2e-5d1a-4c59-9d0e-1f2a3b4c5d6e'
TOPIC_B = 'com.apple.mgmt.External.9e8d7c6b-5a49-4838-a7b6-c5d4e3f2a1b0'

EXPECTED = {
    'FIRST': dict(
        topic='com.apple.mgmt.External.0b6f3c2e-5d1a-4c59-9d0e-1f2a3b4c5d6e',
        not_before='2024-03-01T10:00:00',
        not_after='2040-03-01T10:00:00',
        fingerprint='9d3ba349e92899eba351fa6781db1bf5cbc2e560d1588048d5353d3d35236327',
    ),
    'RENEWED': dict(
        topic='com.apple.mgmt.External.0b6f3c2e-5d1a-4c59-9d0e-1f2a3b4c5d6e',
        not_before='2025-02-01T08:30:00',
        not_after='2051-06-30T12:00:00',
        fingerprint='1e86f1f740d44724c3a7ab96a260979eff04d35acefd88f0fdbcaa9cefb255be',
    ),
    'OTHER': dict(
        topic='com.apple.mgmt.External.9e8d7c6b-5a49-4838-a7b6-c5d4e3f2a1b0',
        not_before='2024-05-05T05:05:05',
        not_after='2045-01-01T00:00:00',
        fingerprint='117cb957cca25152a33a0f1d5c2f5bcd6a6725421334a1e1be7e316bbc46da3b',
    ),
}
PEMS = dict(FIRST=FIRST, RENEWED=RENEWED, OTHER=OTHER)
