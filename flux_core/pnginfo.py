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


def text_chunks(data: bytes) -> dict[str, str]:
    """All tEXt, zTXt and iTXt chunks of a PNG as {key: text}; raises ValueError for a broken PNG."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file")
    out: dict[str, str] = {}
    pos = len(_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if pos + 12 + length > len(data):
            raise ValueError("the PNG is truncated")
        if struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] != zlib.crc32(kind + body):
            raise ValueError(f"the PNG is damaged (checksum of its {kind.decode('latin-1')} chunk is wrong)")
        pos += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, _method = rest[0], rest[1]
            _lang, _, rest = rest[2:].partition(b"\0")
            _tkey, _, text = rest.partition(b"\0")
            out[key.decode("latin-1")] = (zlib.decompress(text) if compressed else text).decode("utf-8")
        elif kind == b"IEND":
            return out
    raise ValueError("the PNG is truncated (it ends before its IEND chunk): the file was not written whole")


def workflow_text_from_png(data: bytes, source: str | None = None) -> str:
    """The embedded workflow JSON text, or a WorkflowError saying why there is none."""
    from .workflow import Problem, WorkflowError

    try:
        chunks = text_chunks(data)
    except (ValueError, zlib.error, UnicodeDecodeError, struct.error) as e:
        raise WorkflowError([Problem(f"cannot read the PNG's text chunks: {e}", code="bad_png")], source) from None
    if WORKFLOW_KEY not in chunks and ("workflow" in chunks or "prompt" in chunks):
        from .interop.comfyui.png import document_text

        return document_text(chunks, source)  # a ComfyUI picture: its workflow, converted
    if WORKFLOW_KEY not in chunks:
        raise WorkflowError([Problem("the PNG carries no fluxwire workflow (nor a ComfyUI one)", code="no_workflow")], source)
    return chunks[WORKFLOW_KEY]
