"""Helpers the FLUX nodes share: model files by name, images in the input folder, file fingerprints."""
from __future__ import annotations

import os
from pathlib import Path

from flux_core.files import UnsafeName, check_name, inside, is_safe_name
from flux_core.model_folders import ModelNameError, resolve, roots
from flux_core.graph.node import NodeError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")


def model_path(kind: str, name: str, env, input_name: str) -> Path:
    try:
        return resolve(kind, name, env.models_dir)
    except ModelNameError as e:
        raise NodeError(str(e), input=input_name) from None


def models_root_of(path: Path, env) -> Path:
    """The models folder (user's or shipped) a resolved file lives in: its tokenizers/ sit there."""
    for root in roots(env.models_dir):
        try:
            path.relative_to(root.resolve())
            return root
        except ValueError:
            continue
    return Path(env.models_dir)


def file_stamp(path: Path) -> tuple:
    """Changes when the file is replaced or edited: folded into loaders' cache keys."""
    try:
        st = os.stat(path)
    except OSError:
        return ("missing", str(path))
    return (str(path), st.st_mtime_ns, st.st_size)


def _input_roots(env) -> list[Path]:
    """The user's input folder, then the pictures shipped with fluxwire (so shipped workflows run as-is)."""
    import workflows

    user = getattr(env, "input_dir", None) or "input"  # no environment: the catalogue's default folders
    return [Path(user), Path(workflows.__file__).parent / "input"]


def input_images(env) -> list[str]:
    names: list[str] = []
    for folder in _input_roots(env):
        if folder.is_dir():
            names += [n for n in sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                                        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
                      if n not in names and is_safe_name(n)]
    return names


def input_image_path(env, name: str) -> Path:
    """The real path of a picture in the input folders; names that leave the folder (also by a link) are
    refused."""
    try:
        check_name(name, "image name")
    except UnsafeName as e:
        raise NodeError(f"{e}; it must be a file inside the input folder", input="image") from None
    for root in _input_roots(env):
        if not (root / name).exists():
            continue
        try:
            path = inside(root, name, "image")
        except UnsafeName as e:
            raise NodeError(str(e), input="image") from None
        if path.is_file():
            return path
    present = ", ".join(input_images(env)[:20]) or "no images"
    raise NodeError(f"image {name!r} is not in {_input_roots(env)[0].resolve()}; found there: {present}",
                    input="image")
