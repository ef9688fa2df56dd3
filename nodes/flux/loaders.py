"""Loader nodes: model files chosen by name from the models folder (ComfyUI's layout)."""
from __future__ import annotations

from flux_core.graph.node import Combo, ModelFile, Node, NodeError, Output

from .folders import file_stamp, model_path, models_root_of
from .values import FluxModel, TextEncoders, Vae

WEIGHT_DTYPES = ["default", "bf16", "fp16", "fp32", "fp8_e4m3fn"]
T5_LENGTHS = ["auto", "256", "512", "comfyui"]
T5_LENGTH_HELP = ("T5 tokens: 256 for schnell, 512 for dev; auto reads the file or uses 256; comfyui tokenizes as "
                  "ComfyUI does (at least 256, never truncated, (text:1.2) weights)")


def _set_t5_length(conditioner, choice: str) -> None:
    """Apply a T5-length choice to a loaded conditioner ("auto": what the loader chose)."""
    if choice == "comfyui":
        conditioner.t5_max_length, conditioner.tokenization = 256, "comfyui"
    elif choice != "auto":
        conditioner.t5_max_length = int(choice)


def _dtype(name: str):
    return None if name == "default" else name


def _load(what: str, input_name: str, fn, *args, **kw):
    """Call a flux_core loader; turn its errors into a message naming the node input."""
    from flux_core.loading import ModelLoadError

    try:
        return fn(*args, **kw)
    except ModelLoadError as e:
        raise NodeError(f"cannot load the {what}: {e}", input=input_name) from None


def _is_kontext(path, model) -> bool:
    """Kontext has dev's shapes: the file's metadata or its name tells (flux_core.loading.detect.model_type)."""
    from flux_core.loading import ModelLoadError
    from flux_core.loading.detect import model_type
    from flux_core.loading.safetensors_io import read_header

    try:
        metadata = read_header(path).metadata if path.is_file() else {}
    except (ModelLoadError, OSError, ValueError):  # shards or an index file: the name alone decides
        metadata = {}
    return model_type(vars(model.params), metadata, path.name) == "kontext"


def _place(ctx, *paths) -> dict:
    """Loaders build models on the CPU; the memory manager moves them to the compute device on borrow.
    Before a file is read, idle models leave RAM if the file would not fit the RAM budget."""
    from flux_core.memory import compute_device, load_device, manager_for

    size = sum(p.stat().st_size for p in paths if p.is_file())
    if size:
        manager_for(ctx).make_ram_room(size)
    return {"device": load_device(ctx), "compute_device": compute_device(ctx)}


def _adopt(ctx, module, name: str, reload):
    """Hand a loaded model to the memory manager, with how to read it again (for the RAM budget)."""
    from flux_core.memory import adopt

    return adopt(module.eval(), ctx, name=name, reload=reload)


class LoadDiffusionModel(Node):
    """Load a FLUX transformer (schnell, dev, Fill or Kontext) from diffusion_models/ (alias unet/)."""

    category = "loaders"
    inputs = [ModelFile("model_name", "diffusion_models", "flux1-schnell.safetensors"),
              Combo("weight_dtype", WEIGHT_DTYPES, description="storage dtype; fp8 halves memory")]
    outputs = [Output("model", "MODEL")]

    @classmethod
    def fingerprint(cls, env, model_name, weight_dtype):
        return file_stamp(model_path("diffusion_models", model_name, env, "model_name"))

    def run(self, ctx, model_name, weight_dtype):
        from flux_core.loading import load_diffusion_model

        path = model_path("diffusion_models", model_name, ctx.env, "model_name")
        kw = dict(dtype=_dtype(weight_dtype), **_place(ctx, path))
        model = _load("diffusion model", "model_name", load_diffusion_model, path, **kw)
        kontext = _is_kontext(path, model)
        return FluxModel(_adopt(ctx, model, model_name, lambda: load_diffusion_model(path, **kw)), model_name,
                         kontext=kontext)


class LoadTextEncoders(Node):
    """Load the T5-XXL and CLIP-L text encoders from text_encoders/ (alias clip/)."""

    category = "loaders"
    inputs = [ModelFile("t5_name", "text_encoders", "t5xxl_fp16.safetensors"),
              ModelFile("clip_name", "text_encoders", "clip_l.safetensors"),
              Combo("t5_max_length", T5_LENGTHS, description=T5_LENGTH_HELP),
              Combo("weight_dtype", WEIGHT_DTYPES)]
    outputs = [Output("text_encoder", "TEXT_ENCODER")]

    @classmethod
    def fingerprint(cls, env, t5_name, clip_name, t5_max_length, weight_dtype):
        return (file_stamp(model_path("text_encoders", t5_name, env, "t5_name")),
                file_stamp(model_path("text_encoders", clip_name, env, "clip_name")))

    def run(self, ctx, t5_name, clip_name, t5_max_length, weight_dtype):
        from flux_core.loading import load_text_encoders

        t5 = model_path("text_encoders", t5_name, ctx.env, "t5_name")
        clip = model_path("text_encoders", clip_name, ctx.env, "clip_name")
        length = None if t5_max_length in ("auto", "comfyui") else int(t5_max_length)
        kw = dict(dtype=_dtype(weight_dtype), models_dir=models_root_of(t5, ctx.env), t5_max_length=length,
                  **_place(ctx, t5, clip))
        conditioner = _load("text encoders", "t5_name", load_text_encoders, t5, clip, **kw)
        _set_t5_length(conditioner, t5_max_length)
        _adopt(ctx, conditioner.t5, t5_name, lambda: load_text_encoders(t5, clip, **kw).t5)
        _adopt(ctx, conditioner.clip, clip_name, lambda: load_text_encoders(t5, clip, **kw).clip)
        return TextEncoders(conditioner, f"{t5_name} + {clip_name}")


class LoadVAE(Node):
    """Load the FLUX autoencoder (ae.safetensors) from vae/."""

    category = "loaders"
    inputs = [ModelFile("vae_name", "vae", "ae.safetensors")]
    outputs = [Output("vae", "VAE")]

    @classmethod
    def fingerprint(cls, env, vae_name):
        return file_stamp(model_path("vae", vae_name, env, "vae_name"))

    def run(self, ctx, vae_name):
        from flux_core.loading import load_vae

        path = model_path("vae", vae_name, ctx.env, "vae_name")
        ae = _load("autoencoder", "vae_name", load_vae, path, **_place(ctx, path))
        return Vae(_adopt(ctx, ae, vae_name, lambda: load_vae(path, **_place(ctx))), vae_name)


class LoadCheckpoint(Node):
    """Load an all-in-one FLUX checkpoint (transformer, text encoders and autoencoder) from checkpoints/."""

    category = "loaders"
    inputs = [ModelFile("ckpt_name", "checkpoints", "flux1-schnell-fp8.safetensors"),
              Combo("weight_dtype", WEIGHT_DTYPES),
              Combo("t5_max_length", T5_LENGTHS, description=T5_LENGTH_HELP + "; auto here: 256 schnell, 512 dev")]
    outputs = [Output("model", "MODEL"), Output("text_encoder", "TEXT_ENCODER"), Output("vae", "VAE")]

    @classmethod
    def fingerprint(cls, env, ckpt_name, weight_dtype, t5_max_length="auto"):
        return file_stamp(model_path("checkpoints", ckpt_name, env, "ckpt_name"))

    def run(self, ctx, ckpt_name, weight_dtype, t5_max_length="auto"):
        from flux_core.loading import load_checkpoint

        path = model_path("checkpoints", ckpt_name, ctx.env, "ckpt_name")
        kw = dict(dtype=_dtype(weight_dtype), models_dir=models_root_of(path, ctx.env), **_place(ctx, path))
        model, conditioner, ae = _load("checkpoint", "ckpt_name", load_checkpoint, path, **kw)
        _set_t5_length(conditioner, t5_max_length)
        _adopt_all(ctx, ckpt_name, model, conditioner, ae, lambda: load_checkpoint(path, **kw))
        return {"model": FluxModel(model, ckpt_name), "text_encoder": TextEncoders(conditioner, ckpt_name),
                "vae": Vae(ae, ckpt_name)}


class LoadDiffusersFolder(Node):
    """Load a diffusers-layout FLUX folder (transformer/, vae/, text_encoder/, text_encoder_2/, tokenizers)
    from diffusers/."""

    category = "loaders"
    inputs = [ModelFile("folder_name", "diffusers", "FLUX.1-schnell"), Combo("weight_dtype", WEIGHT_DTYPES)]
    outputs = [Output("model", "MODEL"), Output("text_encoder", "TEXT_ENCODER"), Output("vae", "VAE")]

    @classmethod
    def fingerprint(cls, env, folder_name, weight_dtype):
        path = model_path("diffusers", folder_name, env, "folder_name")
        return tuple(file_stamp(p) for p in sorted(path.rglob("*.safetensors")))

    def run(self, ctx, folder_name, weight_dtype):
        from flux_core.loading import load_diffusers_folder

        path = model_path("diffusers", folder_name, ctx.env, "folder_name")
        kw = dict(dtype=_dtype(weight_dtype), **_place(ctx))
        model, conditioner, ae = _load("diffusers folder", "folder_name", load_diffusers_folder, path, **kw)
        _adopt_all(ctx, folder_name, model, conditioner, ae, lambda: load_diffusers_folder(path, **kw))
        return {"model": FluxModel(model, folder_name), "text_encoder": TextEncoders(conditioner, folder_name),
                "vae": Vae(ae, folder_name)}


def _adopt_all(ctx, name: str, model, conditioner, ae, reload) -> None:
    """The four models of one file, each reloadable (reading the file again gives all four)."""
    _adopt(ctx, model, f"{name} (transformer)", lambda: reload()[0])
    _adopt(ctx, conditioner.t5, f"{name} (T5)", lambda: reload()[1].t5)
    _adopt(ctx, conditioner.clip, f"{name} (CLIP)", lambda: reload()[1].clip)
    _adopt(ctx, ae, f"{name} (autoencoder)", lambda: reload()[2])


NODES = [LoadDiffusionModel, LoadTextEncoders, LoadVAE, LoadCheckpoint, LoadDiffusersFolder]
