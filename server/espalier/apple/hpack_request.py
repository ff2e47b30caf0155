"""HPACK (RFC 7541) for requests of one shape: the fixed headers encoded once per template.

The fixed headers go into the peer's dynamic table with a connection's first request and
are one-byte references after that; each request adds its path and varying headers as
plain literals (no Huffman, no table search, nothing ever evicted). Responses are decoded
with the `hpack` library.
"""
from __future__ import annotations

from hpack.table import HeaderTable

_STATIC: dict[tuple[bytes, bytes], int] = {}
_STATIC_NAMES: dict[bytes, int] = {}
for _index, (_name, _value) in enumerate(HeaderTable.STATIC_TABLE, 1):
    _STATIC.setdefault((_name, _value), _index)
    _STATIC_NAMES.setdefault(_name, _index)


def _integer(value: int, prefix_bits: int, first: int) -> bytes:
    """HPACK integer (RFC 7541 5.1) with the pattern bits `first` in the first octet."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes((first | value,))
    out, value = bytearray((first | limit,)), value - limit
    while value >= 128:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _string(data: bytes) -> bytes:
    return _integer(len(data), 7, 0x00) + data  # RFC 7541 5.2, without Huffman


def _literal_name(name: bytes) -> bytes:
    """The start of a literal field without indexing (RFC 7541 6.2.2): the name."""
    index = _STATIC_NAMES.get(name)
    return _integer(index, 4, 0x00) if index else b"\x00" + _string(name)


def encode_header(name: bytes, value: bytes) -> bytes:
    """One header field that leaves the dynamic table alone (RFC 7541 6.1, 6.2.2)."""
    if (index := _STATIC.get((name, value))) is not None:
        return _integer(index, 7, 0x80)
    return _literal_name(name) + _string(value)


def _insert_header(name: bytes, value: bytes) -> bytes:
    """One header field added to the dynamic table (RFC 7541 6.2.1)."""
    index = _STATIC_NAMES.get(name)
    return (_integer(index, 6, 0x40) if index else b"\x40" + _string(name)) + _string(value)


class RequestTemplate:
    """A request shape: method, scheme, authority and fixed headers, HPACK-encoded once.

    Each request supplies its `:path` and the headers that vary, in that order:
    `[(b":path", path), (name, value), ...]`. The fixed headers go into the peer's
    dynamic table with the first request and are one-byte references after that;
    the rest are literals without indexing.
    """

    def __init__(self, method: str, authority: str, headers: list[tuple[str, str]],
                 scheme: str = "https") -> None:
        head = [(b":method", method.encode()), (b":scheme", scheme.encode()),
                (b":authority", authority.encode())]
        tail = [(n.lower().encode(), v.encode()) for n, v in headers]
        stored = [h for h in head + tail if h not in _STATIC]
        self.table_size = sum(32 + len(n) + len(v) for n, v in stored)  # RFC 7541 4.1
        # After the inserts, the newest entry has index 62 (RFC 7541 2.3.3).
        index = {h: 61 + len(stored) - i for i, h in enumerate(stored)}

        def block(fields: list[tuple[bytes, bytes]], field) -> bytes:
            return b"".join(field(*h) if h in index else encode_header(*h) for h in fields)

        def refer(name: bytes, value: bytes) -> bytes:
            return _integer(index[(name, value)], 7, 0x80)

        self.literal = (block(head, encode_header), block(tail, encode_header))
        self.inserting = (block(head, _insert_header), block(tail, _insert_header))
        self.indexed = (block(head, refer), block(tail, refer))


class TemplateEncoder:
    """The HPACK encoder of one connection's requests.

    The first header block sizes the dynamic table to hold exactly the template's
    fixed headers and inserts them (after clearing the table); later blocks refer to
    them. When the peer's SETTINGS_HEADER_TABLE_SIZE changes, the next block starts
    over the same way, or without the dynamic table if the template does not fit.
    """

    def __init__(self, template: RequestTemplate) -> None:
        self.template = template
        self._limit = 4096  # the peer's SETTINGS_HEADER_TABLE_SIZE (RFC 9113 default)
        self._restart = True
        self._blocks = template.literal
        self._names: dict[bytes, bytes] = {b":path": _literal_name(b":path")}

    @property
    def header_table_size(self) -> int:
        return self._limit

    @header_table_size.setter
    def header_table_size(self, value: int) -> None:
        self._limit, self._restart = value, True  # from the peer's SETTINGS_HEADER_TABLE_SIZE

    def encode(self, headers: list[tuple[bytes, bytes]]) -> bytes:
        names, fields = self._names, []
        for name, value in headers:  # :path first, then the varying headers
            if (start := names.get(name)) is None:
                start = names[name] = _literal_name(name)
            fields.append(start + _string(value))
        path, varying = fields[0], b"".join(fields[1:])
        if self._restart:
            self._restart = False
            template = self.template
            if template.table_size <= self._limit:
                self._blocks = template.indexed
                head, tail = template.inserting
                size = b"\x20" + _integer(template.table_size, 5, 0x20)  # clear, then resize
            else:
                self._blocks = template.literal
                head, tail = template.literal
                size = b"\x20"
            return b"".join((size, head, path, tail, varying))
        head, tail = self._blocks
        return b"".join((head, path, tail, varying))
