"""The models folder: ComfyUI's layout, safe name resolution, and the package's own shipped models.

Model files are chosen by name from a folder kind (``diffusion_models``, ``text_encoders``, ``vae``,
``checkpoints``, ``diffusers``), never by free path. Names are looked up first in the user's models folder
(``--models-dir``, ``FLUXWIRE_MODELS_DIR`` or ``./models``), then in the models shipped inside the package, so
the embedded model is always found. A name that would resolve outside its folder is refused.
"""
from __future__ import annotations

import os
from pathlib import Path

from .files import UnsafeName, check_name, inside, is_safe_name
from .mini import MODELS_DIR

# folder kind -> the sub-folders that hold it (ComfyUI's names and aliases)
FOLDERS = {
    "diffusion_models": ("diffusion_models", "unet"),
    "text_encoders": ("text_encoders", "clip"),
    "vae": ("vae",),
    "checkpoints": ("checkpoints",),
    "diffusers": ("diffusers",),
    "tokenizers": ("tokenizers",),
    "loras": ("loras",),
    "clip_vision": ("clip_vision",),
    "style_models": ("style_models",),
    "model_patches": ("model_patches",),
}
# kind -> more folders searched after the models folders (ComfyUI's extra_model_paths.yaml; see
# flux_core/interop/comfyui/model_paths.py)
EXTRA_FOLDERS: dict[str, list[Path]] = {}
WEIGHT_SUFFIXES = (".safetensors", ".sft", ".gguf")
SHIPPED_MODELS = MODELS_DIR  # flux-mini's folder, searched after the user's


class ModelNameError(ValueError):
    """A model name that is unsafe or not present; the message lists what is there."""


def default_models_dir() -> Path:
    """The user's models folder when none is given: $FLUXWIRE_MODELS_DIR, else ./models."""
    return Path(os.environ.get("FLUXWIRE_MODELS_DIR") or "models")


def roots(models_dir: str | os.PathLike | None) -> list[Path]:
    """The models folders searched, the user's first."""
    user = Path(models_dir) if models_dir is not None else default_models_dir()
    out = [user]
    if SHIPPED_MODELS.is_dir() and SHIPPED_MODELS.resolve() != user.resolve():
        out.append(SHIPPED_MODELS)
    return out


def folders(kind: str, models_dir=None) -> list[Path]:
    if kind not in FOLDERS:
        raise ValueError(f"unknown model folder kind {kind!r}; known: {', '.join(FOLDERS)}")
    return [root / sub for root in roots(models_dir) for sub in FOLDERS[kind]] + list(EXTRA_FOLDERS.get(kind, ()))


def list_names(kind: str, models_dir=None) -> list[str]:
    """Names (relative paths with "/") of the weight files, or for ``diffusers`` the pipeline folders."""
    names: list[str] = []
    for folder in folders(kind, models_dir):
        if not folder.is_dir():
            continue
        if kind == "diffusers":
            found = sorted(p.name for p in folder.iterdir() if (p / "transformer").is_dir())
        else:
            found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                           if p.suffix in WEIGHT_SUFFIXES and p.is_file())
            found = [n for n in found if is_safe_name(n)]  # hidden files, temp files, odd names
        names += [n for n in found if n not in names]
    return names


def resolve(kind: str, name: str, models_dir=None) -> Path:
    """The file (or folder) for a model name; refuses names that leave the folder, lists what is there."""
    try:
        check_name(name, "model name")
    except UnsafeName as e:
        raise ModelNameError(str(e)) from None
    for folder in folders(kind, models_dir):
        candidate = folder / name
        if not candidate.exists():
            continue
        try:
            return inside(folder, name, "model name")
        except UnsafeName as e:
            raise ModelNameError(str(e)) from None
    present = list_names(kind, models_dir)
    extra = list(EXTRA_FOLDERS.get(kind, ()))
    where = " or ".join(str(f) for f in folders(kind, models_dir)[: len(FOLDERS[kind])] + extra)
    listing = ", ".join(present[:20]) + (" ..." if len(present) > 20 else "") if present else "no model files"
    raise ModelNameError(f"model file {name!r} is not in {where}; found there: {listing}")
