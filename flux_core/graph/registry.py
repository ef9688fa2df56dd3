"""Node classes and where they come from: built-in packs, installed packs, and a user folder.

A pack is a Python module with a ``NODES`` list of `Node` subclasses. Packs are found in three places,
in this order: the built-in packs listed in ``nodes.BUILTIN_PACKS``; installed distributions that declare an
entry point in the group ``fluxwire.nodes`` (pointing at a pack module, or at a callable returning the list);
and ``.py`` files or package folders in the user's nodes folder (``--nodes-dir``, default ``./custom_nodes``).
A pack that fails to import is reported by name and skipped; a node type already registered by an earlier
pack is refused with a message naming both packs.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from .node import Node

ENTRY_POINT_GROUP = "fluxwire.nodes"
DEFAULT_NODES_DIR = "custom_nodes"


@dataclass
class PackInfo:
    name: str
    source: str
    node_types: list[str] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    import_seconds: float = 0.0


class Registry:
    def __init__(self):
        self.nodes: dict[str, type[Node]] = {}
        self.packs: dict[str, PackInfo] = {}

    # --- lookup ------------------------------------------------------------------------------
    def get(self, type_name: str) -> type[Node] | None:
        return self.nodes.get(type_name)

    def __contains__(self, type_name: str) -> bool:
        return type_name in self.nodes

    def __iter__(self):
        return iter(self.nodes.values())

    @property
    def failures(self) -> dict[str, str]:
        """Packs that could not be loaded: name -> reason."""
        return {n: p.error for n, p in self.packs.items() if p.error}

    @property
    def problems(self) -> list[str]:
        """Every pack-level message worth showing a user (import failures and refused nodes)."""
        out = [f"node pack {n!r} ({p.source}) failed to load: {p.error}" for n, p in self.packs.items() if p.error]
        for p in self.packs.values():
            out += [f"node pack {p.name!r}: {msg}" for msg in p.problems]
        return out

    def describe(self, ctx=None) -> list[dict]:
        """The catalogue. A node whose declaration cannot be described (e.g. its choices function raises or
        hangs) is left out and reported on its pack, so the other nodes stay available."""
        out = []
        for cls in sorted(self.nodes.values(), key=lambda c: (c.category, c.type_name)):
            try:
                out.append(cls.describe(ctx))
            except Exception as e:
                self._note(cls.pack, f"node {cls.type_name!r} is left out of the catalogue: {_reason(e)}")
        return out

    def _note(self, pack: str, message: str) -> None:
        info = self.packs.setdefault(pack, PackInfo(name=pack, source=""))
        if message not in info.problems:
            info.problems.append(message)

    # --- registration -------------------------------------------------------------------------
    def add_pack(self, name: str, classes, source: str = "") -> PackInfo:
        """Register the node classes of one pack; problems are recorded on the returned PackInfo."""
        info = self.packs.get(name) or PackInfo(name=name, source=source)
        self.packs[name] = info
        for cls in classes:
            if not (inspect.isclass(cls) and issubclass(cls, Node)) or cls is Node:
                info.problems.append(f"{cls!r} in NODES is not a Node subclass; skipped")
                continue
            try:
                problems = cls.declaration_problems()
            except Exception as e:  # a declaration so broken that checking it fails
                problems = [f"checking it failed with {_reason(e)}"]
            if problems:
                info.problems.append(f"node {_label(cls)} is declared wrongly ({'; '.join(problems)}); skipped, "
                                     "fix its class declaration")
                continue
            existing = self.nodes.get(cls.type_name)
            if existing is not None and existing is not cls:
                info.problems.append(f"node type {cls.type_name!r} is already registered by pack "
                                     f"{existing.pack!r}; this one was not registered")
                continue
            if existing is None:
                cls.pack = name
                self.nodes[cls.type_name] = cls
                info.node_types.append(cls.type_name)
        return info

    def add_module(self, name: str, module: ModuleType, source: str) -> PackInfo:
        classes = getattr(module, "NODES", None)
        if classes is None:
            info = self.packs.setdefault(name, PackInfo(name=name, source=source))
            info.error = "the module has no NODES list"
            return info
        return self.add_pack(name, list(classes), source)

    def _load(self, name: str, source: str, importer) -> None:
        start = time.perf_counter()
        try:
            result = importer()
        except BaseException as e:  # a broken pack must never take the others down
            if isinstance(e, KeyboardInterrupt):  # the user pressed Ctrl-C: stop, as asked
                raise
            self.packs[name] = PackInfo(name=name, source=source, error=_import_error(e))
            return
        try:
            if isinstance(result, ModuleType):
                info = self.add_module(name, result, source)
            else:
                info = self.add_pack(name, list(result), source)
        except Exception as e:  # e.g. NODES is not a list
            info = self.packs.setdefault(name, PackInfo(name=name, source=source))
            info.error = f"its NODES list cannot be read ({_reason(e)}); NODES must be a list of Node classes"
        info.import_seconds = time.perf_counter() - start

    # --- discovery ----------------------------------------------------------------------------
    def load_builtin(self) -> None:
        import nodes

        for module_name in nodes.BUILTIN_PACKS:
            self._load(module_name.rsplit(".", 1)[-1], module_name,
                       lambda m=module_name: importlib.import_module(m))

    def load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            def importer(ep=ep):
                obj = ep.load()
                return obj() if callable(obj) and not isinstance(obj, ModuleType) else obj
            self._load(ep.name, f"entry point {ep.value}", importer)

    def load_folder(self, folder: str | os.PathLike) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            return
        for entry in sorted(folder.iterdir()):
            if entry.name.startswith((".", "_")) or entry.name.endswith(".disabled"):
                continue
            if entry.is_file() and entry.suffix == ".py":
                name, init = entry.stem, entry
            elif entry.is_dir() and (entry / "__init__.py").is_file():
                name, init = entry.name, entry / "__init__.py"
            else:
                continue
            self._load(name, str(entry), lambda n=name, f=init, d=entry.is_dir(): _import_file(n, f, d))


def _reason(e: BaseException) -> str:
    text = str(e)
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


def _label(cls) -> str:
    name = cls.__dict__.get("type_name") if isinstance(cls.__dict__.get("type_name"), str) else None
    return repr(name or cls.__name__)


def _import_error(e: BaseException) -> str:
    """Why a pack failed to import, with the file and line to fix."""
    if isinstance(e, SyntaxError):
        where = f" ({Path(e.filename or '?').name}:{e.lineno})" if e.lineno else ""
        return f"SyntaxError: {e.msg}{where}; fix the pack's code"
    last = traceback.extract_tb(e.__traceback__)[-1:] if e.__traceback__ else []
    where = f" ({Path(last[0].filename).name}:{last[0].lineno})" if last else ""
    if isinstance(e, SystemExit):
        return f"importing it called sys.exit({e.code!r}){where}; a pack must not end the process"
    hint = "; install what it needs" if isinstance(e, ImportError) else "; fix the pack's code"
    return f"{_reason(e)}{where}{hint}"


def _import_file(name: str, init: Path, is_package: bool) -> ModuleType:
    module_name = f"fluxwire_custom_nodes.{name}"
    spec = importlib.util.spec_from_file_location(
        module_name, init, submodule_search_locations=[str(init.parent)] if is_package else None)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {init}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def discover(nodes_dir: str | os.PathLike | None = None, *, builtin: bool = True,
             entry_points: bool = True) -> Registry:
    """A registry with every pack that can be found (see the module docstring for the order)."""
    registry = Registry()
    if builtin:
        registry.load_builtin()
    if entry_points:
        registry.load_entry_points()
    folder = nodes_dir if nodes_dir is not None else os.environ.get("FLUXWIRE_NODES_DIR", DEFAULT_NODES_DIR)
    registry.load_folder(folder)
    return registry


_default: dict[str, Registry] = {}


def default_registry(nodes_dir: str | os.PathLike | None = None) -> Registry:
    """The process-wide registry for a nodes folder (discovered once, then reused)."""
    key = str(Path(nodes_dir).resolve()) if nodes_dir is not None else ""
    if key not in _default:
        _default[key] = discover(nodes_dir)
    return _default[key]
