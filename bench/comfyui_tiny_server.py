"""Start an unmodified ComfyUI checkout as a server that can load *reduced-width* FLUX files.

Run with ComfyUI's own Python (its venv), never fluxwire's: this file imports only ComfyUI and the
standard library. ComfyUI reads most FLUX sizes from a file's tensor shapes but fixes a few to the
full model's (transformer width 3072, 24 heads, text width 4096; the T5-XXL and CLIP-L configs come
from JSON files in its checkout). The bench's files keep the real key layout and head size (128) at
smaller widths, so before ComfyUI's ``main.py`` runs, this launcher replaces exactly those constants
with the ones the files' shapes say, and hands ComfyUI the reduced T5/CLIP configs and the
autoencoder's base width (ComfyUI fixes it at 128). Nothing else in
ComfyUI changes: its loaders, sampler, VAE, attention and HTTP API are its own.

    <comfy-python> bench/comfyui_tiny_server.py COMFYUI_DIR TEXT_CONFIGS.json -- <ComfyUI main.py args>
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import runpy
import sys
import time

HEAD_DIM = 128  # FLUX's attention head size; the bench's files keep it


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs a patch right after a named module executes, so ComfyUI's own start-up order is kept."""

    def __init__(self, patches: dict):
        self.patches = patches

    def find_spec(self, name, path=None, target=None):
        if name not in self.patches:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        exec_module, patch = spec.loader.exec_module, self.patches.pop(name)

        def exec_then_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_then_patch
        return spec


def _patch_flux_detection(detection):
    original = detection.detect_unet_config

    def detect_unet_config(state_dict, key_prefix, metadata=None):
        config = original(state_dict, key_prefix, metadata=metadata)
        if isinstance(config, dict) and config.get("image_model") == "flux":
            hidden = state_dict[f"{key_prefix}img_in.weight"].shape[0]
            config["hidden_size"] = hidden
            config["num_heads"] = hidden // HEAD_DIM
            config["context_in_dim"] = state_dict[f"{key_prefix}txt_in.weight"].shape[1]
            mlp = f"{key_prefix}double_blocks.0.img_mlp.0.weight"
            if mlp in state_dict:
                config["mlp_ratio"] = state_dict[mlp].shape[0] / hidden
        return config

    detection.detect_unet_config = detect_unet_config


def _patch_text_configs(sd1_clip, configs: dict):
    original = sd1_clip.SDClipModel.__init__

    def __init__(self, *args, textmodel_json_config=None, **kwargs):
        name = os.path.basename(textmodel_json_config) if isinstance(textmodel_json_config, str) else None
        if name == "t5_config_xxl.json":
            textmodel_json_config = configs["t5"]
        elif textmodel_json_config is None or name == "sd1_clip_config.json":
            textmodel_json_config = configs["clip"]
        original(self, *args, textmodel_json_config=textmodel_json_config, **kwargs)

    sd1_clip.SDClipModel.__init__ = __init__


def _patch_vae_width(model, width: int):
    """ComfyUI builds the FLUX autoencoder with base width 128 whatever the file holds."""
    for cls in (model.Encoder, model.Decoder):
        original = cls.__init__

        def __init__(self, *args, __original=original, **kwargs):
            if "ch" in kwargs:
                kwargs["ch"] = width
            __original(self, *args, **kwargs)

        cls.__init__ = __init__


def _patch_node_timing(execution, path: str):
    """Seconds of each node's execution, one JSON line per node, for the bench's per-stage figures
    (ComfyUI's messages carry no per-node times, and a client's arrival times include the server's
    message delays)."""
    original = execution.execute

    async def execute(server, dynprompt, caches, current_item, extra_data, executed, prompt_id, *rest):
        start = time.perf_counter()
        try:
            return await original(server, dynprompt, caches, current_item, extra_data, executed, prompt_id, *rest)
        finally:
            seconds = time.perf_counter() - start
            try:
                class_type = dynprompt.get_node(current_item)["class_type"]
            except Exception:
                class_type = None
            with open(path, "a") as f:
                f.write(json.dumps({"prompt_id": prompt_id, "node": current_item, "class_type": class_type,
                                    "seconds": seconds}) + "\n")

    execution.execute = execute


def main():
    split = sys.argv.index("--") if "--" in sys.argv else len(sys.argv)
    comfy_dir, configs_path = sys.argv[1:3]
    comfy_args = sys.argv[split + 1:]
    with open(configs_path) as f:
        configs = json.load(f)
    comfy_dir = os.path.abspath(comfy_dir)
    os.chdir(comfy_dir)
    sys.path.insert(0, comfy_dir)
    sys.argv = [os.path.join(comfy_dir, "main.py"), *comfy_args]
    sys.meta_path.insert(0, _AfterImport({
        "comfy.model_detection": _patch_flux_detection,
        "comfy.sd1_clip": lambda module: _patch_text_configs(module, configs),
        "comfy.ldm.modules.diffusionmodules.model": lambda module: _patch_vae_width(module, configs["vae_ch"]),
        "execution": lambda module: _patch_node_timing(module, configs["node_times"]),
    }))
    runpy.run_path(os.path.join(comfy_dir, "main.py"), run_name="__main__")


if __name__ == "__main__":
    main()
