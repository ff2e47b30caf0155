"""Platform from Apple's product names (ProductName / Model identifiers)."""
from __future__ import annotations

_PREFIXES = (
    ("iPhone", "iOS"), ("iPod", "iOS"), ("iPad", "iPadOS"), ("AppleTV", "tvOS"), ("Watch", "watchOS"),
    ("RealityDevice", "visionOS"), ("Mac", "macOS"), ("iMac", "macOS"), ("MacBook", "macOS"),
    ("VirtualMac", "macOS"),
)


def platform_for(product_name: str | None, model: str | None = None) -> str | None:
    for name in (product_name, model):
        if not name:
            continue
        for prefix, platform in _PREFIXES:
            if name.startswith(prefix):
                return platform
    return None


# Declarative Device Management: the DeclarativeManagement command and check-in (Apple's
# declarativemanagement.yaml; visionOS and watchOS are not platforms Espalier manages).
DDM_MINIMUM_OS = {"iOS": (15, 0, 0), "iPadOS": (15, 0, 0), "macOS": (13, 0, 0), "tvOS": (16, 0, 0)}


def ddm_capable(platform: str | None, os_version: str | None) -> bool:
    """Whether a device of ``platform`` on ``os_version`` speaks DDM (user enrollments do too)."""
    from .scope import comparable_os_version

    minimum = DDM_MINIMUM_OS.get(platform or "")
    return minimum is not None and bool(os_version) and comparable_os_version(os_version) >= minimum
