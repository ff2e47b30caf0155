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
