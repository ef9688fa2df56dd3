"""Train flux-mini: first the autoencoder, then the FLUX transformer with T5 and CLIP trained jointly.

    python -m flux_core.mini.train --work runs/mini            # train (resumes from runs/mini if present)
    python -m flux_core.mini.train --work runs/mini --export flux_core/mini/models

Seeded and reproducible for a given machine and thread count; checkpoints every few hundred steps so an
interrupted run continues where it stopped. The models are flux_core's own FLUX classes (the same code that
runs the 12B model) and transformers' T5/CLIP classes, with tiny widths.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ..models import AutoEncoder, AutoEncoderParams, Flux, FluxParams  # noqa: E402
from ..sampling import img_ids, pack, txt_ids  # noqa: E402
from . import data  # noqa: E402

SCRIPT_VERSION = "1"
T5_MAX_LENGTH = 16
CLIP_MAX_LENGTH = 77


@dataclasses.dataclass
class TrainConfig:
    seed: int = 0
    resolution: int = 64
    # autoencoder
    ae_ch: int = 16
    ae_ch_mult: tuple = (1, 2, 4, 4)
    ae_res_blocks: int = 1
    ae_norm_groups: int = 4
    ae_steps: int = 1200
    ae_batch: int = 16
    ae_lr: float = 2e-3
    ae_kl: float = 1e-6
    # transformer + text encoders
    hidden: int = 128
    heads: int = 4
    axes_dim: tuple = (4, 14, 14)
    double_blocks: int = 3
    single_blocks: int = 5
    text_width: int = 64
    dit_steps: int = 6000
    dit_batch: int = 64
    dit_lr: float = 1e-3
    warmup: int = 200
    ema: float = 0.999
    dataset_size: int = 20000
    checkpoint_every: int = 250


def ae_params(cfg: TrainConfig, scale=1.0, shift=0.0) -> AutoEncoderParams:
    return AutoEncoderParams(resolution=cfg.resolution, in_channels=3, ch=cfg.ae_ch, out_ch=3,
                             ch_mult=tuple(cfg.ae_ch_mult), num_res_blocks=cfg.ae_res_blocks, z_channels=16,
                             scale_factor=scale, shift_factor=shift, norm_groups=cfg.ae_norm_groups)


def flux_params(cfg: TrainConfig) -> FluxParams:
    return FluxParams(in_channels=64, out_channels=64, vec_in_dim=cfg.text_width, context_in_dim=cfg.text_width,
                      hidden_size=cfg.hidden, mlp_ratio=4.0, num_heads=cfg.heads, depth=cfg.double_blocks,
                      depth_single_blocks=cfg.single_blocks, axes_dim=tuple(cfg.axes_dim), theta=10000,
                      qkv_bias=True, guidance_embed=False)


def text_configs(cfg: TrainConfig, t5_tok, clip_tok):
    from transformers import CLIPTextConfig, T5Config

    t5 = T5Config(vocab_size=len(t5_tok), d_model=cfg.text_width, d_kv=cfg.text_width // 2, d_ff=2 * cfg.text_width,
                  num_layers=2, num_heads=2, feed_forward_proj="gated-gelu", dropout_rate=0.0,
                  relative_attention_num_buckets=32, relative_attention_max_distance=128,
                  pad_token_id=t5_tok.pad_token_id, eos_token_id=t5_tok.eos_token_id, decoder_start_token_id=0,
                  is_encoder_decoder=False, use_cache=False)
    clip = CLIPTextConfig(vocab_size=len(clip_tok), hidden_size=cfg.text_width, intermediate_size=2 * cfg.text_width,
                          num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=CLIP_MAX_LENGTH,
                          bos_token_id=clip_tok.bos_token_id, eos_token_id=clip_tok.eos_token_id,
                          pad_token_id=clip_tok.pad_token_id, hidden_act="quick_gelu")
    return t5, clip


def images_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """uint8 [N, H, W, 3] -> float [N, 3, H, W] in [-1, 1]."""
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def lr_at(step: int, total: int, base: float, warmup: int, floor: float = 0.1) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = F.mse_loss((a.clamp(-1, 1) + 1) / 2, (b + 1) / 2).item()
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def _progress(total, initial, desc):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, mininterval=5.0, dynamic_ncols=True)


# ------------------------------------------------------------------------------------------- autoencoder

def train_autoencoder(cfg: TrainConfig, work: Path) -> AutoEncoder:
    ckpt = work / "ae.pt"
    torch.manual_seed(cfg.seed)
    ae = AutoEncoder(ae_params(cfg))
    with torch.no_grad():  # start almost deterministic: posterior noise of std 1 stalls the start
        ae.encoder.conv_out.bias[16:].fill_(-6.0)
    opt = torch.optim.AdamW(ae.parameters(), lr=cfg.ae_lr, weight_decay=0.0)
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=True)
        ae.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
        if "rng" in state:  # the posterior noise continues exactly where it stopped
            torch.set_rng_state(state["rng"])
    if step >= cfg.ae_steps:
        return ae
    held, _, _ = data.dataset(256, seed=999, resolution=cfg.resolution)
    held = images_to_tensor(held)
    bar = _progress(cfg.ae_steps, step, "autoencoder")
    start = time.time()
    while step < cfg.ae_steps:
        pixels, _, _ = data.dataset(cfg.ae_batch, seed=1000 + step, resolution=cfg.resolution)
        x = images_to_tensor(pixels)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg.ae_steps, cfg.ae_lr, 50, floor=0.05)
        mean, logvar = ae.encode_moments(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        recon = ae.decoder(z)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = F.mse_loss(recon, x) + 0.5 * F.l1_loss(recon, x) + cfg.ae_kl * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update(1)
        if step % cfg.checkpoint_every == 0 or step == cfg.ae_steps:
            with torch.no_grad():
                p = psnr(ae.decoder(ae.encode_moments(held[:64])[0]), held[:64])
            bar.set_postfix(loss=f"{loss.item():.4f}", psnr=f"{p:.1f}")
            torch.save({"model": ae.state_dict(), "opt": opt.state_dict(), "step": step,
                        "rng": torch.get_rng_state()}, ckpt)
            log(work, {"stage": "ae", "step": step, "loss": loss.item(), "psnr": p, "seconds": time.time() - start})
    bar.close()
    return ae


def calibrate_latents(ae: AutoEncoder, cfg: TrainConfig) -> tuple[float, float]:
    """scale = 1/std and shift = mean of the posterior means, so model-space latents have unit variance."""
    pixels, _, _ = data.dataset(2048, seed=777, resolution=cfg.resolution)
    with torch.no_grad():
        means = torch.cat([ae.encode_moments(images_to_tensor(pixels[i:i + 256]))[0] for i in range(0, 2048, 256)])
    return 1.0 / means.std().item(), means.mean().item()


# ------------------------------------------------------------------------------------------- transformer

class TextEncoders(torch.nn.Module):
    def __init__(self, t5, clip):
        super().__init__()
        self.t5, self.clip = t5, clip

    def forward(self, t5_ids, clip_ids):
        txt = self.t5(input_ids=t5_ids, attention_mask=None).last_hidden_state
        vec = self.clip(input_ids=clip_ids, attention_mask=None).pooler_output
        return txt, vec


def encode_dataset(ae: AutoEncoder, cfg: TrainConfig, t5_tok, clip_tok, work: Path):
    cache = work / "dataset.pt"
    if cache.exists():
        return torch.load(cache, weights_only=True)
    pixels, captions, _ = data.dataset(cfg.dataset_size, seed=cfg.seed + 1, resolution=cfg.resolution)
    latents = []
    with torch.no_grad():
        for i in range(0, len(pixels), 256):
            latents.append(ae.encode(images_to_tensor(pixels[i:i + 256])))
    t5_ids = t5_tok(captions, padding="max_length", max_length=T5_MAX_LENGTH, truncation=True,
                    return_tensors="pt")["input_ids"]
    clip_ids = clip_tok(captions, padding="max_length", max_length=CLIP_MAX_LENGTH, truncation=True,
                        return_tensors="pt")["input_ids"]
    out = {"latents": torch.cat(latents), "t5_ids": t5_ids, "clip_ids": clip_ids}
    torch.save(out, cache)
    return out


def train_transformer(cfg: TrainConfig, work: Path, ae: AutoEncoder, t5_tok, clip_tok):
    from transformers import CLIPTextModel, T5EncoderModel

    torch.manual_seed(cfg.seed + 2)
    model = Flux(flux_params(cfg))
    t5_cfg, clip_cfg = text_configs(cfg, t5_tok, clip_tok)
    text = TextEncoders(T5EncoderModel(t5_cfg), CLIPTextModel(clip_cfg))
    ema_model, ema_text = Flux(flux_params(cfg)), TextEncoders(T5EncoderModel(t5_cfg), CLIPTextModel(clip_cfg))
    ema_model.load_state_dict(model.state_dict())
    ema_text.load_state_dict(text.state_dict())
    params = list(model.parameters()) + list(text.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.dit_lr, weight_decay=0.0)
    ckpt = work / "dit.pt"
    step = 0
    if ckpt.exists():
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        text.load_state_dict(state["text"])
        ema_model.load_state_dict(state["ema_model"])
        ema_text.load_state_dict(state["ema_text"])
        opt.load_state_dict(state["opt"])
        step = state["step"]
    if step >= cfg.dit_steps:
        return ema_model, ema_text
    ds = encode_dataset(ae, cfg, t5_tok, clip_tok, work)
    latents, t5_ids, clip_ids = ds["latents"], ds["t5_ids"], ds["clip_ids"]
    n = latents.shape[0]
    h, w = latents.shape[2], latents.shape[3]
    ids_img = img_ids(cfg.dit_batch, h, w)
    ids_txt = txt_ids(cfg.dit_batch, T5_MAX_LENGTH)
    ema_pairs = list(zip(list(ema_model.parameters()) + list(ema_text.parameters()), params))
    bar = _progress(cfg.dit_steps, step, "transformer")
    start, running = time.time(), None
    model.train()
    text.train()
    while step < cfg.dit_steps:
        g = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)  # each step's draws depend only on its index
        idx = torch.randint(0, n, (cfg.dit_batch,), generator=g)
        x0 = latents[idx]
        noise = torch.randn(x0.shape, generator=g)
        t = torch.sigmoid(torch.randn(cfg.dit_batch, generator=g))  # logit-normal(0, 1), as in SD3
        tt = t[:, None, None, None]
        xt = (1 - tt) * x0 + tt * noise
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg.dit_steps, cfg.dit_lr, cfg.warmup)
        txt, vec = text(t5_ids[idx], clip_ids[idx])
        pred = model(img=pack(xt), img_ids=ids_img, txt=txt, txt_ids=ids_txt, timesteps=t, y=vec)
        loss = F.mse_loss(pred, pack(noise - x0))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        with torch.no_grad():
            for e, p in ema_pairs:
                e.lerp_(p, 1 - cfg.ema)
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        bar.update(1)
        if step % cfg.checkpoint_every == 0 or step == cfg.dit_steps:
            bar.set_postfix(loss=f"{running:.4f}")
            torch.save({"model": model.state_dict(), "text": text.state_dict(), "ema_model": ema_model.state_dict(),
                        "ema_text": ema_text.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt)
            log(work, {"stage": "dit", "step": step, "loss": running, "seconds": time.time() - start})
    bar.close()
    return ema_model, ema_text


def log(work: Path, record: dict) -> None:
    with open(work / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def build_tokenizers(work: Path):
    from transformers import AutoTokenizer

    from .tokenizers import build_clip_tokenizer, build_t5_tokenizer

    folder = work / "tokenizers"
    if not (folder / "flux-mini-t5" / "tokenizer.json").exists():
        build_t5_tokenizer(folder / "flux-mini-t5")
    if not (folder / "flux-mini-clip" / "vocab.json").exists():
        build_clip_tokenizer(folder / "flux-mini-clip")
    return (AutoTokenizer.from_pretrained(str(folder / "flux-mini-t5")),
            AutoTokenizer.from_pretrained(str(folder / "flux-mini-clip")))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default="runs/flux-mini", help="checkpoints and logs (resumed when present)")
    parser.add_argument("--export", default=None, help="write the shipped model files into this models folder")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ae-steps", type=int, default=None)
    parser.add_argument("--dit-steps", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    cfg_file = work / "config.json"
    cfg = TrainConfig(**json.loads(cfg_file.read_text())) if cfg_file.exists() else TrainConfig()
    if args.ae_steps is not None:
        cfg.ae_steps = args.ae_steps
    if args.dit_steps is not None:
        cfg.dit_steps = args.dit_steps
    cfg_file.write_text(json.dumps(dataclasses.asdict(cfg), indent=2))
    t5_tok, clip_tok = build_tokenizers(work)
    ae = train_autoencoder(cfg, work)
    ae.eval()
    scale, shift = calibrate_latents(ae, cfg)
    ae.scale_factor, ae.shift_factor = scale, shift
    ae.params = dataclasses.replace(ae.params, scale_factor=scale, shift_factor=shift)
    log(work, {"stage": "calibrate", "scale_factor": scale, "shift_factor": shift})
    model, text = train_transformer(cfg, work, ae, t5_tok, clip_tok)
    if args.export:
        from .export import export

        export(Path(args.export), cfg, ae, model, text, work / "tokenizers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
