"""ComfyUI's API subset, driven the way ComfyUI's own API examples do it (urllib + a WebSocket client)."""
from __future__ import annotations

import io
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import numpy as np
import pytest
import torch
from PIL import Image

from .conftest import Server


@pytest.fixture
def compat(executor):
    from web.api.server import build_api, run_uvicorn

    class S(Server):
        def __init__(self):
            self.token = None
            self.app = build_api(executor, comfyui_compat=True)
            self.service = self.app.state.fluxwire_service
            self.uvicorn, self.thread, self.port = run_uvicorn(self.app, "127.0.0.1", 0)
            self.url = f"http://127.0.0.1:{self.port}"
    s = S()
    yield s
    s.close()


# --- a client in the style of ComfyUI's script_examples/websockets_api_example.py -------------------
def queue_prompt(server_address, prompt, client_id):
    data = json.dumps({"prompt": prompt, "client_id": client_id}).encode("utf-8")
    req = urllib.request.Request(f"http://{server_address}/prompt", data=data)
    return json.loads(urllib.request.urlopen(req).read())


def get_image(server_address, filename, subfolder, folder_type):
    url_values = urllib.parse.urlencode({"filename": filename, "subfolder": subfolder, "type": folder_type})
    with urllib.request.urlopen(f"http://{server_address}/view?{url_values}") as response:
        return response.read()


def get_history(server_address, prompt_id):
    with urllib.request.urlopen(f"http://{server_address}/history/{prompt_id}") as response:
        return json.loads(response.read())


def get_images(ws, server_address, prompt, client_id, seen):
    prompt_id = queue_prompt(server_address, prompt, client_id)["prompt_id"]
    output_images = {}
    while True:
        out = ws.recv()
        if isinstance(out, str):
            message = json.loads(out)
            seen.append(message)
            if message["type"] == "executing":
                data = message["data"]
                if data["node"] is None and data["prompt_id"] == prompt_id:
                    break
        else:
            continue
    history = get_history(server_address, prompt_id)[prompt_id]
    for node_id in history["outputs"]:
        node_output = history["outputs"][node_id]
        images_output = []
        if "images" in node_output:
            for image in node_output["images"]:
                images_output.append(get_image(server_address, image["filename"], image["subfolder"], image["type"]))
        output_images[node_id] = images_output
    return output_images


def test_a_comfyui_style_client_queues_follows_and_downloads(compat, executor):
    from websockets.sync.client import connect

    executor.env.input_dir.mkdir(parents=True, exist_ok=True)
    pixels = np.arange(6 * 10 * 3, dtype=np.uint8).reshape(6, 10, 3)
    Image.fromarray(pixels).save(executor.env.input_dir / "source.png")
    prompt = {"1": {"class_type": "LoadImage", "inputs": {"image": "source.png", "upload": "image"}},
              "2": {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}},
              "9": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "ComfyUI"}}}
    server_address = f"127.0.0.1:{compat.port}"
    client_id = str(uuid.uuid4())
    seen = []
    with connect(f"ws://{server_address}/ws?clientId={client_id}", open_timeout=10) as ws:
        images = get_images(ws, server_address, prompt, client_id, seen)
    (png,) = images["9"]
    # what ComfyUI itself saves: LoadImage's k/255, ImageInvert's 1 - x, SaveImage's x255 truncated (so e.g. 1 -> 253,
    # not 254) — computed here with torch's float32 arithmetic and its float->uint8 conversion
    inverted = (1.0 - torch.from_numpy(pixels).float() / 255.0) * 255.0
    saved = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert np.array_equal(saved, inverted.clamp(0, 255).to(torch.uint8).numpy())
    assert np.abs(saved.astype(int) - (255 - pixels.astype(int))).max() <= 1
    kinds = [m["type"] for m in seen]
    assert kinds[0] == "status" and "execution_start" in kinds and "execution_success" in kinds
    assert [m["data"]["node"] for m in seen if m["type"] == "executing"] == ["1", "2", "9", None]
    (executed,) = [m for m in seen if m["type"] == "executed"]
    assert executed["data"]["node"] == "9" and executed["data"]["output"]["images"][0]["type"] == "output"

    bad = dict(prompt, **{"2": {"class_type": "ImageInvert", "inputs": {"image": ["7", 0]}}})
    with pytest.raises(urllib.error.HTTPError) as refused:
        queue_prompt(server_address, bad, client_id)
    assert refused.value.code == 400
    answer = json.loads(refused.value.read())
    assert "2" in answer["node_errors"] and answer["node_errors"]["2"]["class_type"] == "ImageInvert"
    assert get_history(server_address, "000000000000") == {}
