"""The canvas's "save to library": a subgraph sent by the browser becomes a file in the user's library.

Everything the browser sends is checked again here (the name stays inside the library folder, the
definition parses as a subgraph file); an existing entry is never overwritten, so nothing saved is lost.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flux_core.graph.executor import Executor
from flux_core.graph.library import Library, valid_name
from flux_core.graph.subgraph_document import SUBGRAPH_FORMAT
from flux_core.graph.subgraph_files import parse_subgraph_file, subgraph_file_document
from flux_core.graph.workflow import WorkflowError, dumps_document, save_document


def save_library_entry(request: Any, executor: Executor) -> dict:
    """{name, definition, definitions?} -> {ok, name, path, message}."""
    def refuse(message: str) -> dict:
        return {"ok": False, "name": None, "message": message}

    if not isinstance(request, dict) or not isinstance(request.get("definition"), dict):
        return refuse("send {name, definition} to save a subgraph")
    name = request.get("name")
    if not isinstance(name, str) or not valid_name(name.strip()):
        return refuse("a library name is words of letters, digits, '-', '_' and '.', separated by '/'")
    name = name.strip()
    library = Library(executor.env.library_dir)
    path = library.save_path(name)
    doc = {"format": SUBGRAPH_FORMAT, "version": 2, **request["definition"]}
    definitions = request.get("definitions")
    if definitions:
        doc["subgraphs"] = definitions
    try:
        loaded = parse_subgraph_file(json.dumps(doc).encode(), Path(path))
    except (WorkflowError, TypeError, ValueError) as e:
        return refuse(f"the subgraph cannot be saved: {e}")
    text_doc = subgraph_file_document(loaded.definition, loaded.scope.definitions)
    if path.exists():
        if path.read_text(encoding="utf-8") == dumps_document(text_doc):
            return {"ok": True, "name": name, "path": str(path), "message": f"{name} is already in the library"}
        return refuse(f"the library already has an entry named {name!r} ({path}); choose another name")
    save_document(text_doc, path)
    return {"ok": True, "name": name, "path": str(path), "message": f"saved {name} to the library ({path})"}
