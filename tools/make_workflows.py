"""Writes the shipped workflows in workflows/ (run from the repository root: python tools/make_workflows.py).

The JSON files are committed; this script is how they were made, so a change to all of them (a new widget,
a new layout) is one edit here instead of six by hand. Saving is deterministic, so unchanged workflows
come out byte-identical.
"""
import json, sys
sys.path.insert(0, ".")
from flux_core.workflow import parse_document, save_document

URL = {
    "flux1-schnell.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/main/flux1-schnell.safetensors",
    "flux1-dev.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors",
    "ae.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/main/ae.safetensors",
    "t5xxl_fp16.safetensors": "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors",
    "clip_l.safetensors": "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors",
    "flux1-schnell-fp8.safetensors": "https://huggingface.co/Comfy-Org/flux1-schnell/resolve/main/flux1-schnell-fp8.safetensors",
}
FOLDER = {"model_name": "diffusion_models", "t5_name": "text_encoders", "clip_name": "text_encoders",
          "vae_name": "vae", "ckpt_name": "checkpoints"}


class B:
    def __init__(self, title, description):
        self.doc = {"format": "fluxwire.workflow", "version": 1,
                    "metadata": {"title": title, "description": description, "author": "fluxwire"},
                    "nodes": [], "links": []}

    def node(self, nid, ntype, pos, urls=True, **widgets):
        n = {"id": nid, "type": ntype, "version": 1, "widgets": widgets, "ui": {"pos": list(pos)}}
        models = [{"name": v, "folder": FOLDER[k], "url": URL[v]} for k, v in widgets.items()
                  if k in FOLDER and v in URL and urls]
        if models:
            n["properties"] = {"models": models}
        self.doc["nodes"].append(n)
        return nid

    def link(self, src, out, dst, inp):
        self.doc["links"].append({"from": src, "output": out, "to": dst, "input": inp})

    def save(self, path):
        save_document(parse_document(self.doc), path)


PROMPT = "a cosy cabin in a snowy pine forest at dusk, warm light in the windows, detailed, photograph"


def split_loaders(b, model="flux1-schnell.safetensors", t5_len="256"):
    b.node("model", "LoadDiffusionModel", (40, 40), model_name=model, weight_dtype="default")
    b.node("text_encoders", "LoadTextEncoders", (40, 220), t5_name="t5xxl_fp16.safetensors",
           clip_name="clip_l.safetensors", t5_max_length=t5_len, weight_dtype="default")
    b.node("vae", "LoadVAE", (40, 420), vae_name="ae.safetensors")
    return "model", "model", "text_encoders", "text_encoder", "vae", "vae"


def pipeline(b, loaders, steps, size=1024, guidance=None, latent_from=None, denoise=1.0, prompt=PROMPT,
             prefix="fluxwire", seed=0):
    m, mo, te, teo, v, vo = loaders
    b.node("prompt", "TextEncode", (340, 200), text=prompt, clip_text="")
    b.link(te, teo, "prompt", "text_encoder")
    cond = ("prompt", "conditioning")
    if guidance is not None:
        b.node("guidance", "FluxGuidance", (620, 200), guidance=guidance)
        b.link("prompt", "conditioning", "guidance", "conditioning")
        cond = ("guidance", "conditioning")
    if latent_from is None:
        b.node("latent", "EmptyLatent", (340, 420), width=size, height=size, batch_size=1)
        latent_from = ("latent", "latent")
    b.node("noise", "RandomNoise", (340, 560), seed=seed)
    b.node("scheduler", "Scheduler", (620, 400), steps=steps, denoise=denoise, shift="auto", base_shift=0.5,
           max_shift=1.15)
    b.link(m, mo, "scheduler", "model")
    b.link(*latent_from, "scheduler", "latent")
    b.node("sampler", "Sampler", (900, 200))
    b.link(m, mo, "sampler", "model")
    b.link(*cond, "sampler", "conditioning")
    b.link("noise", "noise", "sampler", "noise")
    b.link("scheduler", "sigmas", "sampler", "sigmas")
    b.link(*latent_from, "sampler", "latent")
    b.node("decode", "VAEDecode", (1180, 200))
    b.link(v, vo, "decode", "vae")
    b.link("sampler", "latent", "decode", "latent")
    b.node("save", "SaveImage", (1420, 200), filename_prefix=prefix)
    b.link("decode", "image", "save", "images")


b = B("FLUX.1 schnell", "FLUX.1 [schnell] from split files: 1024x1024 in 4 steps, no guidance, no shift.")
pipeline(b, split_loaders(b), steps=4, prefix="flux-schnell")
b.save("workflows/flux-schnell.json")

b = B("FLUX.1 dev", "FLUX.1 [dev] from split files: guidance 3.5, resolution-shifted schedule, 20 steps, T5 512 tokens.")
pipeline(b, split_loaders(b, "flux1-dev.safetensors", "512"), steps=20, guidance=3.5, prefix="flux-dev")
b.save("workflows/flux-dev.json")

b = B("FLUX.1 schnell (checkpoint)", "FLUX.1 [schnell] from one all-in-one fp8 checkpoint, 4 steps.")
b.node("checkpoint", "LoadCheckpoint", (40, 200), ckpt_name="flux1-schnell-fp8.safetensors", weight_dtype="default")
pipeline(b, ("checkpoint", "model", "checkpoint", "text_encoder", "checkpoint", "vae"), steps=4,
         prefix="flux-schnell-ckpt")
b.save("workflows/flux-schnell-checkpoint.json")

b = B("FLUX.1 schnell img2img", "Repaint a picture: the shipped example.png is encoded, noised to 75% and sampled back "
      "with a new prompt (denoise 0.75, 4 steps).")
loaders = split_loaders(b)
b.node("image", "LoadImage", (40, 600), image="example.png", fit="crop")
b.node("encode", "VAEEncode", (340, 700))
b.link("vae", "vae", "encode", "vae")
b.link("image", "image", "encode", "image")
pipeline(b, loaders, steps=4, denoise=0.75, latent_from=("encode", "latent"),
         prompt="a watercolour painting of a lighthouse on a cliff at sunset", prefix="flux-img2img")
b.save("workflows/flux-img2img.json")

b = B("FLUX.1 schnell step by step", "Four SamplerStep nodes chained by hand, with a preview of the picture after "
      "each step: watch the noise turn into an image.")
m, mo, te, teo, v, vo = split_loaders(b)
b.node("prompt", "TextEncode", (340, 200), text=PROMPT, clip_text="")
b.link(te, teo, "prompt", "text_encoder")
b.node("latent", "EmptyLatent", (340, 420), width=1024, height=1024, batch_size=1)
b.node("noise", "RandomNoise", (340, 560), seed=0)
b.node("scheduler", "Scheduler", (620, 420), steps=4, denoise=1.0, shift="auto", base_shift=0.5, max_shift=1.15)
b.link(m, mo, "scheduler", "model")
b.link("latent", "latent", "scheduler", "latent")
b.node("start", "NoisyLatent", (620, 600))
b.link("latent", "latent", "start", "latent")
b.link("noise", "noise", "start", "noise")
b.link("scheduler", "sigmas", "start", "sigmas")
prev = ("start", "latent")
for i in range(4):
    sid = f"step{i + 1}"
    b.node(sid, "SamplerStep", (900 + 260 * i, 200), step=i)
    b.link(m, mo, sid, "model")
    b.link("prompt", "conditioning", sid, "conditioning")
    b.link(*prev, sid, "latent")
    b.link("scheduler", "sigmas", sid, "sigmas")
    did = f"decode{i + 1}"
    b.node(did, "VAEDecode", (900 + 260 * i, 420))
    b.link(v, vo, did, "vae")
    b.link(sid, "latent", did, "latent")
    if i < 3:
        pid = f"preview{i + 1}"
        b.node(pid, "PreviewImage", (900 + 260 * i, 600))
        b.link(did, "image", pid, "images")
    prev = (sid, "latent")
b.node("save", "SaveImage", (1680, 600), filename_prefix="flux-step-by-step")
b.link("decode4", "image", "save", "images")
b.save("workflows/flux-step-by-step.json")

b = B("flux-mini", "The embedded default model: a tiny FLUX-structured model trained by fluxwire on drawn shapes. "
      "Try prompts like 'a large red circle on a blue background, top left'. 64x64 in 4 steps, no downloads.")
b.node("model", "LoadDiffusionModel", (40, 40), urls=False, model_name="flux-mini.safetensors", weight_dtype="default")
b.node("text_encoders", "LoadTextEncoders", (40, 220), urls=False, t5_name="flux-mini-t5.safetensors",
       clip_name="flux-mini-clip.safetensors", t5_max_length="auto", weight_dtype="default")
b.node("vae", "LoadVAE", (40, 420), urls=False, vae_name="flux-mini-ae.safetensors")
pipeline(b, ("model", "model", "text_encoders", "text_encoder", "vae", "vae"), steps=4, size=64,
         prompt="a large red circle on a blue background, center", prefix="flux-mini")
b.save("workflows/flux-mini.json")

b = B("flux-mini with a LoRA", "flux-mini plus the LoRA fluxwire trained for it: flux-mini-gold teaches the new "
      "colour word 'gold'. Set strength_model to 0 to see what flux-mini draws without it.")
b.node("model", "LoadDiffusionModel", (40, 40), urls=False, model_name="flux-mini.safetensors", weight_dtype="default")
b.node("text_encoders", "LoadTextEncoders", (40, 220), urls=False, t5_name="flux-mini-t5.safetensors",
       clip_name="flux-mini-clip.safetensors", t5_max_length="auto", weight_dtype="default")
b.node("vae", "LoadVAE", (40, 420), urls=False, vae_name="flux-mini-ae.safetensors")
b.node("lora", "LoadLoRA", (40, 600), lora_name="flux-mini-gold.safetensors", strength_model=1.0,
       strength_clip=1.0)
b.link("model", "model", "lora", "model")
b.link("text_encoders", "text_encoder", "lora", "text_encoders")
pipeline(b, ("lora", "model", "lora", "text_encoders", "vae", "vae"), steps=4, size=64,
         prompt="a large gold star on a blue background, center", prefix="flux-mini-lora")
b.save("workflows/flux-mini-lora.json")
