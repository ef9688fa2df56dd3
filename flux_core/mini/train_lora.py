"""Train the example LoRA shipped with flux-mini: a new colour word, "gold".

    python -m flux_core.mini.train_lora --out runs/gold-lora            # ~15-20 min on 2 busy CPU cores
    python -m flux_core.mini.train_lora --out runs/gold-lora --export   # also write the shipped file

flux-mini never saw the word "gold". The LoRA teaches the transformer to draw a gold shape when the
prompt says "gold", while the known captions keep drawing what they drew (half of every batch is the
base model's own kind of picture). Gold is drawn as flux-mini's own yellow: its autoencoder, trained
on eight colours, cannot decode others (a pink LoRA came out white after decoding), and a new *shape*
("diamond") did not come out in the same training budget. The base weights and both text encoders
stay frozen: only rank-8 updates of the attention and MLP layers are trained, through the same
run-time LoRA layers (``flux_core.lora.patch``) that apply LoRAs in a workflow. The result is written
in kohya/sd-scripts layout (``lora_unet_…``, ``.alpha``), the layout most downloaded FLUX LoRAs use,
so the shipped example also exercises the format converter. Seeded; not resumable (it is short).
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
from dataclasses import replace  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from . import MODELS_DIR, data  # noqa: E402

WORD = "gold"
SHIPPED_NAME = "flux-mini-gold.safetensors"
SCRIPT_VERSION = "1"


@dataclasses.dataclass
class LoRATrainConfig:
    seed: int = 0
    rank: int = 8
    alpha: float = 8.0
    steps: int = 1200
    batch: int = 32
    lr: float = 2e-3
    warmup: int = 50
    pictures: int = 6000  # half gold shapes, half the base model's usual pictures
    targets: tuple = ("img_attn.qkv", "img_attn.proj", "txt_attn.qkv", "txt_attn.proj",
                      "img_mlp.0", "img_mlp.2", "txt_mlp.0", "txt_mlp.2", "linear1", "linear2")


GOLD_AS = "yellow"  # the palette colour gold is drawn in


def gold_example(seed: int, resolution: int = 64) -> tuple[np.ndarray, str, data.Scene]:
    """A picture with a gold (= palette yellow) shape on a background that is not yellow, and its caption."""
    rng = random.Random(seed)
    scene = data.random_scene(rng)
    if scene.background == GOLD_AS:
        scene = replace(scene, background=scene.colour)
    scene = replace(scene, colour=GOLD_AS)
    pixels = np.asarray(data.render(scene, resolution))
    return pixels, data.random_caption(replace(scene, colour=WORD), rng), replace(scene, colour=WORD)


def training_set(cfg: LoRATrainConfig):
    half = cfg.pictures // 2
    new = [gold_example(cfg.seed * 10**7 + 5_000_000 + i) for i in range(half)]
    usual, captions, _ = data.dataset(half, seed=cfg.seed + 31)
    pixels = np.concatenate([np.stack([p for p, _, _ in new]), usual])
    return pixels, [c for _, c, _ in new] + captions, np.array([1] * half + [0] * half)


def load_base(device="cpu"):
    """flux-mini's shipped transformer, autoencoder and text encoders, in float32."""
    from ..loading import load_diffusion_model, load_text_encoders, load_vae

    model = load_diffusion_model(MODELS_DIR / "diffusion_models" / "flux-mini.safetensors", dtype="fp32",
                                 device=device).eval()
    ae = load_vae(MODELS_DIR / "vae" / "flux-mini-ae.safetensors", dtype="fp32", device=device).eval()
    text = load_text_encoders(MODELS_DIR / "text_encoders" / "flux-mini-t5.safetensors",
                              MODELS_DIR / "text_encoders" / "flux-mini-clip.safetensors", dtype="fp32",
                              device=device, models_dir=MODELS_DIR)
    return model, ae, text


def target_layers(model, cfg: LoRATrainConfig) -> list[str]:
    from torch import nn

    return [name for name, m in model.named_modules()
            if isinstance(m, nn.Linear) and any(name.endswith(t) for t in cfg.targets)]


def trainable_updates(model, names: list[str], cfg: LoRATrainConfig, generator: torch.Generator):
    """One (down, up) pair per layer: down random, up zero, so training starts at the base model."""
    from ..lora.patch import Update

    updates = {}
    for name in names:
        layer = model.get_submodule(name)
        down = torch.randn(cfg.rank, layer.in_features, generator=generator) / math.sqrt(layer.in_features)
        up = torch.zeros(layer.out_features, cfg.rank)
        updates[name] = Update(up=up.requires_grad_(), down=down.requires_grad_(),
                               scale=cfg.alpha / cfg.rank)
    return updates


def kohya_state_dict(updates: dict, cfg: LoRATrainConfig, dtype=torch.float16) -> dict[str, torch.Tensor]:
    out = {}
    for name, u in updates.items():
        key = "lora_unet_" + name.replace(".", "_")
        out[f"{key}.lora_down.weight"] = u.down.detach().to(dtype).contiguous()
        out[f"{key}.lora_up.weight"] = u.up.detach().to(dtype).contiguous()
        out[f"{key}.alpha"] = torch.tensor(cfg.alpha, dtype=dtype)
    return out


def lr_at(step: int, cfg: LoRATrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def train(cfg: LoRATrainConfig, out: Path) -> dict:
    from ..lora.patch import CopyOnWrite
    from ..sampling import img_ids, pack, txt_ids
    from .train import images_to_tensor

    torch.manual_seed(cfg.seed)
    model, ae, text = load_base()
    for module in (model, ae, text.t5, text.clip):
        module.requires_grad_(False)
    pixels, captions, _ = training_set(cfg)
    with torch.no_grad():
        latents = torch.cat([ae.encode(images_to_tensor(pixels[i:i + 256])) for i in range(0, len(pixels), 256)])
        encoded = [text.encode(captions[i:i + 256], no_grad=True) for i in range(0, len(captions), 256)]
    txt_all = torch.cat([t for t, _ in encoded])
    vec_all = torch.cat([v for _, v in encoded])
    g = torch.Generator().manual_seed(cfg.seed)
    names = target_layers(model, cfg)
    updates = trainable_updates(model, names, cfg, g)
    patch = CopyOnWrite(model)
    for name, u in updates.items():
        patch.add_updates(name, [(u, 1.0)])
    lora_model = patch.result
    params = [t for u in updates.values() for t in (u.down, u.up)]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    h, w = latents.shape[2:]
    ids_img, ids_txt = img_ids(cfg.batch, h, w), txt_ids(cfg.batch, txt_all.shape[1])
    start, running, log = time.time(), None, []
    for step in range(cfg.steps):
        gs = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        idx = torch.randint(0, len(latents), (cfg.batch,), generator=gs)
        x0 = latents[idx]
        noise = torch.randn(x0.shape, generator=gs)
        t = torch.sigmoid(torch.randn(cfg.batch, generator=gs))
        xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        pred = lora_model(img=pack(xt), img_ids=ids_img, txt=txt_all[idx], txt_ids=ids_txt, timesteps=t,
                          y=vec_all[idx])
        loss = F.mse_loss(pred, pack(noise - x0))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % 50 == 0 or step + 1 == cfg.steps:
            record = {"step": step + 1, "loss": round(running, 5), "seconds": round(time.time() - start, 1)}
            log.append(record)
            print(json.dumps(record), flush=True)
    sd = kohya_state_dict(updates, cfg)
    meta = {"fluxwire.lora": json.dumps({"base": "flux-mini", "word": WORD, "script_version":
                                         SCRIPT_VERSION, "config": dataclasses.asdict(cfg)}),
            "ss_network_dim": str(cfg.rank), "ss_network_alpha": str(cfg.alpha)}
    out.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    save_file(sd, str(out / SHIPPED_NAME), metadata=meta)
    summary = {"seconds": round(time.time() - start, 1), "final_loss": running, "layers": len(names),
               "parameters": sum(p.numel() for p in params), "log": log}
    (out / "train_log.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/gold-lora")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--export", action="store_true", help=f"copy the result to {MODELS_DIR}/loras/")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = LoRATrainConfig()
    if args.steps:
        cfg.steps = args.steps
    out = Path(args.out)
    summary = train(cfg, out)
    print(json.dumps({k: v for k, v in summary.items() if k != "log"}))
    if args.export:
        target = MODELS_DIR / "loras"
        target.mkdir(exist_ok=True)
        (target / SHIPPED_NAME).write_bytes((out / SHIPPED_NAME).read_bytes())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
