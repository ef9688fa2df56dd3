"""The user's workflows folder on the server: the canvas's Save / Save as / Open / rename / delete.

Names come from the browser, so every one is checked (a plain file name, no folders) and every path is
resolved and required to sit directly inside the folder before anything is read or written. Writes go to a
temporary file in the same folder and are moved into place with `os.replace`, so a crash never leaves half a
document, and nothing is overwritten unless the caller says so (Save of the open document does; Save as and
rename do not).

The name rules and the whole-or-nothing writes are `flux_core.files` (one place for every file fluxwire
writes); this module adds the workflows folder's own narrower name rule (a plain name, no sub-folders).
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from flux_core.files import UnsafeName, check_name, replace_file, write_new
from flux_core.graph.workflow import WorkflowError, dumps_document, parse_document

DEFAULT_DIR = "user/workflows"
SUFFIX = ".json"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,99}$")
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


class WorkflowFolderError(ValueError):
    """A request the folder refuses (bad name, missing file, would overwrite): the message says which."""


def default_workflows_dir() -> Path:
    return Path(os.environ.get("FLUXWIRE_WORKFLOWS_DIR") or DEFAULT_DIR)


class WorkflowFolder:
    """One folder of workflow documents, named by their file stem ("portrait" is portrait.json)."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)

    def path_of(self, name: Any) -> Path:
        """The file for a user-given name, refused unless it is a plain name directly in the folder."""
        if not isinstance(name, str):
            raise WorkflowFolderError("a workflow name must be text")
        name = name.strip()
        if name.lower().endswith(SUFFIX):
            name = name[: -len(SUFFIX)]
        try:
            check_name(name + SUFFIX, "a workflow name", subfolders=False)
        except UnsafeName as e:
            raise WorkflowFolderError(str(e)) from None
        if not NAME.match(name) or name.endswith((".", " ")):
            raise WorkflowFolderError(f"{name[:80]!r} is not a workflow name: use letters, digits, spaces and "
                                      "'.', '_', '-', '(', ')', '+' (at most 100), starting with a letter or digit")
        self.folder.mkdir(parents=True, exist_ok=True)
        base = self.folder.resolve()
        path = (base / (name + SUFFIX)).resolve()
        if path.parent != base:
            raise WorkflowFolderError(f"{name!r} would leave the workflows folder")
        return path

    def list(self) -> list[dict]:
        """Every saved workflow, newest first: {name, modified (epoch seconds), size}."""
        if not self.folder.is_dir():
            return []
        entries = []
        for p in self.folder.iterdir():
            if p.suffix == SUFFIX and p.is_file() and not p.name.startswith("."):
                st = p.stat()
                entries.append({"name": p.stem, "modified": st.st_mtime, "size": st.st_size})
        entries.sort(key=lambda e: (-e["modified"], e["name"]))
        return entries

    def load(self, name: Any) -> dict:
        path = self.path_of(name)
        if not path.is_file():
            raise WorkflowFolderError(f"there is no saved workflow named {path.stem!r}")
        if path.stat().st_size > MAX_DOCUMENT_BYTES:
            raise WorkflowFolderError(f"{path.stem}: the file is larger than 16 MB")
        return json.loads(path.read_text(encoding="utf-8"))

    def save(self, name: Any, document: Any, *, overwrite: bool = False) -> str:
        """Store a structurally valid document under `name`; returns the name used."""
        path = self.path_of(name)
        taken = f"a workflow named {path.stem!r} already exists; choose another name"
        if path.exists() and not overwrite:
            raise WorkflowFolderError(taken)
        doc = parse_document(document).to_dict()  # refuses what is not a workflow document at all
        doc.setdefault("metadata", {})["title"] = path.stem
        data = dumps_document(doc).encode("utf-8")
        if len(data) > MAX_DOCUMENT_BYTES:
            raise WorkflowFolderError(f"{path.stem}: the document is larger than 16 MB")
        if overwrite:
            replace_file(path, data)  # whole or not at all, a link at the name is replaced, not followed
        else:
            try:
                write_new(self.folder, path.name, data, what="a workflow name")  # never over another file
            except FileExistsError:
                raise WorkflowFolderError(taken) from None
        return path.stem

    def rename(self, old: Any, new: Any) -> str:
        src, dst = self.path_of(old), self.path_of(new)
        if not src.is_file():
            raise WorkflowFolderError(f"there is no saved workflow named {src.stem!r}")
        try:
            os.link(src, dst)  # fails when the new name is taken, so a rename never replaces another workflow
        except FileExistsError:
            raise WorkflowFolderError(f"a workflow named {dst.stem!r} already exists; choose another name") from None
        os.unlink(src)
        return dst.stem

    def delete(self, name: Any) -> str:
        path = self.path_of(name)
        if not path.is_file():
            raise WorkflowFolderError(f"there is no saved workflow named {path.stem!r}")
        path.unlink()
        return path.stem


def handle_request(folder: WorkflowFolder, request: Any) -> dict:
    """The canvas's one server function for the folder: {op: list|load|save|rename|delete, ...} -> result.

    Always answers {ok, message, workflows, ...}; a refused request names why and changes nothing."""
    op = request.get("op") if isinstance(request, dict) else None
    try:
        if op == "list":
            return {"ok": True, "message": "", "workflows": folder.list()}
        if op == "load":
            doc = folder.load(request.get("name"))
            return {"ok": True, "message": f"opened {request.get('name')}", "workflow": doc,
                    "workflows": folder.list()}
        if op == "save":
            name = folder.save(request.get("name"), request.get("workflow"), overwrite=bool(request.get("overwrite")))
            return {"ok": True, "name": name, "message": f"saved {name}", "saved_at": time.time(),
                    "workflows": folder.list()}
        if op == "rename":
            name = folder.rename(request.get("name"), request.get("new_name"))
            return {"ok": True, "name": name, "message": f"renamed to {name}", "workflows": folder.list()}
        if op == "delete":
            name = folder.delete(request.get("name"))
            return {"ok": True, "name": name, "message": f"deleted {name}", "workflows": folder.list()}
        raise WorkflowFolderError(f"unknown request {str(op)[:40]!r}")
    except (WorkflowFolderError, UnsafeName, WorkflowError, json.JSONDecodeError, OSError) as e:
        return {"ok": False, "message": str(e), "workflows": folder.list() if folder.folder.is_dir() else []}
