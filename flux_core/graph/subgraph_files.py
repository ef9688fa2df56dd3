"""Subgraph files: reading and checking one (a definition plus the embedded definitions it uses), its
revision (the hash of its bytes), and writing one. See docs/workflow-format.md, *Subgraphs*.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .subgraph_document import DEFINITION_KEYS, SUBGRAPH_FORMAT, SubgraphDef, parse_definition, parse_definitions
from .workflow import Problem, WorkflowError


@dataclass
class LoadedFile:
    definition: SubgraphDef
    scope: "Scope"
    revision: str


@dataclass
class Scope:
    """Where references inside a definition are looked up: embedded definitions and a folder for files."""

    definitions: dict[str, SubgraphDef]
    folder: Path | None
    key: str  # identity of the document holding these definitions
    source: str | None = None  # the file's name, for messages


def revision_of(data: bytes) -> str:
    """A referenced file's revision: the hash of its bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def load_subgraph_file(path: Path) -> LoadedFile:
    """Read and check a subgraph file; raise WorkflowError naming the file."""
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise WorkflowError([Problem(f"cannot read the subgraph file: {e.strerror}", code="missing_subgraph")],
                            source) from None
    return parse_subgraph_file(raw, path)


def parse_subgraph_file(raw: bytes, path: Path) -> LoadedFile:
    source = str(path)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise WorkflowError([Problem(f"the subgraph file is not valid JSON ({type(e).__name__})", code="not_json")],
                            source) from None
    problems: list[Problem] = []
    if not isinstance(data, dict) or data.get("format") != SUBGRAPH_FORMAT:
        got = data.get("format") if isinstance(data, dict) else None
        raise WorkflowError([Problem(f'a subgraph file has "format": "{SUBGRAPH_FORMAT}", got {got!r}',
                                     code="bad_format")], source)
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or not 2 <= version <= 2:
        problems.append(Problem(f'"version" of a subgraph file must be 2, got {version!r}'
                                + ("; update fluxwire" if isinstance(version, int) and version > 2 else ""),
                                code="bad_version"))
    if "metadata" in data and not isinstance(data["metadata"], dict):
        problems.append(Problem('"metadata" must be an object', code="bad_type"))
    body = {k: v for k, v in data.items() if k not in ("format", "version", "subgraphs", "metadata")}
    definition = parse_definition(body, "the subgraph", problems, allowed=DEFINITION_KEYS)
    embedded = data.get("subgraphs", {})
    if not isinstance(embedded, dict):
        problems.append(Problem('"subgraphs" must be an object', code="bad_type"))
        embedded = {}
    definitions = parse_definitions(embedded, problems)
    if problems or definition is None:
        raise WorkflowError(problems or [Problem("the subgraph file is invalid", code="bad_subgraph")], source)
    resolved = path.resolve()
    return LoadedFile(definition, Scope(definitions, resolved.parent, key=str(resolved), source=path.name),
                      revision_of(raw))


def subgraph_file_document(definition: SubgraphDef, definitions: dict[str, SubgraphDef] | None = None,
                           metadata: dict | None = None) -> dict:
    """The JSON document of a subgraph file (what the canvas's "save to library" writes)."""
    doc = {"format": SUBGRAPH_FORMAT, "version": 2, **definition.to_dict()}
    if definitions:
        doc["subgraphs"] = {k: d.to_dict() for k, d in definitions.items()}
    if metadata:
        doc["metadata"] = metadata
    return doc
