"""fluxwire beside a real ComfyUI: the same workflows on the same files, wall time per stage and PSNR.

ComfyUI is never a fluxwire dependency: give the path of a ComfyUI checkout (and the Python of its
own venv with ``--comfyui-python``). This script writes reduced-width FLUX files of the real key layout
under ComfyUI's names (transformer: head size 128, real RoPE axes, a few blocks; autoencoder: the real
FLUX AE layout at base width 32, ``--vae-ch 128`` for the real one, 16x the work: minutes per 1024²
decode on a shared 2-core CPU; T5/CLIP: two narrow layers; two fp8 all-in-one checkpoints), starts one
fresh ComfyUI server on them (``comfyui_tiny_server.py`` adapts ComfyUI's fixed widths to these files
and changes nothing else), and runs each workflow

- in ComfyUI, through its HTTP API as a client does (POST /prompt, /ws, /history), started with
  ``--cache-none`` and sent POST /free after each run, so every run loads cold; its wall time is its
  own (execution_start to execution_success), node times come from the launcher's log;
- in fluxwire: ComfyUI's own API prompt through fluxwire's importer, and fluxwire's own equivalent
  document (the shipped workflow with the same size, seed, steps and prompt); a fresh Executor per run.

The three run alternately (ComfyUI, import, own, ComfyUI, ...) so load from other jobs hits all alike;
reported are medians of wall time per workflow and per stage (load / encode / sample / decode / save),
the ratio fluxwire / ComfyUI (goal <= 0.8) and the PSNR of each fluxwire picture against ComfyUI's.
``--fixtures`` also runs the API prompts of tests/interop/fixtures through both (issue 11's live check).

    python bench/vs_comfyui.py --comfyui /path/to/ComfyUI --comfyui-python /path/to/venv/bin/python
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import copy  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

SHARED_TOKENIZERS = Path("/work/shared/data/tokenizers")
FIXTURES = ROOT / "tests" / "interop" / "fixtures"
PROMPT = "a cosy cabin in a snowy pine forest at dusk, warm light in the windows"
SEED = 42

STAGES = ("load", "encode", "sample", "decode", "save")
STAGE_OF = {
    # ComfyUI classes
    "UNETLoader": "load", "DualCLIPLoader": "load", "VAELoader": "load", "CheckpointLoaderSimple": "load",
    "CLIPTextEncode": "encode", "CLIPTextEncodeFlux": "encode", "FluxGuidance": "encode",
    "KSampler": "sample", "SamplerCustomAdvanced": "sample", "VAEDecode": "decode", "SaveImage": "save",
    # fluxwire nodes
    "LoadDiffusionModel": "load", "LoadTextEncoders": "load", "LoadVAE": "load", "LoadCheckpoint": "load",
    "TextEncode": "encode", "Sampler": "sample", "KSamplerSelect": "sample", "BasicScheduler": "sample",
    "Scheduler": "sample", "CFGGuider": "sample", "BasicGuider": "sample",
}


# --- model files --------------------------------------------------------------------------------
def _init(name: str, shape: tuple, g: torch.Generator) -> torch.Tensor:
    """Norm scales 1, biases small, weights N(0, 1/fan_in): activations keep their scale through the
    layers, so the pictures have structure and a difference between the two programs shows."""
    if len(shape) == 1 and ("norm" in name or name.endswith("scale")):
        return torch.ones(shape)
    if len(shape) == 1:
        return 0.02 * torch.randn(shape, generator=g)
    fan_in = 1
    for s in shape[1:]:
        fan_in *= s
    return torch.randn(shape, generator=g) / fan_in**0.5


def _tensors(build, seed: int, skip=()) -> dict[str, torch.Tensor]:
    from flux_core.loading.build import parameters_on_meta

    with parameters_on_meta():
        module = build()
    g = torch.Generator().manual_seed(seed)
    return {k: _init(k, tuple(t.shape), g) for k, t in module.state_dict().items()
            if t.is_floating_point() and k not in skip}


def _save(path: Path, tensors: dict):
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))


def _fp8_linears(tensors: dict) -> dict:
    """As ComfyUI's fp8 checkpoints store them: the transformer's linear weights in e4m3fn."""
    return {k: v.to(torch.float8_e4m3fn) if k.endswith(".weight") and v.ndim == 2 else v for k, v in tensors.items()}


def write_models(root: Path, hidden: int, depth: int, single: int, text_width: int, vae_ch: int) -> Path:
    """Every file the workflows name, under ComfyUI's folder and file names. Written once per shape."""
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    from flux_core.models import AutoEncoder, AutoEncoderParams, Flux, FluxParams

    stamp = root / "shape.json"
    shape = {"hidden": hidden, "depth": depth, "single": single, "text_width": text_width, "vae_ch": vae_ch,
             "version": 1}
    if stamp.is_file() and json.loads(stamp.read_text()) == shape:
        return root
    shutil.rmtree(root, ignore_errors=True)

    def flux(guidance: bool, in_channels: int = 64):
        return lambda: Flux(FluxParams(in_channels=in_channels, out_channels=64, vec_in_dim=text_width,
                                       context_in_dim=text_width, hidden_size=hidden, mlp_ratio=4.0,
                                       num_heads=hidden // 128, depth=depth, depth_single_blocks=single,
                                       axes_dim=(16, 56, 56), theta=10000, qkv_bias=True, guidance_embed=guidance))

    t5_cfg = T5Config(vocab_size=32128, d_model=text_width, d_kv=64, d_ff=2 * text_width, num_layers=2,
                      num_heads=max(text_width // 64, 1), relative_attention_num_buckets=32,
                      feed_forward_proj="gated-gelu", is_encoder_decoder=False)
    clip_cfg = CLIPTextConfig(vocab_size=49408, hidden_size=text_width, intermediate_size=2 * text_width,
                              num_hidden_layers=2, num_attention_heads=max(text_width // 64, 1),
                              max_position_embeddings=77, eos_token_id=49407)
    schnell, dev = _tensors(flux(False), 0), _tensors(flux(True), 10)
    ae_params = dataclasses.replace(AutoEncoderParams.flux(), ch=vae_ch)
    ae = _tensors(lambda: AutoEncoder(ae_params), 1)
    t5 = _tensors(lambda: T5EncoderModel(t5_cfg), 2, skip={"encoder.embed_tokens.weight"})
    clip = {("text_model." + k if not k.startswith("text_model.") else k): v
            for k, v in _tensors(lambda: CLIPTextModel(clip_cfg), 3).items()}
    _save(root / "diffusion_models" / "flux1-schnell.safetensors", schnell)
    _save(root / "diffusion_models" / "flux1-dev.safetensors", dev)
    _save(root / "diffusion_models" / "flux1-kontext-dev.safetensors", _tensors(flux(True), 12))
    _save(root / "diffusion_models" / "flux1-fill-dev.safetensors", _tensors(flux(True, 384), 11))
    _save(root / "diffusion_models" / "flux1-canny-dev.safetensors", _tensors(flux(True, 128), 13))
    _save(root / "vae" / "ae.safetensors", ae)
    _save(root / "text_encoders" / "t5xxl_fp16.safetensors", t5)
    _save(root / "text_encoders" / "clip_l.safetensors", clip)
    for name, transformer in (("flux1-schnell-fp8", schnell), ("flux1-dev-fp8", dev)):
        ckpt = {"model.diffusion_model." + k: v for k, v in _fp8_linears(transformer).items()}
        ckpt.update({"vae." + k: v for k, v in ae.items()})
        ckpt.update({"text_encoders.t5xxl.transformer." + k: v for k, v in t5.items()})
        ckpt.update({"text_encoders.clip_l.transformer." + k: v for k, v in clip.items()})
        _save(root / "checkpoints" / f"{name}.safetensors", ckpt)
    for name in ("t5xxl", "clip_l"):
        shutil.copytree(SHARED_TOKENIZERS / name, root / "tokenizers" / name, dirs_exist_ok=True)
    # the reduced text-encoder configs ComfyUI is handed (its own JSONs describe the full models)
    t5_json = {"d_ff": t5_cfg.d_ff, "d_kv": 64, "d_model": text_width, "dense_act_fn": "gelu_pytorch_tanh",
               "is_gated_act": True, "layer_norm_epsilon": 1e-6, "model_type": "t5", "num_heads": t5_cfg.num_heads,
               "num_layers": 2, "relative_attention_num_buckets": 32, "vocab_size": 32128, "eos_token_id": 1,
               "pad_token_id": 0}
    clip_json = {"hidden_act": "quick_gelu", "hidden_size": text_width, "intermediate_size": 2 * text_width,
                 "num_attention_heads": clip_cfg.num_attention_heads, "num_hidden_layers": 2,
                 "max_position_embeddings": 77, "layer_norm_eps": 1e-5, "bos_token_id": 0, "eos_token_id": 49407,
                 "pad_token_id": 1, "projection_dim": text_width, "vocab_size": 49408,
                 "model_type": "clip_text_model"}
    (root / "comfy_t5.json").write_text(json.dumps(t5_json))
    (root / "comfy_clip.json").write_text(json.dumps(clip_json))
    (root / "comfy_text_configs.json").write_text(json.dumps(
        {"t5": str(root / "comfy_t5.json"), "clip": str(root / "comfy_clip.json"), "vae_ch": vae_ch}))
    stamp.write_text(json.dumps(shape))
    return root


# --- the workflows ---------------------------------------------------------------------------------
def comfy_split(dev: bool, size: int) -> dict:
    """ComfyUI's split-file FLUX template: UNETLoader + DualCLIPLoader + VAELoader, SamplerCustomAdvanced."""
    p = {
        "10": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
        "11": {"class_type": "DualCLIPLoader", "inputs": {"clip_name1": "t5xxl_fp16.safetensors",
                                                          "clip_name2": "clip_l.safetensors", "type": "flux",
                                                          "device": "default"}},
        "12": {"class_type": "UNETLoader", "inputs": {"unet_name": f"flux1-{'dev' if dev else 'schnell'}.safetensors",
                                                      "weight_dtype": "default"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": PROMPT, "clip": ["11", 0]}},
        "16": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "17": {"class_type": "BasicScheduler", "inputs": {"scheduler": "simple", "steps": 20 if dev else 4,
                                                          "denoise": 1.0, "model": ["12", 0]}},
        "22": {"class_type": "BasicGuider", "inputs": {"model": ["12", 0], "conditioning": ["6", 0]}},
        "25": {"class_type": "RandomNoise", "inputs": {"noise_seed": SEED}},
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "13": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["25", 0], "guider": ["22", 0],
                                                                 "sampler": ["16", 0], "sigmas": ["17", 0],
                                                                 "latent_image": ["27", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["13", 0], "vae": ["10", 0]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "bench", "images": ["8", 0]}},
    }
    if dev:
        p["26"] = {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}}
        p["22"]["inputs"]["conditioning"] = ["26", 0]
    return p


def comfy_checkpoint(dev: bool, size: int) -> dict:
    """ComfyUI's fp8 all-in-one FLUX template: CheckpointLoaderSimple + KSampler (cfg 1)."""
    p = {
        "4": {"class_type": "CheckpointLoaderSimple",
              "inputs": {"ckpt_name": f"flux1-{'dev' if dev else 'schnell'}-fp8.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": PROMPT, "clip": ["4", 1]}},
        "33": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
        "27": {"class_type": "EmptySD3LatentImage", "inputs": {"width": size, "height": size, "batch_size": 1}},
        "31": {"class_type": "KSampler", "inputs": {"seed": SEED, "steps": 20 if dev else 4, "cfg": 1.0,
                                                    "sampler_name": "euler", "scheduler": "simple", "denoise": 1.0,
                                                    "model": ["4", 0], "positive": ["6", 0], "negative": ["33", 0],
                                                    "latent_image": ["27", 0]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["31", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "bench", "images": ["8", 0]}},
    }
    if dev:
        p["35"] = {"class_type": "FluxGuidance", "inputs": {"guidance": 3.5, "conditioning": ["6", 0]}}
        p["31"]["inputs"]["positive"] = ["35", 0]
    return p


def own_document(kind: str, dev: bool, size: int) -> dict:
    """fluxwire's shipped workflow set to the same file, size, seed, steps, prompt and T5 length (256)."""
    name = {"split": "flux-dev" if dev else "flux-schnell", "checkpoint": "flux-schnell-checkpoint"}[kind]
    doc = json.loads((ROOT / "workflows" / f"{name}.json").read_text())
    nodes = {n["id"]: n for n in doc["nodes"]}
    for n in doc["nodes"]:
        w = n.get("widgets", {})
        if n["type"] == "EmptyLatent":
            w.update(width=size, height=size)
        elif n["type"] == "RandomNoise":
            w["seed"] = SEED
        elif n["type"] == "Scheduler":
            w["steps"] = 20 if dev else 4
        elif n["type"] == "TextEncode":
            w["text"] = PROMPT
        elif n["type"] == "LoadTextEncoders":
            w["t5_max_length"] = "256"
        elif n["type"] == "LoadCheckpoint":
            w["ckpt_name"] = f"flux1-{'dev' if dev else 'schnell'}-fp8.safetensors"
            w["t5_max_length"] = "256"
            n.get("properties", {}).pop("models", None)
    if kind == "checkpoint" and dev:  # the shipped checkpoint workflow is schnell's: add dev's guidance
        doc["nodes"].append({"id": "guidance", "type": "FluxGuidance", "widgets": {"guidance": 3.5},
                             "ui": {"pos": [400, 80]}, "version": 1})
        for link in doc["links"]:
            if link["from"] == "prompt" and link["to"] == "sampler":
                link["to"], link["input"] = "guidance", "conditioning"
        doc["links"].append({"from": "guidance", "output": "conditioning", "to": "sampler", "input": "conditioning"})
    for n in nodes.values():
        n.get("properties", {}).pop("models", None)
    return doc


def workflows(sizes: list[int]) -> dict[str, tuple[dict, dict]]:
    out = {}
    for kind, build in (("split", comfy_split), ("fp8 ckpt", comfy_checkpoint)):
        for dev in (False, True):
            for size in sizes:
                name = f"{'dev' if dev else 'schnell'} {kind} {size}²"
                out[name] = (build(dev, size), own_document("split" if kind == "split" else "checkpoint", dev, size))
    return out


# --- ComfyUI through its HTTP API ---------------------------------------------------------------------
class ComfyServer:
    def __init__(self, comfy_dir: Path, python: str, models: Path, work: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = work / "comfy_output"
        self.input = work / "comfy_input"
        for d in (self.output, self.input):
            d.mkdir(parents=True, exist_ok=True)
        paths = work / "extra_model_paths.yaml"
        paths.write_text(f"bench:\n  base_path: {models}\n  checkpoints: checkpoints\n  vae: vae\n"
                         f"  text_encoders: text_encoders\n  diffusion_models: diffusion_models\n")
        self.log = open(work / "comfyui.log", "w")
        self.node_times = work / "comfyui_node_times.jsonl"
        self.node_times.write_text("")
        configs = work / "comfy_launch.json"
        configs.write_text(json.dumps({**json.loads((models / "comfy_text_configs.json").read_text()),
                                       "node_times": str(self.node_times)}))
        # --cache-none: every prompt runs every node (cold loads), whatever /free's timing
        cmd = [python, str(Path(__file__).with_name("comfyui_tiny_server.py")), str(comfy_dir),
               str(configs), "--", "--cache-none", "--cpu", "--listen", "127.0.0.1", "--port",
               str(self.port), "--extra-model-paths-config", str(paths), "--output-directory", str(self.output),
               "--input-directory", str(self.input), "--disable-auto-launch", "--dont-print-server",
               "--database-url", f"sqlite:///{work / 'comfyui.db'}"]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONPATH": "", "OMP_WAIT_POLICY": "PASSIVE"})
        deadline = time.monotonic() + 600
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited ({self.proc.returncode}); see {self.log.name}")
            try:
                self._get("/system_stats")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ComfyUI did not start in 600 s; see {self.log.name}") from None
                time.sleep(1)
        self.client_id = uuid.uuid4().hex
        self.settle = 3.0

    def _get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return json.loads(r.read())

    def _post(self, path: str, body: dict):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
        return json.loads(raw) if raw.strip() else None

    def free(self):
        """Unload every model and reset the executor's cache, so the next run loads cold."""
        self._post("/free", {"unload_models": True, "free_memory": True})

    def run(self, prompt: dict) -> tuple[float, dict, Path]:
        """Queue the prompt as a client does and wait for ComfyUI's end-of-run message. Wall time is
        ComfyUI's own, from its execution_start to its execution_success timestamps (its HTTP handling
        and message delays are left out: conservative for fluxwire); node seconds come from the
        launcher's log; the saved picture from /history."""
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{self.port}/ws?clientId={self.client_id}", max_size=None) as ws:
            prompt_id = self._post("/prompt", {"prompt": prompt, "client_id": self.client_id})["prompt_id"]
            while True:
                msg = ws.recv(timeout=3600)
                if isinstance(msg, bytes):  # previews
                    continue
                m = json.loads(msg)
                data = m.get("data", {})
                if data.get("prompt_id") != prompt_id:
                    continue
                if m["type"] == "execution_error":
                    raise RuntimeError(f"ComfyUI failed: {data.get('exception_message')} "
                                       f"(node {data.get('node_id')} {data.get('node_type')})")
                if m["type"] == "executing" and data.get("node") is None:
                    break
        history = self._get(f"/history/{prompt_id}")[prompt_id]
        self.free()
        time.sleep(self.settle)  # let its unloading and garbage collection finish outside every timing
        stamps = {event: data["timestamp"] for event, data in history["status"]["messages"]}
        if any(d.get("nodes") for e, d in history["status"]["messages"] if e == "execution_cached"):
            raise RuntimeError("ComfyUI served cached nodes: the run was not cold")
        wall = (stamps["execution_success"] - stamps["execution_start"]) / 1000
        images = [im for out in history["outputs"].values() for im in out.get("images", [])]
        picture = self.output / images[0]["subfolder"] / images[0]["filename"]
        stages = {}
        for line in self.node_times.read_text().splitlines():
            entry = json.loads(line)
            if entry["prompt_id"] == prompt_id:
                stage = STAGE_OF.get(entry["class_type"], "other")
                stages[stage] = stages.get(stage, 0.0) + entry["seconds"]
        return wall, stages, picture

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- fluxwire --------------------------------------------------------------------------------------------
def fluxwire_run(document: dict, models: Path, work: Path, input_dir: Path) -> tuple[float, dict, Path]:
    """A fresh Executor (nothing cached: a cold load) running the document; wall time of load_workflow +
    run, seconds per stage from the executor's own node timings, and the saved picture."""
    from flux_core import Executor, load_workflow

    out = Path(tempfile.mkdtemp(dir=work, prefix="fw_out_"))
    start = time.perf_counter()
    executor = Executor(models_dir=models, output_dir=out, input_dir=input_dir)
    workflow = load_workflow(copy.deepcopy(document), env=executor.env)
    result = executor.run(workflow)
    wall = time.perf_counter() - start
    graph = executor.validate(workflow)
    stages = {}
    for nid, seconds in result.timings.items():
        stage = STAGE_OF.get(graph.classes[nid].type_name, "other")
        stages[stage] = stages.get(stage, 0.0) + seconds
    pictures = sorted(out.rglob("*.png"), key=lambda p: p.stat().st_mtime)
    return wall, stages, pictures[-1]


def picture_difference(a: Path, b: Path) -> dict:
    """PSNR, the largest difference in 8-bit levels and the share of values more than one level apart.
    ComfyUI truncates to 8 bits where fluxwire rounds, so equal float pictures differ by 0 or 1 level
    (about 54 dB); values more than one level apart are a real difference."""
    from PIL import Image

    x = np.asarray(Image.open(a).convert("RGB"), dtype=np.float64)
    y = np.asarray(Image.open(b).convert("RGB"), dtype=np.float64)
    if x.shape != y.shape:
        return {"psnr_db": float("nan"), "max_levels": float("nan"), "over_1_level": float("nan")}
    mse = float(np.mean((x - y) ** 2))
    return {"psnr_db": float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse)),
            "max_levels": float(np.abs(x - y).max()), "over_1_level": float(np.mean(np.abs(x - y) > 1))}


# --- the comparison --------------------------------------------------------------------------------------
def compare(server: ComfyServer, cases: dict, models: Path, work: Path, repeats: int, repeats_large: int) -> list[dict]:
    rows = []
    for name, (prompt, own) in cases.items():
        runs = {"comfyui": [], "import": [], "own": []}
        pictures = {}
        order = list(runs)
        for r in range(repeats_large if "1024" in name else repeats):
            for system in order[r % 3:] + order[:r % 3]:  # each system goes first in turn
                time.sleep(1)
                if system == "comfyui":
                    wall, stages, pic = server.run(prompt)
                else:
                    wall, stages, pic = fluxwire_run(prompt if system == "import" else own, models, work, server.input)
                runs[system].append((wall, stages))
                pictures[system] = pic
            print(f"  {name} round {r + 1}: " + ", ".join(f"{s} {runs[s][-1][0]:.2f}s" for s in runs), flush=True)
            print("    " + " | ".join(f"{s}: " + " ".join(f"{k} {v:.2f}" for k, v in runs[s][-1][1].items()) for s in runs),
                  flush=True)
        med = {s: statistics.median(w for w, _ in v) for s, v in runs.items()}
        stage_med = {s: {st: statistics.median(st_.get(st, 0.0) for _, st_ in v) for st in STAGES}
                     for s, v in runs.items()}
        # per-round ratios, paired, so a burst of load in one round does not skew the median
        ratio = {s: statistics.median(a[0] / c[0] for a, c in zip(runs[s], runs["comfyui"])) for s in ("import", "own")}
        rows.append({"workflow": name, "median_s": med, "stages_s": stage_med, "ratio": ratio,
                     "difference": {s: picture_difference(pictures[s], pictures["comfyui"]) for s in ("import", "own")}})
        print_row(rows[-1])
    return rows


def fixture_cases(names: list[str]) -> dict:
    cases = {}
    for name in names:
        prompt = json.loads((FIXTURES / name).read_text())
        cases[name] = (prompt, prompt)  # "own" = the same API prompt imported once more
    return cases


def decode_ab(comfy_dir: Path, models: Path, vae_ch: int, sizes: list[int], repeats: int) -> None:
    """The autoencoder decode alone, in this process: fluxwire's loaded VAE vs ComfyUI's own ``Decoder``
    class (imported from the checkout; needs its few imports in this venv) holding the same weights,
    alternating. Whole runs on a shared machine are too noisy to compare a 30-100 s stage."""
    from safetensors.torch import load_file

    sys.argv = [sys.argv[0], "--cpu"]
    sys.path.append(str(comfy_dir))
    import comfy.options

    comfy.options.enable_args_parsing()
    from comfy.ldm.modules.diffusionmodules.model import Decoder

    from flux_core.loading import load_vae

    path = models / "vae" / "ae.safetensors"
    ours = load_vae(path)
    theirs = Decoder(ch=vae_ch, out_ch=3, ch_mult=[1, 2, 4, 4], num_res_blocks=2, attn_resolutions=[], dropout=0.0,
                     in_channels=3, resolution=256, z_channels=16, double_z=True).eval()
    theirs.load_state_dict({k[len("decoder."):]: v for k, v in load_file(str(path)).items()
                            if k.startswith("decoder.")}, strict=True)
    for side in sizes:
        z = torch.randn(1, 16, side // 8, side // 8, generator=torch.Generator().manual_seed(0))
        times = {"fluxwire": [], "comfyui": []}
        for r in range(repeats):
            for who in (("fluxwire", "comfyui") if r % 2 == 0 else ("comfyui", "fluxwire")):
                start = time.perf_counter()
                out = ours.decode(z) if who == "fluxwire" else theirs(z / 0.3611 + 0.1159)
                times[who].append(time.perf_counter() - start)
                if who == "fluxwire":
                    a = out
                else:
                    b = out
        ratio = statistics.median(x / y for x, y in zip(times["fluxwire"], times["comfyui"]))
        print(f"decode {side}² (base width {vae_ch}): fluxwire {statistics.median(times['fluxwire']):.2f} s, "
              f"ComfyUI {statistics.median(times['comfyui']):.2f} s, ratio {ratio:.2f}, "
              f"max |diff| {float((a - b).abs().max()):.1e}", flush=True)


def print_row(row: dict):
    m, st, d = row["median_s"], row["stages_s"], row["difference"]

    def diff(s):
        return f"{d[s]['psnr_db']:5.1f} dB max {d[s]['max_levels']:.0f} >1: {100 * d[s]['over_1_level']:.2f}%"
    print(f"{row['workflow']:<22} ComfyUI {m['comfyui']:7.2f}s | import {m['import']:7.2f}s ×{row['ratio']['import']:.2f}"
          f" {diff('import')} | own {m['own']:7.2f}s ×{row['ratio']['own']:.2f} {diff('own')}", flush=True)
    for s in ("comfyui", "import", "own"):
        print(f"    {s:<8} " + "  ".join(f"{k} {st[s][k]:.2f}" for k in STAGES), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", help="path to a ComfyUI checkout (without it the bench is skipped)")
    parser.add_argument("--comfyui-python", help="Python of ComfyUI's venv (default: this Python)")
    parser.add_argument("--work", help="folder for the model files and outputs (default: a temporary one)")
    parser.add_argument("--sizes", default="256,1024")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeats-large", type=int, default=2, help="rounds of the 1024² workflows")
    parser.add_argument("--only", default="", help="comma-separated substrings of workflow names to run")
    parser.add_argument("--fixtures", action="store_true", help="also run tests/interop's ComfyUI API fixtures")
    parser.add_argument("--no-workflows", action="store_true", help="only the fixtures")
    parser.add_argument("--hidden", type=int, default=128, help="transformer width (head size 128)")
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--single", type=int, default=1)
    parser.add_argument("--text-width", type=int, default=128)
    parser.add_argument("--vae-ch", type=int, default=32, help="autoencoder base width (the real one: 128)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--decode-only", action="store_true",
                        help="only the autoencoder decode, fluxwire vs ComfyUI's Decoder in this process")
    args = parser.parse_args(argv)
    if not args.comfyui:
        print("vs_comfyui: skipped (give --comfyui /path/to/ComfyUI)")
        return 0
    torch.set_grad_enabled(False)
    work = Path(args.work or tempfile.mkdtemp(prefix="vs_comfyui_")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    models = write_models(work / "models", args.hidden, args.depth, args.single, args.text_width, args.vae_ch)
    if args.decode_only:
        decode_ab(Path(args.comfyui).resolve(), models, args.vae_ch, [int(s) for s in args.sizes.split(",")],
                  args.repeats)
        return 0
    cases = {} if args.no_workflows else workflows([int(s) for s in args.sizes.split(",")])
    if args.only:
        cases = {k: v for k, v in cases.items() if any(o in k for o in args.only.split(","))}
    fixtures = fixture_cases(["api_schnell_split.json", "api_dev_split.json", "api_dev_checkpoint.json"]
                             ) if args.fixtures else {}
    server = ComfyServer(Path(args.comfyui).resolve(), args.comfyui_python or sys.executable, models, work)
    try:
        server.free()
        rows = compare(server, cases, models, work, args.repeats, args.repeats_large)
        fixture_rows = compare(server, fixtures, models, work, 1, 1) if fixtures else []
    finally:
        server.close()
    print("\nworkflow | ComfyUI s | import s (ratio, PSNR) | own s (ratio, PSNR)")
    for row in rows + fixture_rows:
        print_row(row)
    if args.json:
        Path(args.json).write_text(json.dumps({"workflows": rows, "fixtures": fixture_rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
