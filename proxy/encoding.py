"""gzip and deflate bodies: which decoder a `Content-Encoding` needs; a whole body
inflated at most to a limit (a few KB that inflate to gigabytes are refused, never
inflated whole), a stream inflated a bounded piece at a time. Used for the client's
request bodies and the upstream's replies and streams."""

from __future__ import annotations

import zlib
from collections.abc import Iterator


def decoder_for(encoding: str, first: bytes = b"") -> zlib._Decompress | None:
    """The decoder for `encoding` (None: not gzip or deflate). Deflate is zlib-wrapped as
    the RFC says, or raw as some clients send it, told apart by the `first` bytes."""
    name = encoding.strip().lower()
    if name in ("gzip", "x-gzip"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    if name == "deflate":
        wrapped = not first or first[0] & 0x0F == 8
        return zlib.decompressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    return None


def inflate_at_most(decoder: zlib._Decompress, data: bytes, max_bytes: int) -> bytes | None:
    """`data` decoded, or None when it decodes to more than `max_bytes`; zlib.error when
    it is not valid."""
    out = decoder.decompress(data, max_bytes + 1)
    if len(out) > max_bytes or decoder.unconsumed_tail:
        return None
    return out + decoder.flush()


def inflate_in_pieces(decoder: zlib._Decompress, data: bytes, piece: int) -> Iterator[bytes]:
    """`data` decoded, at most `piece` bytes at a time (each handed on before the next is
    made); zlib.error when it is not valid."""
    while True:
        out = decoder.decompress(data, piece)
        yield out
        data = decoder.unconsumed_tail
        if not data and len(out) < piece:  # all input in, all output out
            return
