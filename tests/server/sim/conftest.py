"""Fixtures of the simulator's own tests: a stand-in device CA, a profile signer, the fake MDM."""
from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from sim_fakes import FakeMDM
from espalier.pki import ca


@pytest.fixture(scope="session")
def device_ca() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    return ca.create_ca("Fake MDM Device CA", "Espalier")


@pytest.fixture(scope="session")
def signer() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A profile-signing certificate."""
    return ca.create_ca("Fake MDM Profile Signer", "Espalier")


@pytest.fixture
def fake_mdm(device_ca, signer) -> FakeMDM:
    return FakeMDM(*device_ca, signer=signer)
