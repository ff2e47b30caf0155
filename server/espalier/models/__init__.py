"""All models, imported once so metadata and Alembic see every table."""
from .apps_books import AppsBooksEvent, AppsBooksNotification, Asset, DeviceAssignment, Location, LocationAsset
from .audit import AuditEvent
from .auth import ApiToken, ApiTokenPermission, User
from .base import Base, utcnow
from .blueprints import Artifact, ArtifactVersion, Blueprint, BlueprintArtifact, Declaration, DeviceArtifact, Profile
from .commands import DeviceCommand
from .convergence_epoch import ConvergenceEpoch
from .declarative import DeclarativeReport, DeviceDeclaration
from .dep import DEPDevice, DEPEnrollment, DEPOrganization, DEPToken, DEPVirtualServer
from .devices import BlockedDevice, EnrolledDevice, EnrolledUser
from .enrollments import EnrollmentSession, OtaEnrollment
from .store_apps import LicenceRequest, StoreApp
from .pki import CertificateAuthority, IssuedCertificate
from .push import PushCertificate
from .software_updates import (BlueprintSoftwareUpdateEnforcement, DeviceSoftwareUpdate, SoftwareUpdate,
                               SoftwareUpdateDeviceID, SoftwareUpdateEnforcement, SoftwareUpdateEnforcementTag)
from .security_configs import FileVaultConfig, RecoveryPasswordConfig
from .tags import MachineTag, Tag, Taxonomy
from .tasks import TaskResult

__all__ = ["ApiToken", "AuditEvent", "FileVaultConfig", "RecoveryPasswordConfig", "ApiTokenPermission", "Artifact", "ArtifactVersion", "Base", "BlockedDevice", "Blueprint",
           "BlueprintArtifact", "Declaration", "DeclarativeReport", "DeviceArtifact", "DeviceDeclaration", "MachineTag", "Profile", "Tag", "Taxonomy", "CertificateAuthority", "ConvergenceEpoch", "DeviceCommand",
           "DEPDevice", "DEPEnrollment", "DEPOrganization", "DEPToken", "DEPVirtualServer",
           "AppsBooksEvent", "AppsBooksNotification", "Asset", "DeviceAssignment", "Location", "LocationAsset",
           "EnrolledDevice", "EnrolledUser", "EnrollmentSession", "IssuedCertificate", "OtaEnrollment",
           "PushCertificate", "TaskResult", "User", "utcnow", "BlueprintSoftwareUpdateEnforcement",
           "DeviceSoftwareUpdate", "SoftwareUpdate", "SoftwareUpdateDeviceID", "SoftwareUpdateEnforcement",
           "SoftwareUpdateEnforcementTag", "LicenceRequest", "StoreApp"]
