"""All models, imported once so metadata and Alembic see every table."""
from .apps_books import AppsBooksEvent, AppsBooksNotification, Asset, DeviceAssignment, Location, LocationAsset
from .auth import ApiToken, ApiTokenPermission, User
from .base import Base, utcnow
from .blueprints import Artifact, ArtifactVersion, Blueprint, BlueprintArtifact, DeviceArtifact, Profile
from .commands import DeviceCommand
from .devices import BlockedDevice, EnrolledDevice, EnrolledUser
from .enrollments import EnrollmentSession, OtaEnrollment
from .pki import CertificateAuthority, IssuedCertificate
from .push import PushCertificate
from .tags import MachineTag, Tag, Taxonomy
from .tasks import TaskResult

__all__ = ["ApiToken", "AppsBooksEvent", "AppsBooksNotification", "Asset", "DeviceAssignment", "Location",
           "LocationAsset", "ApiTokenPermission", "Artifact", "ArtifactVersion", "Base", "BlockedDevice", "Blueprint",
           "BlueprintArtifact", "DeviceArtifact", "MachineTag", "Profile", "Tag", "Taxonomy", "CertificateAuthority", "DeviceCommand",
           "EnrolledDevice", "EnrolledUser", "EnrollmentSession", "IssuedCertificate", "OtaEnrollment",
           "PushCertificate", "TaskResult", "User", "utcnow"]
