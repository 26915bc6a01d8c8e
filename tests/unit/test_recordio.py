"""RecordIO framing: encode, and incremental decoding at any chunk boundary."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcos_core.errors import InvalidError
from dcos_core.recordio import Decoder, encode


def test_encode_prefixes_length_and_newline() -> None:
    """`<len>\\n<bytes>`; the length counts bytes, not characters."""
    assert encode(b'{"type":"HEARTBEAT"}') == b'20\n{"type":"HEARTBEAT"}'
    assert encode("é".encode()) == b"2\n\xc3\xa9"


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=8), st.data())
def test_any_chunking_yields_the_same_records(records: list[bytes], data: st.DataObject) -> None:
    """Split the stream anywhere (inside lengths, after the newline, inside payloads)."""
    stream = b"".join(encode(r) for r in records)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    d = Decoder()
    out: list[bytes] = []
    prev = 0
    for cut in [*cuts, len(stream)]:
        out += d.feed(stream[prev:cut])
        prev = cut
    assert out == records


def test_byte_by_byte() -> None:
    """One byte per chunk works."""
    stream = encode(b"abc") + encode(b"de")
    d = Decoder()
    out = [r for i in range(len(stream)) for r in d.feed(stream[i : i + 1])]
    assert out == [b"abc", b"de"]


def test_partial_record_is_kept_until_complete() -> None:
    """Nothing is returned until the whole record arrived."""
    d = Decoder()
    assert d.feed(b"5\nab") == []
    assert d.feed(b"cde3\nx") == [b"abcde"]
    assert d.feed(b"yz") == [b"xyz"]


@pytest.mark.parametrize("bad", [b"abc\n", b"-5\nxxxxx", b"1.5\nx", b"0x10\n"])
def test_non_numeric_length_is_rejected(bad: bytes) -> None:
    """A length that is not a decimal number raises InvalidError naming recordio."""
    with pytest.raises(InvalidError, match="recordio"):
        Decoder().feed(bad)


def test_endless_length_without_newline_is_rejected() -> None:
    """More than 20 bytes without a newline cannot be a uint64 length."""
    with pytest.raises(InvalidError, match="recordio"):
        Decoder().feed(b"1" * 25)


def test_huge_length_is_rejected() -> None:
    """A record claiming more than 1 GiB is refused before buffering it."""
    with pytest.raises(InvalidError, match="too large"):
        Decoder().feed(b"99999999999\n")
