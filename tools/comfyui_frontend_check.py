"""fluxwire's ComfyUI UI exports loaded into ComfyUI's own frontend, and what that frontend saves read back.

Outside the test suite (ComfyUI is never a fluxwire dependency): give a ComfyUI checkout and the Python of
its venv. The script starts that ComfyUI on the CPU without models (the frontend needs none to load a
workflow), opens it in Chromium (Playwright), loads three UI workflows fluxwire writes — the pre-1.16
fixture with converted widgets, a document whose user made KSampler's steps (fed by a value node) and cfg
into sockets, a subgraph with reroutes, a Reroute node and a pinned group inside its definition — and for
each checks:

- the frontend shows every widget fluxwire linked as a linked widget socket;
- what the frontend saves (``graph.serialize()``, every widget listed, no version stamp) and what it embeds
  in pictures (``graphToPrompt().workflow``: unlinked widget entries dropped, ``extra.frontendVersion``)
  both import back with the linked widget sockets as ``ui.widget_inputs``, the same reroute chains inside
  the definition and the same groups.

    python tools/comfyui_frontend_check.py --comfyui /path/to/ComfyUI --comfyui-python /path/to/venv/bin/python
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flux_core.interop.comfyui import comfyui_to_document  # noqa: E402
from flux_core.interop.comfyui.export_ui import to_ui_workflow  # noqa: E402
from flux_core.graph.registry import default_registry  # noqa: E402
from flux_core.graph.workflow import parse_document  # noqa: E402
from tests.interop.conftest import fixture  # noqa: E402
from tests.interop.test_comfyui_subgraph_canvas import chains, with_inner_reroutes  # noqa: E402
from tests.interop.test_comfyui_widget_sockets import old_frontend  # noqa: E402

READ_BACK = """async wf => {
  await app.loadGraphData(wf);
  const linked = {};
  for (const n of app.graph.nodes)
    for (const i of n.inputs || [])
      if (i.widget && i.link != null) (linked[n.id] = linked[n.id] || []).push(i.widget.name);
  const made = await app.graphToPrompt();
  const copy = (x) => JSON.parse(JSON.stringify(x));
  return {linked, saved: copy(app.graph.serialize()), embedded: copy(made.workflow)};
}"""


def export(doc: dict) -> dict:
    return to_ui_workflow(parse_document(doc), default_registry())


def canvas_sockets() -> dict:
    doc = comfyui_to_document(fixture("api_dev_checkpoint.json"))
    sampler = next(n for n in doc["nodes"] if n["type"] == "KSampler")
    sampler.setdefault("ui", {})["widget_inputs"] = ["steps", "cfg"]
    doc["nodes"].append({"id": "steps", "type": "IntValue", "widgets": {"value": 3}})
    doc["links"].append({"from": "steps", "output": "value", "to": sampler["id"], "input": "steps"})
    return doc


def sockets(doc: dict) -> dict:
    return {n["id"]: n["ui"]["widget_inputs"] for n in doc["nodes"] if n.get("ui", {}).get("widget_inputs")}


def inside(doc: dict) -> dict:
    return {sid: (chains(d["extra"]), d["groups"]) for sid, d in doc.get("subgraphs", {}).items()}


def start_comfyui(comfy: Path, python: str, work: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for d in ("out", "in", "user"):
        (work / d).mkdir()
    log = open(work / "comfyui.log", "w")
    proc = subprocess.Popen([python, "main.py", "--cpu", "--listen", "127.0.0.1", "--port", str(port),
                             "--output-directory", str(work / "out"), "--input-directory", str(work / "in"),
                             "--user-directory", str(work / "user"), "--disable-auto-launch",
                             "--database-url", f"sqlite:///{work / 'comfyui.db'}"],
                            cwd=comfy, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": ""})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"ComfyUI exited ({proc.returncode}); see {log.name}")
        try:
            urllib.request.urlopen(url + "system_stats", timeout=5).read()
            return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise SystemExit(f"ComfyUI did not start in 300 s; see {log.name}") from None
            time.sleep(1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", required=True, help="path to a ComfyUI checkout")
    parser.add_argument("--comfyui-python", default=sys.executable, help="Python of ComfyUI's venv")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    cases = {"pre-1.16 converted widgets": comfyui_to_document(old_frontend()),
             "canvas-made sockets": canvas_sockets(),
             "subgraph with inner reroutes": comfyui_to_document(with_inner_reroutes())}
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_comfyui(Path(args.comfyui), args.comfyui_python, Path(tmp))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium)
                page = browser.new_page()
                page.goto(url)
                page.wait_for_function("() => window.app && window.app.graph", timeout=120_000)
                version = page.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ || ''")
                print(f"ComfyUI frontend {version or '(version not exposed)'} at {url}")
                for name, doc in cases.items():
                    exported = export(doc)
                    got = page.evaluate(READ_BACK, exported)
                    linked_ids = {str(n["id"]) for n in exported["nodes"]
                                  if any(x.get("widget") and x.get("link") is not None for x in n.get("inputs", []))}
                    fed = {(link["to"], link["input"]) for link in doc["links"]}
                    want = {k: kept for k, v in sockets(doc).items() if (kept := [x for x in v if (k, x) in fed])}
                    checks = {"frontend shows the linked widget sockets": set(map(str, got["linked"])) == linked_ids}
                    for form in ("saved", "embedded"):
                        again = comfyui_to_document(got[form])
                        checks[f"{form}: linked sockets read back"] = sockets(again) == want
                        checks[f"{form}: reroutes and groups inside definitions"] = inside(again) == inside(doc)
                    stamp = got["embedded"].get("extra", {}).get("frontendVersion")
                    print(f"- {name} (embedded frontendVersion {stamp}, linked sockets {got['linked']})")
                    for check, ok in checks.items():
                        print(f"    {'ok  ' if ok else 'FAIL'} {check}")
                        failures += not ok
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
