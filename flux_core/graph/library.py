"""The subgraph library: reusable pieces found by name in the user's folder, then in the shipped one.

A library entry is a subgraph file (``"format": "fluxwire.subgraph"``); its name is its path inside the
folder without ``.json`` (``flux/schnell-t2i``). The user's folder comes first so a user can shadow a
shipped entry; instances record the revision they were made with, so a change is noticed either way.
"""
from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LIBRARY_DIR = "library"


def shipped_library_dir() -> Path | None:
    """`workflows/library/` of the installed `workflows` package."""
    try:
        import workflows
    except ImportError:
        return None
    folder = Path(workflows.__file__).resolve().parent / "library"
    return folder if folder.is_dir() else None


def user_library_dir(library_dir: str | os.PathLike | None = None) -> Path:
    """The user's folder: the argument, else $FLUXWIRE_LIBRARY_DIR, else ./library."""
    if library_dir is None:
        library_dir = os.environ.get("FLUXWIRE_LIBRARY_DIR") or DEFAULT_LIBRARY_DIR
    return Path(library_dir)


class Library:
    """Folders searched in order for library entries."""

    def __init__(self, library_dir: str | os.PathLike | None = None, *, shipped: bool = True):
        self.user_dir = user_library_dir(library_dir)
        self.folders = [self.user_dir]
        ship = shipped_library_dir() if shipped else None
        if ship is not None:
            self.folders.append(ship)

    def find(self, name: str) -> Path | None:
        """The file of library entry `name`, or None (names never leave their folder)."""
        if not valid_name(name):
            return None
        for folder in self.folders:
            path = folder / (name + ".json")
            if path.is_file():
                return path
        return None

    def entries(self) -> dict[str, Path]:
        """Every entry name -> file; a user's entry shadows a shipped one of the same name."""
        found: dict[str, Path] = {}
        for folder in self.folders:
            if not folder.is_dir():
                continue
            for path in sorted(folder.rglob("*.json")):
                name = path.relative_to(folder).with_suffix("").as_posix()
                if valid_name(name):
                    found.setdefault(name, path)
        return dict(sorted(found.items()))

    def save_path(self, name: str) -> Path:
        """Where a new entry of this name is written: always the user's folder."""
        if not valid_name(name):
            raise ValueError(f"a library name is words of letters, digits, '-', '_' and '.' separated by '/', "
                             f"got {name!r}")
        return self.user_dir / (name + ".json")


def valid_name(name: str) -> bool:
    parts = name.split("/") if isinstance(name, str) else []
    return bool(parts) and all(p and p not in (".", "..") and not p.startswith(".")
                               and all(c.isalnum() or c in "-_. " for c in p) for p in parts)
