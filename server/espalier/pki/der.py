"""DER written by hand for what the server signs and seals on every enrollment.

asn1crypto builds a structure from Python values at about a millisecond per SCEP reply
(it validates and re-encodes every node); the replies are a few fixed shapes around byte
strings that are already DER (certificates, names), so they are concatenated here.
Parsing hostile input stays with asn1crypto (``cms``).
"""
from __future__ import annotations

from functools import lru_cache

NULL = b"\x05\x00"


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes((tag, n)) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + content


def sequence(*parts: bytes) -> bytes:
    return tlv(0x30, b"".join(parts))


def set_of(parts: list[bytes]) -> bytes:
    """DER sorts a SET OF by encoding; distinct TLVs compare like their padded encodings."""
    return tlv(0x31, b"".join(sorted(parts)))


def explicit(number: int, content: bytes) -> bytes:
    """``[number]`` constructed: EXPLICIT tagging, or IMPLICIT of a SEQUENCE/SET's contents."""
    return tlv(0xA0 | number, content)


def integer(value: int) -> bytes:
    size = (value if value >= 0 else ~value).bit_length() // 8 + 1  # minimal two's complement
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def octet_string(value: bytes) -> bytes:
    return tlv(0x04, value)


@lru_cache(maxsize=64)
def oid(dotted: str) -> bytes:
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    body = bytearray()
    for arc in (40 * first + second, *rest):
        chunk = [arc & 0x7F]
        while arc > 0x7F:
            arc >>= 7
            chunk.append(0x80 | arc & 0x7F)
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


def algorithm(dotted: str, parameters: bytes | None = NULL) -> bytes:
    """An AlgorithmIdentifier; ``None`` omits the parameters."""
    return sequence(oid(dotted), parameters or b"")
