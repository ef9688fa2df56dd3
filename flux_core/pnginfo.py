"""Workflow documents inside PNG files: the text chunks fluxwire writes and reads back.

A saved picture carries its workflow under the tEXt/iTXt key ``fluxwire.workflow`` (the document as
JSON) and a readable summary under ``parameters``. Reading needs no image library: we walk the chunks.
"""
from __future__ import annotations

import struct
import zlib

WORKFLOW_KEY = "fluxwire.workflow"
SUMMARY_KEY = "parameters"
_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PNGTextError(ValueError):
    """A PNG whose chunks or text chunks are broken, or whose text would inflate past the limit."""


def text_chunks(data: bytes, keys: set[str] | None = None, max_text_bytes: int | None = None) -> dict[str, str]:
    """All tEXt, zTXt and iTXt chunks of a PNG as {key: text} (only `keys`, when given).

    Raises PNGTextError (a ValueError) for a broken PNG or text chunk. Compressed text is inflated at
    most to `max_text_bytes` in all (default: the document size limit), so a zlib bomb is refused
    after inflating no more than that.
    """
    from .graph.limits import MAX_DOCUMENT_BYTES

    budget = MAX_DOCUMENT_BYTES if max_text_bytes is None else max_text_bytes
    if not data.startswith(_SIGNATURE):
        raise PNGTextError("not a PNG file")
    out: dict[str, str] = {}
    pos = len(_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) < length:
            raise PNGTextError(f"the PNG is truncated (a {kind.decode('latin-1')} chunk declares {length:,} bytes, "
                               f"{len(body):,} are there)")
        if pos + 12 + length > len(data):
            raise PNGTextError(f"the PNG is truncated (the {kind.decode('latin-1')} chunk has no checksum)")
        if struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] != zlib.crc32(kind + body):
            raise PNGTextError(f"the PNG is damaged (checksum of its {kind.decode('latin-1')} chunk is wrong)")
        pos += 12 + length
        if kind == b"IEND":
            return out
        if kind not in (b"tEXt", b"zTXt", b"iTXt"):
            continue
        name, sep, rest = body.partition(b"\0")
        key = name.decode("latin-1")
        if not sep:
            raise PNGTextError(f"a {kind.decode()} chunk has no end to its key")
        if keys is not None and key not in keys:
            continue
        if kind == b"tEXt":
            text = rest.decode("latin-1")
        elif kind == b"zTXt":
            if len(rest) < 1:
                raise PNGTextError(f"the zTXt chunk {key!r} is too short")
            raw = _inflate(rest[1:], budget, key)
            text = raw.decode("latin-1")
        else:
            if len(rest) < 2:
                raise PNGTextError(f"the iTXt chunk {key!r} is too short (no compression flag and method)")
            compressed = rest[0]
            lang, sep1, rest = rest[2:].partition(b"\0")
            _translated, sep2, raw = rest.partition(b"\0")
            if not (sep1 and sep2):
                raise PNGTextError(f"the iTXt chunk {key!r} is too short (language or translated key unterminated)")
            if compressed:
                raw = _inflate(raw, budget, key)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise PNGTextError(f"the iTXt chunk {key!r} is not UTF-8 text ({e.reason} at byte {e.start})") from None
        budget -= len(text)
        out[key] = text
    raise PNGTextError("the PNG is truncated (it ends before its IEND chunk): the file was not written whole")


def _inflate(raw: bytes, budget: int, key: str) -> bytearray:
    """Decompress at most `budget` bytes, a piece at a time; more than that, or a stream cut short, is refused."""
    inflater = zlib.decompressobj()
    out = bytearray()
    pending = raw
    try:
        while pending and not inflater.eof:
            out += inflater.decompress(pending, _PIECE)
            pending = inflater.unconsumed_tail
            if len(out) > budget:
                raise PNGTextError(f"the compressed text chunk {key!r} inflates to more than {budget:,} bytes "
                                   f"(the limit); refused")
        out += inflater.flush()
    except zlib.error as e:
        raise PNGTextError(f"the compressed text chunk {key!r} is not valid zlib data ({e})") from None
    if len(out) > budget:
        raise PNGTextError(f"the compressed text chunk {key!r} inflates to more than {budget:,} bytes (the limit); "
                           f"refused")
    if not inflater.eof:
        raise PNGTextError(f"the compressed text chunk {key!r} is cut short")
    return out


_PIECE = 1 << 20  # inflate 1 MiB at a time, so the limit is noticed before much more is made


def workflow_text_from_png(data: bytes, source: str | None = None) -> str:
    """The embedded workflow JSON text, or a WorkflowError saying why there is none."""
    from .graph.workflow import Problem, WorkflowError

    try:
        chunks = text_chunks(data, keys={WORKFLOW_KEY, "workflow", "prompt"})
    except PNGTextError as e:
        raise WorkflowError([Problem(f"cannot read the PNG's text chunks: {e}", code="bad_png")], source) from None
    if WORKFLOW_KEY not in chunks and ("workflow" in chunks or "prompt" in chunks):
        from .interop.comfyui.png import document_text

        return document_text(chunks, source)  # a ComfyUI picture: its workflow, converted
    if WORKFLOW_KEY not in chunks:
        raise WorkflowError([Problem("the PNG carries no fluxwire workflow (nor a ComfyUI one)", code="no_workflow")], source)
    return chunks[WORKFLOW_KEY]
