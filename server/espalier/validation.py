"""Request validation with Django REST framework's semantics and messages, on pydantic.

Zentral's API is built on DRF, and scripts written for it read DRF's answers: field errors
as ``{"field": ["This field is required."]}``, unknown fields ignored, CharFields that take
numbers, BooleanFields that take ``"true"`` or ``1``. The field types below give pydantic
models exactly those rules and texts, so one model per request shape both validates the
request and documents it in the OpenAPI document (``web/api/openapi.py``).

``parse(Model, data)`` validates a mapping and raises ``Invalid`` with DRF-shaped errors.
"""
from __future__ import annotations

import logging
import re
import uuid as _uuid
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

log = logging.getLogger(__name__)

REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."


class Invalid(Exception):
    """DRF-shaped validation errors: ``{"field": ["message", ...]}`` (``non_field_errors`` too)."""

    def __init__(self, errors: dict[str, Any]):
        super().__init__("; ".join(f"{k}: {' '.join(map(str, v)) if isinstance(v, list) else v}"
                                   for k, v in errors.items()))
        self.errors = errors


class Schema(BaseModel):
    """A request shape: unknown fields are ignored, as DRF does."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def _fail(message: str):
    raise PydanticCustomError("drf", message)


def _not_null(value):
    if value is None:
        _fail(NOT_NULL)
    return value


# -- field types ---------------------------------------------------------------------------

def char(max_length: int | None = None, *, allow_blank: bool = False, pattern: str | None = None,
         allow_null: bool = False):
    """DRF CharField (RegexField with ``pattern``, which must match the whole value)."""
    compiled = re.compile(pattern) if pattern else None

    def check(value):
        if value is None:
            return None if allow_null else _fail(NOT_NULL)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            _fail("Not a valid string.")
        text = str(value).strip()
        if "\x00" in text:
            _fail("Null characters are not allowed.")
        if not text and not allow_blank:
            _fail("This field may not be blank.")
        if max_length is not None and len(text) > max_length:
            _fail(f"Ensure this field has no more than {max_length} characters.")
        if compiled is not None and text and not compiled.fullmatch(text):
            _fail("This value does not match the required pattern.")
        return text

    schema: dict[str, Any] = {"type": ["string", "null"] if allow_null else "string"}
    if max_length is not None:
        schema["maxLength"] = max_length
    if pattern:
        schema["pattern"] = f"^{pattern}$"
    return Annotated[str | None if allow_null else str, BeforeValidator(check), WithJsonSchema(schema)]


_TRUE = {"t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "1", 1, True}
_FALSE = {"f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "0", 0, False}


def _boolean(value):
    _not_null(value)
    try:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    except TypeError:  # unhashable: a list or an object
        pass
    _fail("Must be a valid boolean.")


Bool = Annotated[bool, BeforeValidator(_boolean), WithJsonSchema({"type": "boolean"})]


def integer(minimum: int | None = None, maximum: int | None = 2**31 - 1, *, allow_null: bool = False):
    """DRF IntegerField (integers, or strings of digits; ``1.0`` reads as 1)."""
    def check(value):
        if value is None:
            return None if allow_null else _fail(NOT_NULL)
        if isinstance(value, bool):
            _fail("A valid integer is required.")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?[0-9]{1,20}(\.0*)?\s*", value):
            value = int(value.strip().split(".")[0])
        if not isinstance(value, int):
            _fail("A valid integer is required.")
        if maximum is not None and value > maximum:
            _fail(f"Ensure this value is less than or equal to {maximum}.")
        if minimum is not None and value < minimum:
            _fail(f"Ensure this value is greater than or equal to {minimum}.")
        return value

    schema: dict[str, Any] = {"type": ["integer", "null"] if allow_null else "integer"}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return Annotated[int | None if allow_null else int, BeforeValidator(check), WithJsonSchema(schema)]


def choice(*choices: str):
    """DRF ChoiceField."""
    def check(value):
        _not_null(value)
        if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) not in choices:
            _fail(f'"{value}" is not a valid choice.')
        return str(value)

    return Annotated[str, BeforeValidator(check), WithJsonSchema({"type": "string", "enum": list(choices)})]


def _dictionary(value):
    _not_null(value)
    if not isinstance(value, dict):
        _fail(f'Expected a dictionary of items but got type "{type(value).__name__}".')
    return value


Dict = Annotated[dict, BeforeValidator(_dictionary), WithJsonSchema({"type": "object"})]


def int_list(*, allow_empty: bool = False, max_length: int | None = None):
    """DRF ListField(child=IntegerField(min_value=1)): ids."""
    def check(value):
        _not_null(value)
        if isinstance(value, (str, dict)) or not isinstance(value, list):
            _fail(f'Expected a list of items but got type "{type(value).__name__}".')
        if not value and not allow_empty:
            _fail("This list may not be empty.")
        if max_length is not None and len(value) > max_length:
            _fail(f"Ensure this field has no more than {max_length} elements.")
        for element in value:
            if isinstance(element, bool) or not isinstance(element, int) or not 1 <= element <= 2**31 - 1:
                _fail("A valid integer is required.")
        return value

    schema: dict[str, Any] = {"type": "array", "items": {"type": "integer", "minimum": 1}}
    if max_length:
        schema["maxItems"] = max_length
    return Annotated[list[int], BeforeValidator(check), WithJsonSchema(schema)]


# -- validation ----------------------------------------------------------------------------

def _messages(exc: ValidationError) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    for error in exc.errors(include_url=False):
        message = REQUIRED if error["type"] == "missing" else (
            error["msg"] if error["type"] == "drf" else "Invalid value.")
        loc = [str(part) for part in error["loc"]] or ["non_field_errors"]
        node = errors
        for part in loc[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(loc[-1], []).append(message)
    return errors


def parse(model: type[Schema], data: Any, *, context: str = "") -> Schema:
    """``data`` validated against ``model``; raises ``Invalid`` with DRF's shapes and texts."""
    if not isinstance(data, dict):
        raise Invalid({"non_field_errors": [f"Invalid data. Expected a dictionary, but got {type(data).__name__}."]})
    unknown = set(data) - set(model.model_fields) - {f.alias for f in model.model_fields.values() if f.alias}
    if unknown:
        log.debug("%s: ignored unknown field(s) %s", context or model.__name__, ", ".join(sorted(map(str, unknown))))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise Invalid(_messages(exc)) from None


def int_choice(*choices: int):
    """DRF ChoiceField over integer choices (``1`` or ``"1"``)."""
    def check(value):
        _not_null(value)
        if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value) not in map(str, choices):
            _fail(f'"{value}" is not a valid choice.')
        return int(value)

    return Annotated[int, BeforeValidator(check), WithJsonSchema({"type": "integer", "enum": list(choices)})]


def choice_list(*choices: str):
    """DRF ListField(child=ChoiceField)."""
    def check(value):
        _not_null(value)
        if isinstance(value, (str, dict)) or not isinstance(value, list):
            _fail(f'Expected a list of items but got type "{type(value).__name__}".')
        for element in value:
            if isinstance(element, bool) or not isinstance(element, str) or element not in choices:
                _fail(f'"{element}" is not a valid choice.')
        return list(dict.fromkeys(value))

    return Annotated[list[str], BeforeValidator(check),
                     WithJsonSchema({"type": "array", "items": {"type": "string", "enum": list(choices)}})]


def pk_list(*, uuid: bool = False, max_length: int = 1000):
    """DRF PrimaryKeyRelatedField(many=True): integer ids, or UUID strings; existence is
    checked by the service ('Invalid pk "x" - object does not exist.')."""
    def check(value):
        _not_null(value)
        if isinstance(value, (str, dict)) or not isinstance(value, list):
            _fail(f'Expected a list of items but got type "{type(value).__name__}".')
        if len(value) > max_length:
            _fail(f"Ensure this field has no more than {max_length} elements.")
        out = []
        for element in value:
            if uuid:
                if not isinstance(element, str) or not _UUID.fullmatch(element.strip()):
                    _fail(f'“{element}” is not a valid UUID.')
                out.append(str(_uuid.UUID(element.strip())))
            else:
                if isinstance(element, bool) or not isinstance(element, int) or not 1 <= element <= 2**31 - 1:
                    _fail(f"Incorrect type. Expected pk value, received {type(element).__name__}.")
                out.append(element)
        return list(dict.fromkeys(out))

    items = {"type": "string", "format": "uuid"} if uuid else {"type": "integer", "minimum": 1}
    return Annotated[list, BeforeValidator(check), WithJsonSchema({"type": "array", "items": items,
                                                                   "maxItems": max_length})]


_UUID = re.compile(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}")


def uuid_pk():
    """DRF PrimaryKeyRelatedField to a UUID primary key."""
    def check(value):
        _not_null(value)
        if not isinstance(value, str) or not _UUID.fullmatch(value.strip()):
            _fail(f'“{value}” is not a valid UUID.')
        return str(_uuid.UUID(value.strip()))

    return Annotated[str, BeforeValidator(check), WithJsonSchema({"type": "string", "format": "uuid"})]


_TIME = re.compile(r"\s*([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,6}))?)?\s*")
_DATETIME = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})[T ]([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.(\d{1,6}))?)?"
                       r"\s*(Z|[+-]\d{2}:?\d{2})?\s*")


def time_of_day(*, allow_null: bool = False):
    """DRF TimeField: ``hh:mm[:ss[.uuuuuu]]``."""
    import datetime as _dt

    def check(value):
        if value is None:
            return None if allow_null else _fail(NOT_NULL)
        match = _TIME.fullmatch(value) if isinstance(value, str) else None
        if match is None:
            _fail("Time has wrong format. Use one of these formats instead: hh:mm[:ss[.uuuuuu]].")
        return _dt.time(int(match[1]), int(match[2]), int(match[3] or 0), int((match[4] or "0").ljust(6, "0")))

    return Annotated[Any, BeforeValidator(check),
                     WithJsonSchema({"type": ["string", "null"] if allow_null else "string", "format": "time"})]


def naive_datetime(*, allow_null: bool = False):
    """DRF DateTimeField with Zentral's ``USE_TZ = False``: an offset is converted to UTC and dropped."""
    import datetime as _dt

    def check(value):
        if value is None:
            return None if allow_null else _fail(NOT_NULL)
        match = _DATETIME.fullmatch(value) if isinstance(value, str) else None
        try:
            if match is None:
                raise ValueError
            parsed = _dt.datetime(int(match[1]), int(match[2]), int(match[3]), int(match[4]), int(match[5]),
                                  int(match[6] or 0), int((match[7] or "0").ljust(6, "0")))
        except ValueError:
            _fail("Datetime has wrong format. Use one of these formats instead: "
                  "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
        offset = match[8]
        if offset and offset != "Z":
            sign = -1 if offset[0] == "-" else 1
            digits = offset[1:].replace(":", "")
            try:
                parsed -= sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
            except OverflowError:
                _fail("Datetime has wrong format. Use one of these formats instead: "
                      "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].")
        return parsed

    return Annotated[Any, BeforeValidator(check),
                     WithJsonSchema({"type": ["string", "null"] if allow_null else "string", "format": "date-time"})]


_URL = re.compile(r"https?://[^\s/?#:@]+(?::\d{1,5})?(?:[/?#][^\s]*)?", re.IGNORECASE)


def url(max_length: int = 200):
    """DRF URLField (blank allowed, as Django's ``URLField(blank=True)``)."""
    def check(value):
        _not_null(value)
        if not isinstance(value, str):
            _fail("Not a valid string.")
        text = value.strip()
        if len(text) > max_length:
            _fail(f"Ensure this field has no more than {max_length} characters.")
        if text:
            host = text.split("/")[2].split(":")[0].lower() if _URL.fullmatch(text) else ""
            if "\x00" in text or not ("." in host.strip(".") or host == "localhost"):
                _fail("Enter a valid URL.")
        return text

    return Annotated[str, BeforeValidator(check), WithJsonSchema({"type": "string", "format": "uri",
                                                                  "maxLength": max_length})]
