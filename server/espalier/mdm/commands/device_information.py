"""DeviceInformation: https://developer.apple.com/documentation/devicemanagement/device-information-command

Queued automatically after enrollment and every inventory interval; the answer is folded
into the device row (not kept in the queue).
"""
from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from espalier.mdm import softwareupdate
from espalier.mdm.platforms import platform_for
from espalier.validation import Schema

from .base import Command

QUERIES = ["UDID", "SerialNumber", "DeviceName", "Model", "ModelName", "ProductName", "OSVersion", "BuildVersion",
           "IsSupervised", "IsAppleSilicon", "AwaitingConfiguration", "PINRequiredForDeviceLock",
           "PINRequiredForEraseDevice", "IsActivationLockEnabled", "SoftwareUpdateDeviceID", "EACSPreflight"]

_STR_FIELDS = {"SerialNumber": ("serial_number", 64), "DeviceName": ("name", 256), "ProductName": ("model", 64),
               "OSVersion": ("os_version", 32), "BuildVersion": ("build_version", 32)}
_BOOL_FIELDS = {"IsSupervised": "supervised", "IsAppleSilicon": "apple_silicon",
                "AwaitingConfiguration": "awaiting_configuration", "PINRequiredForDeviceLock": "pin_required_for_lock",
                "PINRequiredForEraseDevice": "pin_required_for_erase"}


def _queries(value):
    if not isinstance(value, list) or not all(isinstance(q, str) and 0 < len(q) <= 128 for q in value) \
            or len(value) > 200:
        raise PydanticCustomError("drf", "Expected a list of query names.")
    return value


class DeviceInformationArguments(Schema):
    queries: Annotated[list[str], BeforeValidator(_queries)] | None = None


class DeviceInformation(Command):
    request_type = "DeviceInformation"
    keep_result = False

    Arguments = DeviceInformationArguments

    @classmethod
    def build(cls, device, args):
        return {"Queries": args.queries or QUERIES}

    @classmethod
    def payload(cls, device, arguments):
        return {"RequestType": cls.request_type, "Queries": arguments.get("Queries", QUERIES)}

    @classmethod
    def process_result(cls, ctx, device, command, report):
        answers = report.get("QueryResponses")
        if not isinstance(answers, dict):
            raise ValueError("QueryResponses missing or not a dictionary")
        for key, (field, limit) in _STR_FIELDS.items():
            value = answers.get(key)
            if isinstance(value, str) and value and len(value) <= limit:
                setattr(device, field, value)
        for key, field in _BOOL_FIELDS.items():
            value = answers.get(key)
            if isinstance(value, bool):
                setattr(device, field, value)
        product = answers.get("ProductName") if isinstance(answers.get("ProductName"), str) else None
        platform = platform_for(product, device.model)
        if platform and not (platform == "iOS" and device.platform == "iPadOS"):
            device.platform = platform
        softwareupdate.record_device_id(ctx, device, answers.get("SoftwareUpdateDeviceID"))
        device.last_inventory_at = ctx.now
        return None
