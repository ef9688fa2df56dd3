"""The layers design.md asks for: the engine (`flux_core.graph`) knows no FLUX math, and loads without torch.

A node API, a document and an executor that pulled in the transformer would make every tool that only reads or
checks workflows (the importer, `fluxwire validate`, the HTTP API's checks) pay for torch and the models."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import flux_core

GRAPH = Path(flux_core.__file__).parent / "graph"
# the FLUX math and the weights: models, their files, device memory, sampling and the FLUX.1 tools
FLUX_MATH = ("models", "loading", "memory", "lora", "mini", "sampling", "samplers", "schedulers", "guided_sampling",
             "inpaint", "fill", "kontext", "control", "redux", "masks", "patch_padding", "preprocess", "native_size",
             "picture_ops")


def imported_modules(path: Path) -> set[str]:
    """Every flux_core module a file imports, at the top or inside functions, relative imports resolved."""
    package = "flux_core.graph"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "flux_core":  # "from flux_core import x": x is a module or a name of the package
                found.update(f"flux_core.{a.name}" for a in node.names)
            elif module.startswith("flux_core"):
                found.add(module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("flux_core"))
    return found


def test_the_engine_imports_nothing_of_the_flux_math():
    wrong = {}
    for path in sorted(GRAPH.glob("*.py")):
        math = {m for m in imported_modules(path) if m.split(".")[1] in FLUX_MATH}
        if math:
            wrong[path.name] = sorted(math)
    assert wrong == {}


def test_the_engine_loads_without_torch():
    code = ("import sys, flux_core.graph.executor, flux_core.graph.validation, flux_core.graph.workflow\n"
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('flux_core.models', "
            "'flux_core.sampling', 'flux_core.loading', 'flux_core.memory', 'flux_core.lora'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
