"""ComfyUI's ``extra_model_paths.yaml``: more folders to find model files in, read as ComfyUI reads it.

Each top-level entry (e.g. ``comfyui:``, ``a111:``) may have a ``base_path`` (relative paths are relative
to the YAML file; ``~`` and ``$VARS`` expand) and per-kind folders, one or several per kind (several as a
multi-line string), relative to ``base_path``. ComfyUI's legacy kind names ``unet`` and ``clip`` mean
``diffusion_models`` and ``text_encoders``; kinds fluxwire has no use for (embeddings, controlnet, ...)
are ignored. The folders are searched after the models folder, in the file's order.
"""
from __future__ import annotations

import os
from pathlib import Path

from ... import model_folders

KIND_ALIASES = {"unet": "diffusion_models", "clip": "text_encoders"}


class ExtraPathsError(ValueError):
    """The YAML file cannot be used; the message says why."""


def read_extra_paths(path: str | os.PathLike) -> dict[str, list[Path]]:
    """{fluxwire folder kind: [folders]} from an extra_model_paths.yaml file."""
    import yaml

    path = Path(path)
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ExtraPathsError(f"cannot read {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ExtraPathsError(f"{path} is not valid YAML: {e}") from None
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ExtraPathsError(f"{path}: expected entries like 'comfyui:' with 'base_path' and folders")
    here = path.resolve().parent
    found: dict[str, list[Path]] = {}
    for entry_name, entry in config.items():
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise ExtraPathsError(f"{path}: entry {entry_name!r} must map folder kinds to paths")
        entry = dict(entry)
        base = entry.pop("base_path", None)
        entry.pop("is_default", None)
        if base is not None:
            base = Path(os.path.expandvars(os.path.expanduser(str(base))))
            base = base if base.is_absolute() else here / base
        for kind, value in entry.items():
            kind = KIND_ALIASES.get(str(kind), str(kind))
            if kind not in model_folders.FOLDERS or not isinstance(value, str):
                continue
            for line in value.split("\n"):
                line = line.strip()
                if not line:
                    continue
                folder = Path(line)
                folder = base / folder if base is not None else (folder if folder.is_absolute() else here / folder)
                folder = Path(os.path.normpath(folder))
                if folder not in found.setdefault(kind, []):
                    found[kind].append(folder)
    return found


def use_extra_paths(path: str | os.PathLike) -> dict[str, list[Path]]:
    """Read the file and add its folders to the search (for this process)."""
    found = read_extra_paths(path)
    for kind, folders in found.items():
        known = model_folders.EXTRA_FOLDERS.setdefault(kind, [])
        known += [f for f in folders if f not in known]
    return found
