"""Writes the shipped workflows in workflows/ (run from the repository root: python tools/make_workflows.py).

The JSON files are committed; this script is how they were made, so a change to all of them (a new widget,
a new layout) is one edit here instead of six by hand. Saving is deterministic, so unchanged workflows
come out byte-identical.
"""
import json, sys
sys.path.insert(0, ".")
from flux_core.graph.workflow import parse_document, save_document

URL = {
    "flux1-schnell.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/main/flux1-schnell.safetensors",
    "flux1-dev.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/flux1-dev.safetensors",
    "ae.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-schnell/resolve/main/ae.safetensors",
    "t5xxl_fp16.safetensors": "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors",
    "clip_l.safetensors": "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/clip_l.safetensors",
    "flux1-schnell-fp8.safetensors": "https://huggingface.co/Comfy-Org/flux1-schnell/resolve/main/flux1-schnell-fp8.safetensors",
    "flux1-canny-dev.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-Canny-dev/resolve/main/flux1-canny-dev.safetensors",
    "flux1-depth-dev.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-Depth-dev/resolve/main/flux1-depth-dev.safetensors",
    "flux1-redux-dev.safetensors": "https://huggingface.co/black-forest-labs/FLUX.1-Redux-dev/resolve/main/flux1-redux-dev.safetensors",
    "sigclip_vision_patch14_384.safetensors": "https://huggingface.co/Comfy-Org/sigclip_vision_384/resolve/main/sigclip_vision_patch14_384.safetensors",
}
FOLDER = {"model_name": "diffusion_models", "t5_name": "text_encoders", "clip_name": "text_encoders",
          "vae_name": "vae", "ckpt_name": "checkpoints", "style_model_name": "style_models"}
FILE_FOLDER = {"sigclip_vision_patch14_384.safetensors": "clip_vision"}  # its widget is clip_name, as ComfyUI's


class B:
    def __init__(self, title, description):
        self.doc = {"format": "fluxwire.workflow", "version": 1,
                    "metadata": {"title": title, "description": description, "author": "fluxwire"},
                    "nodes": [], "links": []}

    def node(self, nid, ntype, pos, urls=True, **widgets):
        n = {"id": nid, "type": ntype, "version": 1, "widgets": widgets, "ui": {"pos": list(pos)}}
        models = [{"name": v, "folder": FILE_FOLDER.get(v, FOLDER[k]), "url": URL[v]} for k, v in widgets.items()
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


# ----------------------------------------------------------------------------- subgraph library and its users
from flux_core.graph.subgraph_document import SUBGRAPH_FORMAT
from flux_core.graph.workflow import dumps_document


class L(B):
    """A library subgraph: a definition with declared inputs and outputs, saved as a subgraph file."""

    def __init__(self, name, description, category):
        self.doc = {"format": SUBGRAPH_FORMAT, "version": 2, "name": name, "description": description,
                    "category": category, "inputs": [], "outputs": [], "nodes": [], "links": []}

    def input(self, name, stype, to, default=None, widget=None, description="", optional=False):
        d = {"name": name, "type": stype, "description": description}
        if default is not None:
            d["default"] = default
        if widget is not None:
            d["widget"] = widget
        if optional:
            d["optional"] = True
        self.doc["inputs"].append(d)
        for nid, inp in to:
            self.link("@inputs", name, nid, inp)

    def output(self, name, stype, frm, description=""):
        self.doc["outputs"].append({"name": name, "type": stype, "description": description})
        self.link(*frm, "@outputs", name)

    def save(self, path):
        from pathlib import Path
        from flux_core.graph.subgraph_files import parse_subgraph_file

        text = json.dumps(self.doc)
        loaded = parse_subgraph_file(text.encode(), Path(path))  # checks it
        from flux_core.graph.subgraph_files import subgraph_file_document
        out = dumps_document(subgraph_file_document(loaded.definition))
        Path(path).write_text(out, encoding="utf-8")
        return out


def library_ref(library):
    """A reference to a shipped library entry with the revision and sockets it is made against."""
    from pathlib import Path
    from flux_core.graph.subgraph_files import load_subgraph_file

    loaded = load_subgraph_file(Path("workflows/library") / (library + ".json"))
    return {"library": library, "revision": loaded.revision, "sockets": loaded.definition.sockets()}


def instance(b, nid, library, pos, **widgets):
    """An instance of a shipped library entry."""
    b.doc["version"] = 2
    b.doc["nodes"].append({"id": nid, "type": "Subgraph", "widgets": widgets, "ui": {"pos": list(pos)},
                           "subgraph": library_ref(library)})
    return nid


SEED = {"min": 0, "max": 2 ** 64 - 1, "seed": True}

s = L("Sample (N Euler steps)", "Sample a latent in `steps` Euler steps from a seed: noise, schedule (with "
      "denoise < 1 for img2img) and sampler in one node, like ComfyUI's KSampler.", "subgraphs/sampling")
s.node("noise", "RandomNoise", (40, 300), seed=0)
s.node("scheduler", "Scheduler", (40, 60), steps=4, denoise=1.0, shift="auto", base_shift=0.5, max_shift=1.15)
s.node("sampler", "Sampler", (320, 60))
s.input("model", "MODEL", [("scheduler", "model"), ("sampler", "model")], description="the diffusion model")
s.input("conditioning", "CONDITIONING", [("sampler", "conditioning")], description="the encoded prompt")
s.input("latent", "LATENT", [("scheduler", "latent"), ("sampler", "latent")],
        description="an empty latent (text-to-image) or an encoded picture (img2img)")
s.input("seed", "INT", [("noise", "seed")], default=0, widget=SEED, description="the noise seed")
s.input("steps", "INT", [("scheduler", "steps")], default=4, widget={"min": 1, "max": 10000},
        description="number of Euler steps")
s.input("denoise", "FLOAT", [("scheduler", "denoise")], default=1.0, widget={"min": 0.0, "max": 1.0, "step": 0.01},
        description="1 starts from pure noise; less keeps more of the input latent")
s.link("noise", "noise", "sampler", "noise")
s.link("scheduler", "sigmas", "sampler", "sigmas")
s.output("latent", "LATENT", ("sampler", "latent"), "the sampled latent")
s.save("workflows/library/flux-sample.json")


def text_to_image(title, description, model, t5_len, steps, guidance=None):
    t = L(title, description, "subgraphs/flux")
    t.node("model", "LoadDiffusionModel", (40, 40), model_name=model, weight_dtype="default")
    t.node("text_encoders", "LoadTextEncoders", (40, 220), t5_name="t5xxl_fp16.safetensors",
           clip_name="clip_l.safetensors", t5_max_length=t5_len, weight_dtype="default")
    t.node("vae", "LoadVAE", (40, 420), vae_name="ae.safetensors")
    t.node("prompt", "TextEncode", (340, 200), text=PROMPT, clip_text="")
    t.link("text_encoders", "text_encoder", "prompt", "text_encoder")
    cond = ("prompt", "conditioning")
    if guidance is not None:
        t.node("guidance", "FluxGuidance", (600, 200), guidance=guidance)
        t.link("prompt", "conditioning", "guidance", "conditioning")
        cond = ("guidance", "conditioning")
    t.node("latent", "EmptyLatent", (340, 420), width=1024, height=1024, batch_size=1)
    instance(t, "sample", "flux-sample", (860, 200), steps=steps)
    t.link("model", "model", "sample", "model")
    t.link(*cond, "sample", "conditioning")
    t.link("latent", "latent", "sample", "latent")
    t.node("decode", "VAEDecode", (1120, 200))
    t.link("vae", "vae", "decode", "vae")
    t.link("sample", "latent", "decode", "latent")
    t.input("prompt", "STRING", [("prompt", "text")], default=PROMPT, widget={"multiline": True},
            description="what the picture shows")
    t.input("seed", "INT", [("sample", "seed")], default=0, widget=SEED, description="the noise seed")
    t.input("width", "INT", [("latent", "width")], default=1024, widget={"min": 16, "max": 8192, "step": 16})
    t.input("height", "INT", [("latent", "height")], default=1024, widget={"min": 16, "max": 8192, "step": 16})
    if guidance is not None:
        t.input("guidance", "FLOAT", [("guidance", "guidance")], default=guidance,
                widget={"min": 0.0, "max": 100.0, "step": 0.1}, description="distilled guidance strength")
    t.input("steps", "INT", [("sample", "steps")], default=steps, widget={"min": 1, "max": 10000})
    t.output("image", "IMAGE", ("decode", "image"), "the picture")
    return t


text_to_image("FLUX schnell text-to-image", "FLUX.1 [schnell] from split files: prompt, seed and size in, picture "
              "out (4 steps, no guidance).", "flux1-schnell.safetensors", "256", 4).save(
    "workflows/library/flux-schnell-t2i.json")
text_to_image("FLUX dev text-to-image", "FLUX.1 [dev] from split files: prompt, seed, size and guidance in, picture "
              "out (20 steps, T5 512 tokens).", "flux1-dev.safetensors", "512", 20, guidance=3.5).save(
    "workflows/library/flux-dev-t2i.json")

b = B("FLUX.1 schnell, two pictures from the library", "Two instances of the library subgraph 'FLUX schnell "
      "text-to-image' (which itself holds the 'Sample (N Euler steps)' subgraph) with their own prompts and seeds; "
      "the models load once for both.")
instance(b, "cabin", "flux-schnell-t2i", (40, 40), prompt=PROMPT, seed=0)
instance(b, "harbour", "flux-schnell-t2i", (40, 400), seed=1,
         prompt="a small fishing harbour at dawn, boats and gulls, mist on the water, photograph")
b.node("save_cabin", "SaveImage", (420, 40), filename_prefix="flux-cabin")
b.node("save_harbour", "SaveImage", (420, 400), filename_prefix="flux-harbour")
b.link("cabin", "image", "save_cabin", "images")
b.link("harbour", "image", "save_harbour", "images")
b.save("workflows/flux-schnell-library.json")

b = B("FLUX.1 schnell img2img (subgraph)", "The img2img workflow with the library subgraph 'Sample (N Euler steps)' "
      "in place of the noise, schedule and sampler nodes (denoise 0.75, 4 steps).")
m, mo, te, teo, v, vo = split_loaders(b)
b.node("image", "LoadImage", (40, 600), image="example.png", fit="crop")
b.node("encode", "VAEEncode", (340, 600))
b.link("vae", "vae", "encode", "vae")
b.link("image", "image", "encode", "image")
b.node("prompt", "TextEncode", (340, 200), text="a watercolour painting of a lighthouse on a cliff at sunset",
       clip_text="")
b.link(te, teo, "prompt", "text_encoder")
instance(b, "sample", "flux-sample", (640, 200), seed=0, steps=4, denoise=0.75)
b.link(m, mo, "sample", "model")
b.link("prompt", "conditioning", "sample", "conditioning")
b.link("encode", "latent", "sample", "latent")
b.node("decode", "VAEDecode", (920, 200))
b.link(v, vo, "decode", "vae")
b.link("sample", "latent", "decode", "latent")
b.node("save", "SaveImage", (1160, 200), filename_prefix="flux-img2img-subgraph")
b.link("decode", "image", "save", "images")
b.save("workflows/flux-img2img-subgraph.json")


# ----------------------------------------------------------------------------- inpainting, outpainting, editing
def make_inputs():
    """The shipped input pictures for the inpainting workflows (deterministic, written next to example.png)."""
    from PIL import Image, ImageDraw
    from flux_core.mini import data

    base = Image.open("workflows/input/example.png").convert("RGBA")
    alpha = Image.new("L", base.size, 255)
    ImageDraw.Draw(alpha).ellipse((176, 208, 336, 400), fill=0)  # transparent = to paint
    base.putalpha(alpha)
    base.save("workflows/input/inpaint-example.png")
    scene = data.Scene("square", "yellow", "blue", "top left", "small")
    mini = data.render(scene, 64).convert("RGBA")
    alpha = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(alpha).rectangle((0, 0, 31, 31), fill=255)  # keep the top-left quarter, paint the rest
    mini.putalpha(alpha)
    mini.save("workflows/input/mini-inpaint.png")


make_inputs()


def fill_loaders(b, model):
    return split_loaders(b, model, "512")


def sample_and_save(b, loaders, cond, latent, steps, prefix, pos=900, seed=0):
    m, mo, te, teo, v, vo = loaders
    b.node("noise", "RandomNoise", (pos - 280, 560), seed=seed)
    b.node("scheduler", "Scheduler", (pos - 280, 400), steps=steps, denoise=1.0, shift="auto", base_shift=0.5,
           max_shift=1.15)
    b.link(m, mo, "scheduler", "model")
    b.link(*latent, "scheduler", "latent")
    b.node("sampler", "Sampler", (pos, 200))
    b.link(m, mo, "sampler", "model")
    b.link(*cond, "sampler", "conditioning")
    b.link("noise", "noise", "sampler", "noise")
    b.link("scheduler", "sigmas", "sampler", "sigmas")
    b.link(*latent, "sampler", "latent")
    b.node("decode", "VAEDecode", (pos + 280, 200))
    b.link(v, vo, "decode", "vae")
    b.link("sampler", "latent", "decode", "latent")
    b.node("save", "SaveImage", (pos + 520, 200), filename_prefix=prefix)
    b.link("decode", "image", "save", "images")


def fill_workflow(b, image_node, image_out, mask_node, mask_out, prompt, prefix):
    loaders = fill_loaders(b, "flux1-fill-dev.safetensors")
    b.node("prompt", "TextEncode", (340, 200), text=prompt, clip_text="")
    b.link("text_encoders", "text_encoder", "prompt", "text_encoder")
    b.node("guidance", "FluxGuidance", (600, 100), guidance=30.0)
    b.link("prompt", "conditioning", "guidance", "conditioning")
    b.node("inpaint", "InpaintConditioning", (600, 300), noise_mask=True)
    b.link("guidance", "conditioning", "inpaint", "conditioning")
    b.link("vae", "vae", "inpaint", "vae")
    b.link(image_node, image_out, "inpaint", "image")
    b.link(mask_node, mask_out, "inpaint", "mask")
    sample_and_save(b, loaders, ("inpaint", "conditioning"), ("inpaint", "latent"), 20, prefix, pos=1160)


b = B("FLUX.1 Fill inpaint", "Repaint the transparent part of a picture with FLUX.1 Fill [dev]: LoadImage's mask "
      "comes from the alpha channel (transparent = paint), grown a little so the seam is repainted too; guidance 30.")
b.node("image", "LoadImage", (40, 600), image="inpaint-example.png", fit="crop")
b.node("grow", "GrowMask", (340, 700), expand=8, tapered_corners=True)
b.link("image", "mask", "grow", "mask")
fill_workflow(b, "image", "image", "grow", "mask", "a small wooden rowing boat", "flux-fill-inpaint")
b.save("workflows/flux-fill-inpaint.json")

b = B("FLUX.1 Fill outpaint", "Extend a picture past its borders with FLUX.1 Fill [dev]: PadForOutpaint adds grey "
      "borders and the mask that paints them (and feathers 24 px into the old picture); guidance 30.")
b.node("image", "LoadImage", (40, 600), image="example.png", fit="crop")
b.node("pad", "PadForOutpaint", (340, 700), left=256, top=0, right=256, bottom=0, feathering=24)
b.link("image", "image", "pad", "image")
fill_workflow(b, "pad", "image", "pad", "mask", PROMPT, "flux-fill-outpaint")
b.save("workflows/flux-fill-outpaint.json")

b = B("FLUX.1 Kontext edit", "Edit a picture by instruction with FLUX.1 Kontext [dev]: the picture is scaled to the "
      "nearest size Kontext was trained on, added as a reference and the edit is sampled at that size; guidance 2.5.")
loaders = split_loaders(b, "flux1-kontext-dev.safetensors", "512")
b.node("image", "LoadImage", (40, 600), image="example.png", fit="none")
b.node("scale", "KontextImageScale", (340, 600))
b.link("image", "image", "scale", "image")
b.node("prompt", "TextEncode", (340, 200), text="make it a snowy winter evening, keep everything else", clip_text="")
b.link("text_encoders", "text_encoder", "prompt", "text_encoder")
b.node("reference", "ReferenceImage", (600, 200))
b.link("prompt", "conditioning", "reference", "conditioning")
b.link("vae", "vae", "reference", "vae")
b.link("scale", "image", "reference", "image")
b.node("guidance", "FluxGuidance", (860, 100), guidance=2.5)
b.link("reference", "conditioning", "guidance", "conditioning")
b.node("encode", "VAEEncode", (600, 600))
b.link("vae", "vae", "encode", "vae")
b.link("scale", "image", "encode", "image")
sample_and_save(b, loaders, ("guidance", "conditioning"), ("encode", "latent"), 20, "flux-kontext-edit", pos=1160)
b.save("workflows/flux-kontext-edit.json")

b = B("flux-mini inpaint", "Masked img2img with the embedded flux-mini model, no downloads: the picture keeps its "
      "top-left quarter (its alpha channel) and SetLatentNoiseMask repaints the rest with the prompted shape.")
b.node("model", "LoadDiffusionModel", (40, 40), urls=False, model_name="flux-mini.safetensors", weight_dtype="default")
b.node("text_encoders", "LoadTextEncoders", (40, 220), urls=False, t5_name="flux-mini-t5.safetensors",
       clip_name="flux-mini-clip.safetensors", t5_max_length="auto", weight_dtype="default")
b.node("vae", "LoadVAE", (40, 420), urls=False, vae_name="flux-mini-ae.safetensors")
b.node("image", "LoadImage", (40, 600), image="mini-inpaint.png", fit="none")
b.node("encode", "VAEEncode", (340, 600))
b.link("vae", "vae", "encode", "vae")
b.link("image", "image", "encode", "image")
b.node("masked", "SetLatentNoiseMask", (600, 600))
b.link("encode", "latent", "masked", "latent")
b.link("image", "mask", "masked", "mask")
b.node("prompt", "TextEncode", (340, 200), text="a large red circle on a blue background, bottom right", clip_text="")
b.link("text_encoders", "text_encoder", "prompt", "text_encoder")
sample_and_save(b, ("model", "model", "text_encoders", "text_encoder", "vae", "vae"), ("prompt", "conditioning"),
                ("masked", "latent"), 4, "flux-mini-inpaint", pos=1160)
b.save("workflows/flux-mini-inpaint.json")

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


# ----------------------------------------------------------------------------- FLUX.1 tools: Canny, Depth, Redux
def control_workflow(title, description, model, preprocess, guidance, prefix, prompt):
    """A control picture (edges or depth of the shipped house picture, scaled to about 1 MP) steers FLUX.1
    Canny/Depth: ControlConditioning adds its latent to the prompt and gives the latent to sample into."""
    b = B(title, description)
    m, mo, te, teo, v, vo = split_loaders(b, model, "512")
    b.node("image", "LoadImage", (40, 600), image="house-example.png", fit="none")
    b.node("scale", "ImageScaleToTotalPixels", (300, 600), upscale_method="lanczos", megapixels=1.0)
    b.link("image", "image", "scale", "image")
    nid, ntype, widgets = preprocess
    b.node(nid, ntype, (560, 600), **widgets)
    b.link("scale", "image", nid, "image")
    b.node("control_preview", "PreviewImage", (820, 760))
    b.link(nid, "image", "control_preview", "images")
    b.node("prompt", "TextEncode", (340, 200), text=prompt, clip_text="")
    b.link(te, teo, "prompt", "text_encoder")
    b.node("guidance", "FluxGuidance", (620, 200), guidance=guidance)
    b.link("prompt", "conditioning", "guidance", "conditioning")
    b.node("control", "ControlConditioning", (820, 420))
    b.link("guidance", "conditioning", "control", "conditioning")
    b.link(v, vo, "control", "vae")
    b.link(nid, "image", "control", "image")
    b.node("noise", "RandomNoise", (820, 600), seed=0)
    b.node("scheduler", "Scheduler", (1080, 420), steps=28, denoise=1.0, shift="auto", base_shift=0.5,
           max_shift=1.15)
    b.link(m, mo, "scheduler", "model")
    b.link("control", "latent", "scheduler", "latent")
    b.node("sampler", "Sampler", (1340, 200))
    b.link(m, mo, "sampler", "model")
    b.link("control", "conditioning", "sampler", "conditioning")
    b.link("noise", "noise", "sampler", "noise")
    b.link("scheduler", "sigmas", "sampler", "sigmas")
    b.link("control", "latent", "sampler", "latent")
    b.node("decode", "VAEDecode", (1600, 200))
    b.link(v, vo, "decode", "vae")
    b.link("sampler", "latent", "decode", "latent")
    b.node("save", "SaveImage", (1840, 200), filename_prefix=prefix)
    b.link("decode", "image", "save", "images")
    return b


control_workflow("FLUX.1 Canny", "FLUX.1 Canny [dev]: the edges of the shipped house picture (Canny, thresholds as "
                 "ComfyUI's) fix the layout, the prompt the rest. Guidance 30, 28 steps.", "flux1-canny-dev.safetensors",
                 ("canny", "Canny", {"low_threshold": 0.4, "high_threshold": 0.8}), 30.0, "flux-canny",
                 "a cosy wooden cabin in a snowy forest at dusk, warm light in the windows, photograph").save(
    "workflows/flux-canny.json")
control_workflow("FLUX.1 Depth", "FLUX.1 Depth [dev]: a depth map of the shipped house picture (Depth Anything V2 "
                 "Small from models/depth/) fixes the scene's shape, the prompt the rest. Guidance 10, 28 steps.",
                 "flux1-depth-dev.safetensors", ("depth", "DepthMap", {"depth_model": "depth-anything-v2-small"}),
                 10.0, "flux-depth", "a stone cottage on a green hill under a stormy sky, oil painting").save(
    "workflows/flux-depth.json")

b = B("FLUX.1 Redux", "FLUX.1 Redux [dev]: the SigLIP vision encoder sees the shipped lighthouse picture and the "
      "Redux model turns it into prompt tokens, appended to the text prompt: variations of the picture in its "
      "style. Lower ApplyStyle's strength or raise its downsampling_factor to give the prompt more say.")
m, mo, te, teo, v, vo = split_loaders(b, "flux1-dev.safetensors", "512")
b.node("image", "LoadImage", (40, 600), image="example.png", fit="none")
b.node("vision", "LoadVisionEncoder", (40, 780), clip_name="sigclip_vision_patch14_384.safetensors")
b.node("see", "EncodeImage", (320, 680), crop="center")
b.link("vision", "clip_vision", "see", "clip_vision")
b.link("image", "image", "see", "image")
b.node("style_model", "LoadStyleModel", (320, 860), style_model_name="flux1-redux-dev.safetensors")
b.node("style", "ApplyStyle", (880, 420), strength=1.0, downsampling_factor=1, downsampling_mode="area")
b.link("style_model", "style_model", "style", "style_model")
b.link("see", "clip_vision_output", "style", "clip_vision_output")
b.node("prompt", "TextEncode", (340, 200), text="a lighthouse on a cliff", clip_text="")
b.link(te, teo, "prompt", "text_encoder")
b.node("guidance", "FluxGuidance", (620, 200), guidance=3.5)
b.link("prompt", "conditioning", "guidance", "conditioning")
b.link("guidance", "conditioning", "style", "conditioning")
b.node("latent", "EmptyLatent", (620, 600), width=1024, height=1024, batch_size=1)
b.node("noise", "RandomNoise", (880, 760), seed=0)
b.node("scheduler", "Scheduler", (1140, 420), steps=20, denoise=1.0, shift="auto", base_shift=0.5, max_shift=1.15)
b.link(m, mo, "scheduler", "model")
b.link("latent", "latent", "scheduler", "latent")
b.node("sampler", "Sampler", (1400, 200))
b.link(m, mo, "sampler", "model")
b.link("style", "conditioning", "sampler", "conditioning")
b.link("noise", "noise", "sampler", "noise")
b.link("scheduler", "sigmas", "sampler", "sigmas")
b.link("latent", "latent", "sampler", "latent")
b.node("decode", "VAEDecode", (1660, 200))
b.link(v, vo, "decode", "vae")
b.link("sampler", "latent", "decode", "latent")
b.node("save", "SaveImage", (1900, 200), filename_prefix="flux-redux")
b.link("decode", "image", "save", "images")
b.save("workflows/flux-redux.json")
