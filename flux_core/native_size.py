"""The picture size a diffusion model file was made for, read from its header (never its weights).

The canvas gives a new Empty Latent (and other width/height widgets) the native size of the model loaded
in the graph: 1024x1024 for the FLUX.1 family (schnell, dev, Fill, Kontext, Canny/Depth), and for a model
that states its training resolution in its metadata (fluxwire's own flux-mini writes
``fluxwire.training`` with ``resolution``: 64) that size. The decision rests on what the file holds (a
FLUX transformer, its variant from tensor shapes and metadata), not on its name; a file that is not a
FLUX transformer, or cannot be read, has no native size.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

FLUX1_SIDE = 1024  # FLUX.1 [schnell]/[dev]/Fill/Kontext are trained and documented around one megapixel
TRAINING_KEY = "fluxwire.training"
SCRIPT_KEY = "fluxwire.script"
MODEL_NAMES = {"schnell": "FLUX.1 schnell", "dev": "FLUX.1 dev", "fill": "FLUX.1 Fill", "kontext": "FLUX.1 Kontext"}

# folder kinds whose files hold a diffusion transformer (a loader's ModelFile folder)
TRANSFORMER_FOLDERS = ("diffusion_models", "checkpoints", "diffusers")

_cache: dict[tuple[str, int, int], dict | None] = {}


def _stated_resolution(metadata: dict) -> int | None:
    """A training resolution the file states about itself (a positive int), else None."""
    try:
        training = json.loads(metadata.get(TRAINING_KEY) or "null")
    except (TypeError, ValueError):
        return None
    side = training.get("resolution") if isinstance(training, dict) else None
    return side if isinstance(side, int) and not isinstance(side, bool) and 8 <= side <= 16384 else None


def native_size(path: str | os.PathLike) -> dict | None:
    """{"width", "height", "model"} for a FLUX transformer file or diffusers folder; None otherwise.

    Cached by (path, size, modification time): the catalogue asks again every few seconds."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return None
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _cache:
        _cache[key] = _read(path)
    return _cache[key]


def _read(path: Path) -> dict | None:
    from .loading.api import describe_file
    from .loading.safetensors_io import open_path

    try:
        info = describe_file(path)
        transformer = info["components"].get("transformer")
        if transformer is None:
            return None
        metadata = {} if path.is_dir() else open_path(path)[1]
    except Exception:  # noqa: BLE001 - an unreadable or foreign file simply has no known size
        return None
    side = _stated_resolution(metadata or {})
    if side is not None:
        script = str((metadata or {}).get(SCRIPT_KEY, ""))
        model = "flux-mini" if script.startswith("flux_core.mini.") else "its training resolution"
        return {"width": side, "height": side, "model": model}
    kind = transformer.get("model_type") or transformer.get("variant")
    return {"width": FLUX1_SIDE, "height": FLUX1_SIDE, "model": MODEL_NAMES.get(kind, "FLUX.1")}


def native_sizes(folder_names: dict[str, list[str]], models_dir) -> dict[str, dict]:
    """"<folder>/<name>" -> native size, for the transformer files offered in loader dropdowns."""
    from .model_folders import ModelNameError, resolve

    out: dict[str, dict] = {}
    for folder, names in folder_names.items():
        if folder not in TRANSFORMER_FOLDERS:
            continue
        for name in names:
            try:
                size = native_size(resolve(folder, name, models_dir))
            except (ModelNameError, OSError, ValueError):
                continue
            if size:
                out[folder + "/" + name] = size
    return out
