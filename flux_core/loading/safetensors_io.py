"""Reading safetensors files and sharded safetensors folders without pickle and without copies.

The header (an 8-byte little-endian length, then JSON) is parsed here first, so a file that is not
safetensors at all (e.g. a pickled ``.ckpt``), is cut short, or is corrupt gets a clear
:class:`ModelLoadError` before anything else happens. Tensor data is then read through
``safetensors.safe_open``, which memory-maps the file: a tensor costs RAM only when its pages are
touched, and a tensor loaded in its stored dtype is used in place (no second copy). Keep in mind
that a memory-mapped file must not be overwritten in place while a model loaded from it is alive.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import ModelLoadError, first_keys
from .tensors import LazyTensor

SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the format's own limit


@dataclass(frozen=True)
class TensorInfo:
    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int
    end: int


@dataclass(frozen=True)
class FileHeader:
    path: Path
    tensors: dict[str, TensorInfo]
    metadata: dict[str, str]
    file_size: int


def _not_safetensors(path: Path, head: bytes) -> ModelLoadError:
    if head[:2] == b"PK" or head[:1] == b"\x80":
        return ModelLoadError(
            f"{path}: this is a pickled PyTorch checkpoint (.ckpt/.pt/.bin), not safetensors; fluxwire never "
            "unpickles files (it can run code). Convert it to .safetensors first."
        )
    return ModelLoadError(f"{path}: not a safetensors file (the header is not valid safetensors JSON)")


def read_header(path: str | os.PathLike) -> FileHeader:
    """Parse and check a safetensors header: file present, header valid, every tensor inside the file."""
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(f"{path}: file not found")
    if path.is_dir():
        raise ModelLoadError(f"{path}: is a folder, expected a .safetensors file")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelLoadError(f"{path}: only {size} bytes, too short to be a safetensors file (truncated?)")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER_BYTES:
            raise _not_safetensors(path, head)
        if 8 + n > size:
            if head[:1] == b"\x80" or head[:2] == b"PK":
                raise _not_safetensors(path, head)
            raise ModelLoadError(
                f"{path}: truncated: the header says {n} bytes but the file has only {size - 8} after the length"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _not_safetensors(path, head) from None
    if not isinstance(header, dict):
        raise _not_safetensors(path, head)
    metadata = header.pop("__metadata__", None) or {}
    tensors: dict[str, TensorInfo] = {}
    bad_dtype, bad_size = [], []
    for key, entry in header.items():
        try:
            dtype_name, shape, (start, end) = entry["dtype"], tuple(entry["shape"]), entry["data_offsets"]
        except (TypeError, KeyError, ValueError):
            raise ModelLoadError(f"{path}: corrupt header entry for tensor {key!r}") from None
        dtype = SAFETENSORS_DTYPES.get(dtype_name)
        if dtype is None:
            bad_dtype.append(f"{key} ({dtype_name})")
            continue
        numel = 1
        for s in shape:
            numel *= s
        if end - start != numel * dtype.itemsize:
            bad_size.append(key)
        tensors[key] = TensorInfo(dtype, shape, start, end)
    if bad_dtype:
        raise ModelLoadError(f"{path}: unsupported tensor dtypes: {first_keys(bad_dtype)}")
    if bad_size:
        raise ModelLoadError(f"{path}: corrupt header, byte ranges do not match shapes for {first_keys(bad_size)}")
    data_size = size - 8 - n
    beyond = [k for k, t in tensors.items() if t.end > data_size]
    if beyond:
        raise ModelLoadError(
            f"{path}: truncated: the file ends before the data of {len(beyond)} tensor(s): {first_keys(beyond)} "
            f"(file has {size} bytes, needs {8 + n + max(tensors[k].end for k in beyond)})"
        )
    return FileHeader(path, tensors, {str(k): str(v) for k, v in metadata.items()}, size)


def open_file(path: str | os.PathLike) -> tuple[dict[str, LazyTensor], dict[str, str]]:
    """All tensors of one file as lazy, memory-mapped tensors, plus the file's ``__metadata__``."""
    header = read_header(path)
    handles = []  # opened on the first read, so describing a file costs only its header

    def handle():
        if not handles:
            from safetensors import safe_open

            try:
                handles.append(safe_open(str(header.path), framework="pt", device="cpu"))
            except Exception as exc:  # the library's own parse errors
                raise ModelLoadError(f"{header.path}: cannot open as safetensors: {exc}") from None
        return handles[0]

    def loader(key: str):
        def load():
            opened = handle()
            try:
                return opened.get_tensor(key)
            except Exception as exc:
                raise ModelLoadError(f"{header.path}: cannot read tensor {key!r}: {exc}") from None

        return load

    name = header.path.name
    lazy = {
        key: LazyTensor(info.shape, info.dtype, loader(key), f"{name}:{key}") for key, info in header.tensors.items()
    }
    return lazy, header.metadata


def open_sharded(index_path: str | os.PathLike) -> tuple[dict[str, LazyTensor], dict[str, str]]:
    """A ``*.safetensors.index.json`` and its shards as one lazy state dict (metadata merged)."""
    index_path = Path(index_path)
    try:
        index = json.loads(index_path.read_text())
        weight_map = index["weight_map"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"{index_path}: not a valid safetensors index ({exc})") from None
    lazy: dict[str, LazyTensor] = {}
    metadata: dict[str, str] = {}
    for shard in sorted(set(weight_map.values())):
        tensors, meta = open_file(index_path.parent / shard)
        metadata.update(meta)
        listed = {k for k, v in weight_map.items() if v == shard}
        missing = listed - tensors.keys()
        if missing:
            raise ModelLoadError(f"{index_path.parent / shard}: the index lists tensors it lacks: {first_keys(missing)}")
        lazy.update({k: tensors[k] for k in listed})
    return lazy, metadata


def weight_files_in(folder: Path) -> list[Path]:
    """The safetensors weight files of a model folder: an index if present, else the single file."""
    indexes = sorted(folder.glob("*.safetensors.index.json"))
    if indexes:
        return indexes[:1]
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    pickled = sorted(p.name for ext in ("*.bin", "*.ckpt", "*.pt", "*.pth") for p in folder.glob(ext))
    hint = f" (found only pickle files {pickled}; fluxwire reads safetensors only)" if pickled else ""
    raise ModelLoadError(f"{folder}: no .safetensors weights in this folder{hint}")


def open_path(path: str | os.PathLike) -> tuple[dict[str, LazyTensor], dict[str, str]]:
    """A file, an index json, or a folder holding one model's safetensors weights (or a .gguf file)."""
    path = Path(path)
    if path.suffix.lower() == ".gguf":
        from .gguf_file import open_gguf

        return open_gguf(path)
    if path.is_dir():
        found = weight_files_in(path)
        if found[0].name.endswith(".index.json"):
            return open_sharded(found[0])
        if len(found) > 1:
            raise ModelLoadError(
                f"{path}: several .safetensors files and no index.json: {[p.name for p in found]}; pass one file"
            )
        return open_file(found[0])
    if path.name.endswith(".index.json"):
        return open_sharded(path)
    return open_file(path)
