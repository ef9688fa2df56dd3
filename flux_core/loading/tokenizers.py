"""Finding the tokenizers that go with single-file text encoders (safetensors files carry none).

Searched in this order, offline only (a user's tokenizers come from their models folder or a cache
they already have; nothing is downloaded):

1. for a diffusers ``text_encoder(_2)/`` folder its sibling ``tokenizer(_2)/``;
2. ``<models_dir>/tokenizers/<weights file stem>/`` (a model may ship its own tokenizer, e.g.
   ``text_encoders/flux-mini-t5.safetensors`` -> ``tokenizers/flux-mini-t5/``), then
   ``<models_dir>/tokenizers/t5xxl/`` or ``<models_dir>/tokenizers/clip_l/``;
3. the ComfyUI installation a ``models/`` folder belongs to: ComfyUI keeps its tokenizers in its source
   tree, ``comfy/text_encoders/t5_tokenizer/`` (T5) and ``comfy/sd1_tokenizer/`` (CLIP-L), next to ``models/``;
4. the Hugging Face hub cache (``$HF_HUB_CACHE``, else ``$HF_HOME/hub``, else
   ``~/.cache/huggingface/hub``): ``google/t5-v1_1-xxl`` / ``openai/clip-vit-large-patch14``, then the
   ``tokenizer_2/`` (T5) or ``tokenizer/`` (CLIP) folder of ``black-forest-labs/FLUX.1-dev`` or ``-schnell``.

``models_dir`` defaults to ``$FLUXWIRE_MODELS_DIR``, else ``./models``. A miss names every place searched.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from ..model_folders import default_models_dir
from .errors import ModelLoadError

HUB_IDS = {"t5": "google/t5-v1_1-xxl", "clip": "openai/clip-vit-large-patch14"}
FOLDERS = {"t5": "t5xxl", "clip": "clip_l"}
# where a ComfyUI checkout keeps them (relative to the folder holding ``models/`` and ``comfy/``)
COMFYUI_FOLDERS = {"t5": Path("comfy/text_encoders/t5_tokenizer"), "clip": Path("comfy/sd1_tokenizer")}
FLUX_REPOS = ("black-forest-labs/FLUX.1-dev", "black-forest-labs/FLUX.1-schnell")
FLUX_REPO_FOLDERS = {"t5": "tokenizer_2", "clip": "tokenizer"}
DIFFUSERS_SIBLINGS = {"text_encoder": "tokenizer", "text_encoder_2": "tokenizer_2"}  # pipeline folder layout
# any one of these file sets makes a usable tokenizer folder
TOKENIZER_FILE_SETS = {
    "t5": (("tokenizer.json",), ("spiece.model",)),
    "clip": (("tokenizer.json",), ("vocab.json", "merges.txt")),
}
REQUIRED_FILES = {
    "t5": "tokenizer.json (or spiece.model) with tokenizer_config.json and special_tokens_map.json",
    "clip": "vocab.json and merges.txt (or tokenizer.json) with tokenizer_config.json and special_tokens_map.json",
}
def is_tokenizer_folder(folder: Path, kind: str) -> bool:
    """True when ``folder`` holds the files a ``kind`` tokenizer is built from.

    Checked before loading because transformers 5 silently builds an *empty* tokenizer when the
    vocabulary files are missing.
    """
    return folder.is_dir() and any(all((folder / f).is_file() for f in files) for files in TOKENIZER_FILE_SETS[kind])


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, from the environment as huggingface_hub reads it (at call time)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.path.expanduser(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        return Path(os.path.expanduser(os.environ["HF_HOME"])) / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "huggingface" / "hub"


def _snapshots(repo_folder: Path) -> list[Path]:
    """A cached repo's snapshots, the one ``refs/main`` points at first, then the newest."""
    found = sorted((p for p in (repo_folder / "snapshots").glob("*") if p.is_dir()),
                   key=lambda p: p.stat().st_mtime, reverse=True)
    try:
        main = (repo_folder / "refs" / "main").read_text().strip()
    except OSError:
        return found
    return sorted(found, key=lambda p: p.name != main)


def hub_cache_candidates(kind: str) -> list[Path]:
    """Folders of the hub cache that may hold a ``kind`` tokenizer, in search order."""
    cache = hub_cache_dir()
    out = []
    for repo, sub in [(HUB_IDS[kind], "")] + [(r, FLUX_REPO_FOLDERS[kind]) for r in FLUX_REPOS]:
        folder = cache / ("models--" + repo.replace("/", "--"))
        out += [snap / sub if sub else snap for snap in _snapshots(folder)] or [folder]
    return out


def comfyui_candidates(kind: str, weights_path, models_dir: Path) -> list[Path]:
    """The tokenizer folder of each ComfyUI checkout a models folder in play belongs to."""
    roots = [models_dir.absolute().parent]
    if weights_path is not None:
        roots += [p.parent for p in Path(weights_path).absolute().parents if p.name == "models"]
    return [root / COMFYUI_FOLDERS[kind] for root in dict.fromkeys(roots)]


_loaded: dict[tuple[str, str], tuple[tuple, object]] = {}  # (folder, kind) -> (files' stamp, tokenizer)
_loaded_lock = threading.Lock()


def _folder_stamp(folder: Path) -> tuple:
    """Name, size and modification time of every file in the folder: any change means a new tokenizer."""
    return tuple(sorted((p.name, st.st_size, st.st_mtime_ns) for p in folder.iterdir()
                        if p.is_file() and (st := p.stat())))


def load_tokenizer_folder(folder: Path, kind: str):
    """A tokenizer saved with ``save_pretrained`` (or laid out like the hub repos) in ``folder``.

    Built once per process and folder (building one took 0.2-0.4 s of every cold load) and shared by
    every model loaded with it; built again when a file in the folder changed. Shared tokenizers are
    only read (``TextConditioner`` serialises calls to one tokenizer).
    """
    if not is_tokenizer_folder(folder, kind):
        raise ModelLoadError(f"{folder}: not a {kind.upper()} tokenizer folder: it needs {REQUIRED_FILES[kind]}")
    key, stamp = (str(Path(folder).resolve()), kind), _folder_stamp(Path(folder))
    with _loaded_lock:
        hit = _loaded.get(key)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        tokenizer = _build_tokenizer(Path(folder), kind)
        _loaded[key] = (stamp, tokenizer)
        return tokenizer


def _build_tokenizer(folder: Path, kind: str):
    from transformers import AutoTokenizer, CLIPTokenizer, T5Tokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except Exception as first:  # a folder without a tokenizer_class in its config
        fallback = T5Tokenizer if kind == "t5" else CLIPTokenizer
        try:
            return fallback.from_pretrained(str(folder), local_files_only=True)
        except Exception:
            raise ModelLoadError(f"{folder}: cannot load the {kind.upper()} tokenizer: {first}") from None


def find_tokenizer(kind: str, weights_path: str | os.PathLike | None, models_dir: str | os.PathLike | None):
    """The tokenizer for a ``kind`` ("t5" or "clip") encoder loaded from ``weights_path``."""
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    candidates = []
    if weights_path is not None and Path(weights_path).name in DIFFUSERS_SIBLINGS:
        candidates.append(Path(weights_path).parent / DIFFUSERS_SIBLINGS[Path(weights_path).name])
    if weights_path is not None:
        name = Path(weights_path).name
        stem = name.rsplit(".", 1)[0] if name.endswith((".safetensors", ".sft")) else name
        candidates.append(models_dir / "tokenizers" / stem)
    candidates.append(models_dir / "tokenizers" / FOLDERS[kind])
    candidates += comfyui_candidates(kind, weights_path, models_dir)
    candidates += hub_cache_candidates(kind)
    candidates = list(dict.fromkeys(candidates))
    for folder in candidates:
        if is_tokenizer_folder(folder, kind):
            return load_tokenizer_folder(folder, kind)
    tried = "; ".join(str(c) for c in candidates)
    raise ModelLoadError(
        f"no {kind.upper()} tokenizer found for {weights_path}: searched {tried}. Put {REQUIRED_FILES[kind]} "
        f"into {models_dir / 'tokenizers' / FOLDERS[kind]}/ (e.g. copied from ComfyUI's "
        f"{COMFYUI_FOLDERS[kind].as_posix()}/, the {HUB_IDS[kind]} repository or the "
        f"{FLUX_REPO_FOLDERS[kind]}/ folder of a diffusers FLUX.1 folder)."
    )
