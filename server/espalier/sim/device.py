"""A simulated Mac, iPhone or iPad speaking the MDM wire protocol to an Espalier server.

enroll (profile -> SCEP -> Authenticate -> TokenUpdate), check-ins, connect sessions
and SCEP renewal, over a caller's `httpx.Client`. It shares no code with the server's
protocol handling (plistlib, cryptography, asn1crypto, httpx and the sim crypto modules
only), so a server bug shows up here as a failure in `device.errors`.
"""

from __future__ import annotations

import base64
import os
import plistlib
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from espalier.sim import answers, declarative
from espalier.sim.attestation import SIGNED_ATTRIBUTES_TYPE, machine_info, signed_attributes
from espalier.sim.facts import CATALOGUE, DeviceFacts
from espalier.sim.profiles import ProfileError, new_recovery_key, read_profile
from espalier.sim.scep_client import SCEPClientError, build_pkcs_req, parse_cert_rep
from espalier.sim.signing import mdm_signature
from espalier.sim.wire import (CHECKIN_TYPE, CONNECT_TYPE, EnrollmentError, ca_certs, is_ca, mtls_headers,
                               scep_subject, unrecognized)

# Tests import EnrollmentError, mtls_headers and scep_subject from here too.
__all__ = ["EnrollmentError", "ReceivedCommand", "SimulatedDevice", "mtls_headers", "scep_subject"]

MAX_COMMANDS_PER_SESSION = 1000


@dataclass
class ReceivedCommand:
    command_uuid: str
    request_type: str
    command: dict[str, Any]
    status: str


class SimulatedDevice:
    """One device: knobs (`locked`, `fail_commands`, digests, ciphers) and recorded state."""

    def __init__(self, facts: DeviceFacts, *, locked: bool = False, fail_commands: set[str] | None = None,
                 signature_digest: str = "sha256", scep_cipher: str = "aes256",
                 identity_mode: str | None = None, client: httpx.Client | None = None,
                 apple_identity: tuple[x509.Certificate, rsa.RSAPrivateKey] | None = None,
                 keep_identity_on_refusal: bool = False, reject_declarations: set[str] | None = None) -> None:
        self.facts = facts
        self.locked, self.fail_commands = locked, set(fail_commands or ())
        self.signature_digest, self.scep_cipher = signature_digest, scep_cipher
        self.identity_mode = identity_mode  # "signature" | "mtls" | None: as the profile says
        self.apple_identity = apple_identity  # (cert, key) from Apple's device CA, or a stand-in; for attestation
        self.keep_identity_on_refusal = keep_identity_on_refusal  # an impostor that tries its certificate anyway
        self.client = client
        self.enrolled = self.unenrolled_by_server = self.remove_after_session = False
        self.mdm_payload: dict[str, Any] = {}
        self.scep_payload: dict[str, Any] = {}
        self.mdm_profile_identifier: str | None = None
        self.identity_cert: x509.Certificate | None = None
        self.identity_key: rsa.RSAPrivateKey | None = None
        self.push_token, self.push_magic, self.unlock_token = b"", "", b""
        self.awaiting_configuration = facts.dep
        self.admin_accounts: dict[str, dict[str, Any]] = {}  # AccountConfiguration: short name -> its hash
        self.update_required: dict[str, Any] | None = None  # ADE: the server's 403 softwareupdate.required
        self.profiles: dict[str, dict[str, Any]] = {}  # PayloadIdentifier -> profile plist
        self.profile_signers: dict[str, list[bytes]] = {}
        self.commands: list[ReceivedCommand] = []
        self.actions: list[tuple[str, str | None]] = []  # (EraseDevice|DeviceLock|RestartDevice..., PIN)
        self.errors: list[str] = []
        self.recovery_key = new_recovery_key()
        self.recovery_lock: str | None = None
        self.firmware_password: str | None = None
        # A FileVault2 payload with Defer turns FileVault on at the user's next login: until
        # then (the tests' knob) it stays off; by default the user logs in at once.
        self.filevault_deferred = False
        # Intel: SetFirmwarePassword takes effect at the next restart (RestartDevice here)
        self.firmware_change_pending = False
        self.pending_firmware_password: str | None = None
        self.bootstrap_token: bytes | None = None
        self.spare_key: rsa.RSAPrivateKey | None = None  # made ahead (benchmarks), used if the size fits
        # Declarative Device Management (sim/declarative.py)
        self.reject_declarations = set(reject_declarations or ())  # identifiers it refuses (valid: invalid)
        self.ddm_enabled = self.ddm_sync_requested = False
        self.declarations: dict[str, dict[str, Any]] = {}  # Identifier -> the declaration fetched (+ "kind")
        self.declarations_token: str | None = None
        self.declaration_fetches: list[str] = []  # identifiers fetched, in order
        self.ddm_token_checks = 0  # `tokens` requests
        self.status_reports: list[dict[str, Any]] = []
        # InstallApplication: bundle id -> {"adam_id", "status", "configuration", "checks"}
        self.managed_apps: dict[str, dict[str, Any]] = {}
        self.app_checks_before_installed = 1  # ManagedApplicationList answers "Installing" this many times

    @classmethod
    def flavour(cls, name: str, *, supervised: bool = False, dep: bool = False, filevault: bool = False,
                **knobs: Any) -> SimulatedDevice:
        platform, model, model_name, number, os_version, build, su_id, silicon, t2 = CATALOGUE[name]
        return cls(DeviceFacts(platform, model, model_name, number, os_version, build, su_id, silicon, t2,
                               supervised=supervised, dep=dep, filevault=filevault), **knobs)

    @classmethod
    def mac(cls, apple_silicon: bool = True, **kwargs: Any) -> SimulatedDevice:
        return cls.flavour("mac" if apple_silicon else "intel_t2", **kwargs)

    @classmethod
    def intel_mac(cls, t2: bool = True, **kwargs: Any) -> SimulatedDevice:
        return cls.flavour("intel_t2" if t2 else "intel_t1", **kwargs)

    @classmethod
    def iphone(cls, **kwargs: Any) -> SimulatedDevice:
        return cls.flavour("iphone", **kwargs)

    @classmethod
    def ipad(cls, **kwargs: Any) -> SimulatedDevice:
        return cls.flavour("ipad", **kwargs)

    def __repr__(self) -> str:
        return f"<SimulatedDevice {self.facts.model} {self.facts.serial} enrolled={self.enrolled}>"

    @property
    def push_token_hex(self) -> str:
        return self.push_token.hex()

    # ---- enrollment -----------------------------------------------------------------

    def enroll(self, enroll_url: str, client: httpx.Client | None = None) -> bool:
        """Profile -> SCEP -> Authenticate -> TokenUpdate. False (reason in `errors`) on failure."""
        self.client = client or self.client
        return (self.download_profile(enroll_url) and self.request_identity()
                and self.enrollment_checkin("Authenticate") and self.enrollment_checkin("TokenUpdate"))

    def enroll_ade(self, dep_url: str, client: httpx.Client | None = None) -> bool:
        """Automated Device Enrollment: MachineInfo to the DEP profile's url, then SCEP and check-in.
        A 403 asking for an OS update is kept in ``update_required`` (Setup Assistant would update)."""
        self.client = client or self.client
        self.update_required = None
        if self.apple_identity is None:
            self.errors.append("ADE needs the device's Apple identity")
            return False
        response = self._http("POST", dep_url, content=machine_info(self.facts, self.apple_identity),
                              headers={"Content-Type": SIGNED_ATTRIBUTES_TYPE})
        if response.status_code == 403 and response.headers.get("content-type", "").startswith("application/json"):
            self.update_required = response.json()
            self.errors.append(f"ADE: OS update required: {self.update_required}")
            return False
        try:
            self.accept_enrollment_profile(*self._profile(response))
        except EnrollmentError as exc:
            self.errors.append(str(exc))
            return False
        return (self.request_identity() and self.enrollment_checkin("Authenticate")
                and self.enrollment_checkin("TokenUpdate"))

    def download_profile(self, enroll_url: str) -> bool:
        """Enrollment step 1: fetch (and attest for) the enrollment profile and accept it."""
        try:
            profile = self._profile(self._http("GET", enroll_url, params={"serial_number": self.facts.serial,
                                                                          "udid": self.facts.udid}))
            if profile[0].get("PayloadType") == "Profile Service":
                profile = self._profile(self._attest(profile[0]))
            self.accept_enrollment_profile(*profile)
        except EnrollmentError as exc:
            self.errors.append(str(exc))
            return False
        return True

    def request_identity(self) -> bool:
        """Enrollment step 2: SCEP for the identity certificate the profile asks for."""
        payload = self.scep_payload
        try:
            if payload.get("Key Type", "RSA") != "RSA":
                raise EnrollmentError(f"SCEP: unsupported Key Type {payload['Key Type']!r}")
            size, self.spare_key, spare = int(payload.get("Keysize", 1024)), None, self.spare_key
            key = spare if spare is not None and spare.key_size == size else rsa.generate_private_key(65537, size)
            subject = scep_subject(payload.get("Subject", []), self.facts)
            self.identity_cert = self.scep_request(key, subject, payload.get("Challenge"), renew=False)
            self.identity_key = key
        except EnrollmentError as exc:
            self.errors.append(str(exc))
            return False
        self.push_token, self.push_magic = os.urandom(32), str(uuid.uuid4()).upper()
        self.unlock_token = os.urandom(64) if self.facts.platform != "macOS" else b""
        self.unenrolled_by_server = False
        return True

    def enrollment_checkin(self, message_type: str) -> bool:
        """Enrollment steps 3 and 4: Authenticate, then TokenUpdate (which completes it)."""
        response = self.checkin(message_type)
        if response is None or response.status_code != 200:
            if not self.unenrolled_by_server and not self.keep_identity_on_refusal:
                self._forget(by_server=False)  # the profile fails to install
            return False
        self.enrolled = self.enrolled or message_type == "TokenUpdate"
        return True

    def _profile(self, response: httpx.Response) -> tuple[dict[str, Any], list[bytes]]:
        if response.status_code != 200:
            raise EnrollmentError(f"enrollment profile: HTTP {response.status_code}")
        if response.headers.get("content-type", "").split(";")[0] != "application/x-apple-aspen-config":
            raise EnrollmentError(f"enrollment profile: Content-Type {response.headers.get('content-type')!r}")
        try:
            return read_profile(response.content)
        except ProfileError as exc:
            raise EnrollmentError(f"enrollment profile: {exc}") from exc

    def _attest(self, service: dict[str, Any]) -> httpx.Response:
        """Profile service phase 2: post the signed device attributes, get the enrollment profile."""
        if self.apple_identity is None:
            raise EnrollmentError("enrollment needs device attestation and this device has no Apple identity")
        url = (service.get("PayloadContent") or {}).get("URL")
        if not isinstance(url, str):
            raise EnrollmentError("profile service: no URL")
        return self._http("POST", url, content=signed_attributes(self.facts, service, self.apple_identity),
                          headers={"Content-Type": SIGNED_ATTRIBUTES_TYPE})

    def accept_enrollment_profile(self, profile: dict[str, Any], signers: list[bytes]) -> None:
        payloads = [p for p in profile.get("PayloadContent", []) if isinstance(p, dict)]
        mdm = [p for p in payloads if p.get("PayloadType") == "com.apple.mdm"]
        if len(mdm) != 1:
            raise EnrollmentError(f"enrollment profile: {len(mdm)} com.apple.mdm payloads")
        scep = [p for p in payloads if p.get("PayloadType") == "com.apple.security.scep"
                and p.get("PayloadUUID") == mdm[0].get("IdentityCertificateUUID")]
        if not scep or not isinstance(scep[0].get("PayloadContent"), dict):
            raise EnrollmentError("enrollment profile: IdentityCertificateUUID names no SCEP payload")
        rights = mdm[0].get("AccessRights", 0)
        if not mdm[0].get("ServerURL") or not str(mdm[0].get("Topic", "")).startswith("com.apple.mgmt."):
            raise EnrollmentError("enrollment profile: ServerURL or Topic missing or malformed")
        if not 0 < rights <= 8191 or (rights & 2 and not rights & 1) or (rights & 128 and not rights & 64):
            raise EnrollmentError(f"enrollment profile: invalid AccessRights {rights}")
        self.mdm_payload, self.scep_payload = mdm[0], scep[0]["PayloadContent"]
        self.mdm_profile_identifier = profile["PayloadIdentifier"]
        self.profiles[profile["PayloadIdentifier"]] = profile
        self.profile_signers[profile["PayloadIdentifier"]] = signers

    def scep_request(self, key: rsa.RSAPrivateKey, subject: x509.Name, challenge: str | None, renew: bool
                     ) -> x509.Certificate:
        url, name = self.scep_payload["URL"], self.scep_payload.get("Name", "")
        caps = self._http("GET", url, params={"operation": "GetCACaps"}).text.split()
        certs = ca_certs(self._http("GET", url, params={"operation": "GetCACert", "message": name}))
        recipient = next((c for c in certs if not is_ca(c)), certs[0])  # the RA if there is one
        digest = self.signature_digest if "SHA-256" in caps else "sha1"
        cipher = self.scep_cipher if "AES" in caps or not self.scep_cipher.startswith("aes") else "des3"
        renewal = {"renewal_cert": self.identity_cert, "renewal_key": self.identity_key} if renew else {}
        der, transaction_id, nonce, reply_cert = build_pkcs_req(
            recipient, key, subject, challenge, cipher=cipher, digest=digest, **renewal)
        if "POSTPKIOperation" in caps:
            response = self._http("POST", url, params={"operation": "PKIOperation"}, content=der,
                                  headers={"Content-Type": "application/x-pki-message"})
        else:
            response = self._http("GET", url, params={"operation": "PKIOperation",
                                                      "message": base64.b64encode(der).decode()})
        if response.status_code != 200 or response.headers.get("content-type") != "application/x-pki-message":
            raise EnrollmentError(f"PKIOperation: HTTP {response.status_code} {response.headers.get('content-type')}")
        opener = (self.identity_key if renew else key)
        assert opener is not None
        try:
            return parse_cert_rep(response.content, opener, reply_cert, nonce,
                                  ca_cert=certs[0] if len(certs) == 1 else None,
                                  transaction_id=transaction_id, issued_key=key)
        except SCEPClientError as exc:  # SCEPFailure included
            raise EnrollmentError(f"PKIOperation: {exc}") from exc

    def renew_identity(self) -> bool:
        """SCEP RenewalReq for a new key, signed with the current identity; swap on success."""
        if self.identity_cert is None:
            return False
        key = rsa.generate_private_key(65537, self.identity_key.key_size if self.identity_key else 2048)
        try:
            cert = self.scep_request(key, self.identity_cert.subject, None, renew=True)
        except EnrollmentError as exc:
            self.errors.append(f"renewal: {exc}")
            return False
        self.identity_cert, self.identity_key = cert, key
        return True

    # ---- transport ------------------------------------------------------------------

    def _http(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a keep-alive connection the server closed as we reused it (the request
        fails before any answer) is retried once on a new one, as Apple's URL loading does.
        Every MDM message may be sent twice: the server treats a repeat as the same report."""
        if self.client is None:
            raise EnrollmentError("no HTTP client")
        for attempt in (1, 2):
            try:
                return self.client.request(method, url, **kwargs)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
                if attempt == 2:
                    raise EnrollmentError(f"{method} {url}: {exc!r}") from exc
            except httpx.HTTPError as exc:
                raise EnrollmentError(f"{method} {url}: {exc!r}") from exc
        raise AssertionError("unreachable")

    def download(self, url: str) -> httpx.Response:
        """A GET a declaration points at (a legacy profile's ProfileURL)."""
        return self._http("GET", url)

    def _identity_headers(self, body: bytes) -> dict[str, str]:
        assert self.identity_cert is not None and self.identity_key is not None
        mode = self.identity_mode or ("signature" if self.mdm_payload.get("SignMessage") else "mtls")
        if mode == "signature":
            return {"Mdm-Signature": mdm_signature(body, self.identity_cert, self.identity_key,
                                                   self.signature_digest)}
        return mtls_headers(self.identity_cert)

    def _put(self, url: str, content_type: str, message: dict[str, Any], label: str) -> httpx.Response | None:
        """PUT a plist with our identity. None if the server unenrolled us or the request failed."""
        body = plistlib.dumps(message)
        try:
            response = self._http("PUT", url, content=body,
                                  headers={"Content-Type": content_type, **self._identity_headers(body)})
        except EnrollmentError as exc:
            self.errors.append(f"{label}: {exc}")
            return None
        if unrecognized(response):
            self._forget(by_server=True)
            return None
        if response.status_code != 200:
            self.errors.append(f"{label}: HTTP {response.status_code} {response.text[:200]}")
        return response

    def _forget(self, by_server: bool) -> None:
        """Drop the enrollment as a device does when its MDM profile goes."""
        self.enrolled, self.unenrolled_by_server = False, by_server
        self.identity_cert = self.identity_key = None
        self.push_token, self.push_magic = b"", ""
        self.profiles.clear()
        self.profile_signers.clear()
        self.declarations.clear()
        self.declarations_token, self.ddm_enabled = None, False

    # ---- check-in and connect ---------------------------------------------------------

    def _checkin_keys(self, message_type: str) -> dict[str, Any]:
        f = self.facts
        keys: dict[str, Any] = {"MessageType": message_type, "UDID": f.udid}
        if message_type in ("Authenticate", "TokenUpdate", "CheckOut"):
            keys["Topic"] = self.mdm_payload.get("Topic", "")
        if message_type == "Authenticate":
            keys.update(SerialNumber=f.serial, OSVersion=f.os_version, BuildVersion=f.build_version,
                        ProductName=f.model)
            if f.platform == "macOS":
                keys.update(Model=f.model, ModelName=f.model_name, DeviceName=f.device_name)
            elif f.model.startswith("iPhone"):
                keys["IMEI"] = f.imei
        elif message_type == "TokenUpdate":
            keys.update(Token=self.push_token, PushMagic=self.push_magic,
                        AwaitingConfiguration=self.awaiting_configuration)
            if self.unlock_token:
                keys["UnlockToken"] = self.unlock_token
        elif message_type in ("SetBootstrapToken", "GetBootstrapToken"):
            keys["AwaitingConfiguration"] = self.awaiting_configuration
        return keys

    def checkin(self, message_type: str, **extra: Any) -> httpx.Response | None:
        """PUT one check-in message (keys filled from state, `extra` added). None if unenrolled."""
        if self.identity_cert is None:
            return None
        url = self.mdm_payload.get("CheckInURL") or self.mdm_payload["ServerURL"]
        return self._put(url, CHECKIN_TYPE, {**self._checkin_keys(message_type), **extra}, message_type)

    def connect(self) -> list[tuple[str, str]]:
        """One session: Idle, then report each command's result until an empty answer."""
        if not self.enrolled:
            return []
        handled: list[tuple[str, str]] = []
        not_now: set[str] = set()
        report: dict[str, Any] = {"UDID": self.facts.udid, "Status": "Idle"}
        for _ in range(MAX_COMMANDS_PER_SESSION):
            response = self._put(self.mdm_payload["ServerURL"], CONNECT_TYPE, report, "connect")
            if response is None or response.status_code != 200 or not response.content:
                break
            try:
                envelope = plistlib.loads(response.content)
                command_uuid, command = str(envelope["CommandUUID"]), envelope["Command"]
            except (ValueError, KeyError, TypeError, plistlib.InvalidFileException) as exc:
                self.errors.append(f"connect: malformed command plist ({exc!r})")
                break
            if command_uuid in not_now:
                self.errors.append(f"connect: {command_uuid} resent in the session that got NotNow")
                break
            status, result = answers.answer(self, command if isinstance(command, dict) else {})
            request_type = str(command.get("RequestType")) if isinstance(command, dict) else "?"
            self.commands.append(ReceivedCommand(command_uuid, request_type, command, status))
            handled.append((request_type, status))
            if status == "NotNow":
                not_now.add(command_uuid)
            report = {"UDID": self.facts.udid, "Status": status, "CommandUUID": command_uuid, **result}
        else:
            self.errors.append(f"connect: more than {MAX_COMMANDS_PER_SESSION} commands in one session")
        if self.ddm_sync_requested:  # the device syncs once the session is over
            self.ddm_sync_requested = False
            declarative.sync(self)
        if self.remove_after_session:  # RemoveProfile named the MDM profile
            self.remove_after_session = False
            self.checkout(send=bool(self.mdm_payload.get("CheckOutWhenRemoved")))
        return handled

    def ddm_sync(self) -> bool:
        """Sync the declarations now (as after a DeclarativeManagement command)."""
        return declarative.sync(self)

    def install_os_update(self) -> bool:
        """Install the OS update an active enforcement asks for, and report the new state."""
        return declarative.install_os_update(self)

    def checkout(self, send: bool = True) -> bool:
        """Remove the MDM profile: send CheckOut (unless `send` is False) and forget the enrollment."""
        response = self.checkin("CheckOut") if send and self.enrolled else None
        self._forget(by_server=False)
        return response is not None and response.status_code == 200

    def set_bootstrap_token(self, token: bytes | None = None) -> bool:
        """Escrow a bootstrap token (random when not given)."""
        token = os.urandom(64) if token is None else token
        response = self.checkin("SetBootstrapToken", BootstrapToken=token)
        if response is None or response.status_code != 200:
            return False
        self.bootstrap_token = token
        return True

    def get_bootstrap_token(self) -> bytes | None:
        """The escrowed token (b"" if the server has none); None on error."""
        response = self.checkin("GetBootstrapToken")
        if response is None or response.status_code != 200:
            return None
        try:
            body = plistlib.loads(response.content) if response.content else {}
        except (ValueError, plistlib.InvalidFileException):
            self.errors.append("GetBootstrapToken: answer is not a plist")
            return None
        token = body.get("BootstrapToken", b"") if isinstance(body, dict) else b""
        return bytes(token) if isinstance(token, bytes) else None
