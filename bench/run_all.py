"""Run every benchmark in this folder (``make bench``); each prints its own ratios against its target.

``vs_comfyui.py`` runs last, beside the ComfyUI checkout named by ``COMFYUI`` (and the Python of its
venv by ``COMFYUI_PYTHON``): ``make bench COMFYUI=/path/to/ComfyUI COMFYUI_PYTHON=/path/to/python``;
without ``COMFYUI`` it is skipped."""
from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def main() -> int:
    here = Path(__file__).parent
    failures = 0
    for script in [*sorted(here.glob("bench_*.py")), here / "vs_comfyui.py"]:
        print(f"== {script.name}", flush=True)
        spec = importlib.util.spec_from_file_location(script.stem, script)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            if script.name == "vs_comfyui.py":
                comfy = os.environ.get("COMFYUI")
                python = os.environ.get("COMFYUI_PYTHON")
                module.main([*(["--comfyui", comfy] if comfy else []), *(["--comfyui-python", python] if python else [])])
            else:
                module.main()
        except Exception as e:  # one broken benchmark should not hide the others' numbers
            failures += 1
            print(f"{script.name} failed: {type(e).__name__}: {e}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
