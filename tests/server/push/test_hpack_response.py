"""The response HPACK decoder against the `hpack` library's encoder and decoder, and bad blocks."""
from __future__ import annotations

import random

import hpack
import pytest
from hpack.huffman import HuffmanEncoder
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH

from espalier.apple.hpack_response import DecodeError, ResponseDecoder, huffman_decode

HUFFMAN = HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH)


def test_huffman_strings_of_every_byte_decode_back():
    rng = random.Random(7)
    samples = [bytes(range(256)), b"", b"200", b"apns-id"]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randrange(60))) for _ in range(500)]
    for sample in samples:
        assert huffman_decode(HUFFMAN.encode(sample)) == sample


def test_blocks_decode_as_the_library_decodes_them_while_the_table_churns():
    rng = random.Random(11)
    encoder, reference, ours = hpack.Encoder(), hpack.Decoder(), ResponseDecoder()
    for n in range(3000):
        headers = [(":status", rng.choice(["200", "400", "410", "503"])),
                   ("apns-id", f"{rng.getrandbits(128):032X}")]
        if n % 5 == 0:
            headers.append((f"x-{rng.randrange(50)}", "v" * rng.randrange(500)))  # some evict all
        if n % 11 == 0:
            headers.append(hpack.NeverIndexedHeaderTuple("x-secret", str(n)))
        if n in (1000, 2000):
            encoder.header_table_size = 200 if n == 1000 else 4096  # size updates in the block
        block = encoder.encode(headers, huffman=n % 3 != 0)
        assert ours.decode(block) == [tuple(h) for h in reference.decode(block, raw=True)]


@pytest.mark.parametrize("block, problem", [
    (b"\x80", "no table entry 0"),
    (b"\xbe", "no table entry 62"),  # empty dynamic table
    (b"\x88\x3f\xe1\x1f", "size update after"),
    (b"\x3f\xe2\x1f", "table size 4097"),
    (b"\x00\x03ab", "beyond the header block"),
    (b"\x00\x81\xff\x00", "padding"),  # 8 bits of padding
    (b"\x00\x84\xff\xff\xff\xff\x00", "EOS"),  # EOS is 30 ones
    (b"\x00\x81\x00\x00", "padding"),  # padding of zeros
    (b"\x0f\xff\xff\xff\xff\xff\x7f", "integer"),
    (b"\x0f", "integer"),
    (b"\x00", "truncated"),
    (b"\x40\x01a", "truncated"),
])
def test_bad_blocks_are_refused(block, problem):
    with pytest.raises(DecodeError, match=problem):
        ResponseDecoder().decode(block)


def test_header_list_limit_holds():
    block = hpack.Encoder().encode([("x-big", "v" * 2000)] * 4)
    assert len(ResponseDecoder(max_list_size=10_000).decode(block)) == 4
    with pytest.raises(DecodeError, match="too long"):
        ResponseDecoder(max_list_size=5_000).decode(block)
