"""`fluxwire api` as users start it: a real process, a generated token off 127.0.0.1."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx


def test_fluxwire_api_off_loopback_generates_a_token_and_demands_it(tmp_path):
    from tests.web.canvas_helpers import free_port

    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.getcwd(), FLUXWIRE_MODELS_DIR=str(tmp_path / "models"))
    proc = subprocess.Popen([sys.executable, "-m", "flux_core.cli", "api", "--host", "127.0.0.2", "--port", str(port),
                             "--output-dir", str(tmp_path / "out"), "--comfyui-compat"],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        token, deadline = None, time.monotonic() + 60
        lines = []
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            found = re.search(r"API token .*: (\S+)$", line.strip())
            token = token or (found and found.group(1))
            if "fluxwire API on" in line:
                break
        assert token, lines
        base = f"http://127.0.0.2:{port}"
        assert httpx.get(f"{base}/api/queue").status_code == 401
        assert httpx.get(f"{base}/history/x").status_code == 401  # the ComfyUI subset too
        ok = httpx.get(f"{base}/api/queue", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json()["waiting"] == []
    finally:
        proc.terminate()
        proc.wait(20)
