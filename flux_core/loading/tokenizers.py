"""Finding the tokenizers that go with single-file text encoders (safetensors files carry none).

Order: for a diffusers ``text_encoder(_2)/`` folder its sibling ``tokenizer(_2)/``; then
``<models_dir>/tokenizers/<weights file stem>/`` (a model may ship its own tokenizer, e.g.
``text_encoders/flux-mini-t5.safetensors`` -> ``tokenizers/flux-mini-t5/``), then
``<models_dir>/tokenizers/t5xxl/`` or ``<models_dir>/tokenizers/clip_l/``, then the Hugging Face cache
for ``google/t5-v1_1-xxl`` / ``openai/clip-vit-large-patch14`` (downloading only if the hub answers;
never when ``HF_HUB_OFFLINE=1``). ``models_dir`` defaults to ``$FLUXWIRE_MODELS_DIR``, else ``./models``.
"""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

from ..model_folders import default_models_dir
from .errors import ModelLoadError

HUB_IDS = {"t5": "google/t5-v1_1-xxl", "clip": "openai/clip-vit-large-patch14"}
FOLDERS = {"t5": "t5xxl", "clip": "clip_l"}
DIFFUSERS_SIBLINGS = {"text_encoder": "tokenizer", "text_encoder_2": "tokenizer_2"}  # pipeline folder layout
# any one of these file sets makes a usable tokenizer folder
TOKENIZER_FILE_SETS = {
    "t5": (("tokenizer.json",), ("spiece.model",)),
    "clip": (("tokenizer.json",), ("vocab.json", "merges.txt")),
}
HUB_FILES = ["tokenizer.json", "spiece.model", "vocab.json", "merges.txt", "tokenizer_config.json",
             "special_tokens_map.json"]
REQUIRED_FILES = {
    "t5": "tokenizer.json (or spiece.model) with tokenizer_config.json and special_tokens_map.json",
    "clip": "vocab.json and merges.txt (or tokenizer.json) with tokenizer_config.json and special_tokens_map.json",
}
_hub_answer: bool | None = None


def hub_reachable() -> bool:
    """False when offline mode is set or huggingface.co does not answer within a second (checked once)."""
    global _hub_answer
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    if os.environ.get("TRANSFORMERS_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    if _hub_answer is None:
        try:
            socket.create_connection(("huggingface.co", 443), timeout=1.0).close()
            _hub_answer = True
        except OSError:
            _hub_answer = False
    return _hub_answer


def is_tokenizer_folder(folder: Path, kind: str) -> bool:
    """True when ``folder`` holds the files a ``kind`` tokenizer is built from.

    Checked before loading because transformers 5 silently builds an *empty* tokenizer when the
    vocabulary files are missing.
    """
    return folder.is_dir() and any(all((folder / f).is_file() for f in files) for files in TOKENIZER_FILE_SETS[kind])


def _hub_folder(kind: str, online: bool) -> Path | None:
    """The Hugging Face cache snapshot holding the tokenizer files (downloaded first if online)."""
    from huggingface_hub import snapshot_download, try_to_load_from_cache

    repo = HUB_IDS[kind]
    for files in TOKENIZER_FILE_SETS[kind]:
        found = try_to_load_from_cache(repo, files[0])
        if isinstance(found, str) and is_tokenizer_folder(Path(found).parent, kind):
            return Path(found).parent
    if online:
        try:
            return Path(snapshot_download(repo, allow_patterns=HUB_FILES))
        except Exception:
            return None
    return None


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
    candidates = list(dict.fromkeys(candidates))
    for folder in candidates:
        if is_tokenizer_folder(folder, kind):
            return load_tokenizer_folder(folder, kind)
    online = hub_reachable()
    cached = _hub_folder(kind, online)
    if cached is not None and is_tokenizer_folder(cached, kind):
        return load_tokenizer_folder(cached, kind)
    tried = ", ".join(str(c) for c in candidates)
    raise ModelLoadError(
        f"no {kind.upper()} tokenizer found for {weights_path}: looked in {tried} and in the Hugging Face cache "
        f"for {HUB_IDS[kind]} ({'download failed' if online else 'hub not reachable'}). Put {REQUIRED_FILES[kind]} "
        f"into {models_dir / 'tokenizers' / FOLDERS[kind]}/ (e.g. copied from the {HUB_IDS[kind]} repository, "
        f"{'tokenizer_2/' if kind == 't5' else 'tokenizer/'} of a diffusers FLUX folder)."
    )
