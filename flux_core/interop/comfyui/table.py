"""The one table: each ComfyUI node class and the fluxwire node that does the same thing.

An entry names the ComfyUI class, the fluxwire node type, the ComfyUI socket inputs and the widget order
of UI files (``CONTROL`` marks the extra "control after generate" value saved after seeds), how input and
output names map, widget values the class implies on the fluxwire side, value translations, and inputs
fluxwire has no use for. Adding a class is one `twin(...)` line; ``when_registered`` makes an entry count
only once another node pack provides its fluxwire node.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flux_core.sampling_names import SAMPLER_NAMES, SCHEDULER_NAMES

CONTROL = "<control_after_generate>"


@dataclass(frozen=True)
class Twin:
    comfy: str
    node: str
    sockets: tuple[str, ...] = ()  # ComfyUI inputs fed by links
    widgets: tuple[str, ...] = ()  # ComfyUI widget order in UI files' widgets_values
    outputs: tuple[str | None, ...] = ()  # the fluxwire output for each ComfyUI output slot (None: none)
    rename: dict[str, str] = field(default_factory=dict)  # ComfyUI input -> fluxwire input
    fixed: dict[str, Any] = field(default_factory=dict)  # fluxwire widget values this class implies
    values: dict[str, dict[Any, Any]] = field(default_factory=dict)  # ComfyUI value -> fluxwire value
    ignore: tuple[str, ...] = ()  # ComfyUI inputs with no meaning in fluxwire (device choice, upload button)
    model_inputs: tuple[str, ...] = ()  # file names: either path separator accepted
    when_registered: bool = False  # only when the fluxwire node exists (provided by another pack)
    export: bool = True  # the twin used when exporting this fluxwire node type
    virtual: bool = False  # UI-only in ComfyUI (notes): never in an API prompt

    def fluxwire_input(self, name: str) -> str:
        return self.rename.get(name, name)

    @property
    def comfy_inputs(self) -> tuple[str, ...]:
        return self.sockets + tuple(w for w in self.widgets if w != CONTROL)


def twin(comfy: str, node: str, sockets=(), widgets=(), outputs=(), **kw) -> Twin:
    return Twin(comfy, node, tuple(sockets), tuple(widgets), tuple(outputs), **kw)


_DTYPES = {"default": "default", "fp8_e4m3fn": "fp8_e4m3fn", "fp8_e4m3fn_fast": "fp8_e4m3fn"}
_COMFY_T5 = {"t5_max_length": "comfyui"}
# the samplers and schedulers fluxwire has (flux_core.samplers / flux_core.schedulers): same names
_SAMPLERS = {"sampler_name": {name: name for name in SAMPLER_NAMES}}
_SCHEDULERS = {"scheduler": {name: name for name in SCHEDULER_NAMES}}

TWINS: list[Twin] = [
    # loaders
    twin("UNETLoader", "LoadDiffusionModel", (), ("unet_name", "weight_dtype"), ("model",),
         rename={"unet_name": "model_name"}, values={"weight_dtype": _DTYPES}, model_inputs=("unet_name",)),
    twin("DualCLIPLoader", "LoadTextEncoders", (), ("clip_name1", "clip_name2", "type", "device"), ("text_encoder",),
         rename={"clip_name1": "t5_name", "clip_name2": "clip_name"}, fixed=_COMFY_T5, values={"type": {"flux": None}},
         ignore=("device",), model_inputs=("clip_name1", "clip_name2")),
    twin("CheckpointLoaderSimple", "LoadCheckpoint", (), ("ckpt_name",), ("model", "text_encoder", "vae"),
         fixed=_COMFY_T5, model_inputs=("ckpt_name",)),
    twin("VAELoader", "LoadVAE", (), ("vae_name",), ("vae",), model_inputs=("vae_name",)),
    # other packs' loaders whose files fluxwire's loaders read (GGUF)
    twin("UnetLoaderGGUF", "LoadDiffusionModel", (), ("unet_name",), ("model",), rename={"unet_name": "model_name"},
         model_inputs=("unet_name",), export=False),
    twin("DualCLIPLoaderGGUF", "LoadTextEncoders", (), ("clip_name1", "clip_name2", "type"), ("text_encoder",),
         rename={"clip_name1": "t5_name", "clip_name2": "clip_name"}, fixed=_COMFY_T5,
         values={"type": {"flux": None}}, model_inputs=("clip_name1", "clip_name2"), export=False),
    twin("LoraLoader", "LoadLoRA", ("model", "clip"), ("lora_name", "strength_model", "strength_clip"),
         ("model", "text_encoders"), rename={"clip": "text_encoders"}, model_inputs=("lora_name",),
         when_registered=True),
    twin("LoraLoaderModelOnly", "LoadLoRA", ("model",), ("lora_name", "strength_model"), ("model",),
         model_inputs=("lora_name",), when_registered=True, export=False),
    # prompts
    twin("CLIPTextEncode", "TextEncode", ("clip",), ("text",), ("conditioning",), rename={"clip": "text_encoder"}),
    twin("CLIPTextEncodeFlux", "TextEncodeFlux", ("clip",), ("clip_l", "t5xxl", "guidance"), ("conditioning",),
         rename={"clip": "text_encoder"}),
    twin("FluxGuidance", "FluxGuidance", ("conditioning",), ("guidance",), ("conditioning",)),
    twin("FluxDisableGuidance", "FluxDisableGuidance", ("conditioning",), (), ("conditioning",)),
    twin("ConditioningZeroOut", "ConditioningZeroOut", ("conditioning",), (), ("conditioning",)),
    # latents, noise, schedules, sampling
    twin("EmptySD3LatentImage", "EmptyLatent", (), ("width", "height", "batch_size"), ("latent",)),
    twin("EmptyLatentImage", "EmptyLatent", (), ("width", "height", "batch_size"), ("latent",), export=False),
    twin("RandomNoise", "RandomNoise", (), ("noise_seed", CONTROL), ("noise",), rename={"noise_seed": "seed"}),
    twin("DisableNoise", "DisableNoise", (), (), ("noise",)),
    twin("ModelSamplingFlux", "ModelSamplingFlux", ("model",), ("max_shift", "base_shift", "width", "height"),
         ("model",)),
    twin("BasicScheduler", "BasicScheduler", ("model",), ("scheduler", "steps", "denoise"), ("sigmas",),
         values=_SCHEDULERS),
    twin("SetFirstSigma", "SetFirstSigma", ("sigmas",), ("sigma",), ("sigmas",)),
    twin("SplitSigmas", "SplitSigmas", ("sigmas",), ("step",), ("high_sigmas", "low_sigmas")),
    twin("KSamplerSelect", "KSamplerSelect", (), ("sampler_name",), ("sampler",), values=_SAMPLERS),
    twin("SamplerSASolver", "SamplerSASolver", ("model",), ("eta", "sde_start_percent", "sde_end_percent", "s_noise",
                                                          "predictor_order", "corrector_order", "use_pece",
                                                          "simple_order_2"), ("sampler",)),
    twin("SamplerEulerAncestral", "SamplerEulerAncestral", (), ("eta", "s_noise"), ("sampler",)),
    twin("SamplerEulerAncestralCFGPP", "SamplerEulerAncestralCFGPP", (), ("eta", "s_noise"), ("sampler",)),
    twin("SamplerDPMPP_2M_SDE", "SamplerDPMPP_2M_SDE", (), ("solver_type", "eta", "s_noise", "noise_device"),
         ("sampler",)),
    twin("SamplerDPMPP_3M_SDE", "SamplerDPMPP_3M_SDE", (), ("eta", "s_noise", "noise_device"), ("sampler",)),
    twin("SamplerDPMPP_SDE", "SamplerDPMPP_SDE", (), ("eta", "s_noise", "r", "noise_device"), ("sampler",)),
    twin("SamplerDPMPP_2S_Ancestral", "SamplerDPMPP_2S_Ancestral", (), ("eta", "s_noise"), ("sampler",)),
    twin("SamplerLMS", "SamplerLMS", (), ("order",), ("sampler",)),
    twin("SamplerDPMAdaptative", "SamplerDPMAdaptative", (), ("order", "rtol", "atol", "h_init", "pcoeff", "icoeff",
                                                             "dcoeff", "accept_safety", "eta", "s_noise"),
         ("sampler",)),
    twin("SamplerER_SDE", "SamplerER_SDE", (), ("solver_type", "max_stage", "eta", "s_noise"), ("sampler",)),
    twin("BasicGuider", "BasicGuider", ("model", "conditioning"), (), ("guider",)),
    twin("CFGGuider", "CFGGuider", ("model", "positive", "negative"), ("cfg",), ("guider",)),
    twin("SamplerCustomAdvanced", "SamplerCustomAdvanced", ("noise", "guider", "sampler", "sigmas", "latent_image"),
         (), ("output", "denoised_output")),
    twin("KSampler", "KSampler", ("model", "positive", "negative", "latent_image"),
         ("seed", CONTROL, "steps", "cfg", "sampler_name", "scheduler", "denoise"), ("latent",),
         values={**_SAMPLERS, **_SCHEDULERS}),
    twin("KSamplerAdvanced", "KSamplerAdvanced", ("model", "positive", "negative", "latent_image"),
         ("add_noise", "noise_seed", CONTROL, "steps", "cfg", "sampler_name", "scheduler", "start_at_step",
          "end_at_step", "return_with_leftover_noise"), ("latent",), values={**_SAMPLERS, **_SCHEDULERS}),
    twin("LatentUpscale", "LatentUpscale", ("samples",), ("upscale_method", "width", "height", "crop"), ("latent",)),
    twin("LatentUpscaleBy", "LatentUpscaleBy", ("samples",), ("upscale_method", "scale_by"), ("latent",)),
    twin("RepeatLatentBatch", "RepeatLatentBatch", ("samples",), ("amount",), ("latent",)),
    twin("LatentFromBatch", "LatentFromBatch", ("samples",), ("batch_index", "length"), ("latent",)),
    # pixels
    twin("VAEDecode", "VAEDecode", ("samples", "vae"), (), ("image",), rename={"samples": "latent"}),
    twin("VAEEncode", "VAEEncode", ("pixels", "vae"), (), ("latent",), rename={"pixels": "image"}),
    twin("VAEDecodeTiled", "VAEDecodeTiled", ("samples", "vae"),
         ("tile_size", "overlap", "temporal_size", "temporal_overlap"), ("image",), rename={"samples": "latent"},
         ignore=("temporal_size", "temporal_overlap"), when_registered=True),
    twin("LoadImage", "LoadImage", (), ("image", "upload"), ("image", "mask"), fixed={"fit": "none"},
         ignore=("upload",)),
    twin("SaveImage", "SaveImage", ("images",), ("filename_prefix",), ()),
    twin("PreviewImage", "PreviewImage", ("images",), (), ()),
    twin("ImageScale", "ImageScale", ("image",), ("upscale_method", "width", "height", "crop"), ("image",)),
    twin("ImageScaleToTotalPixels", "ImageScaleToTotalPixels", ("image",), ("upscale_method", "megapixels"),
         ("image",)),
    twin("ImageInvert", "ImageInvert", ("image",), (), ("image",)),
    # masks, inpainting and outpainting (FLUX.1 Fill, any model with a noise mask)
    twin("LoadImageMask", "LoadMask", (), ("image", "channel", "upload"), ("mask",), ignore=("upload",)),
    twin("InvertMask", "InvertMask", ("mask",), (), ("mask",)),
    twin("GrowMask", "GrowMask", ("mask",), ("expand", "tapered_corners"), ("mask",)),
    twin("FeatherMask", "FeatherMask", ("mask",), ("left", "top", "right", "bottom"), ("mask",)),
    twin("ThresholdMask", "ThresholdMask", ("mask",), ("value",), ("mask",)),
    twin("ImagePadForOutpaint", "PadForOutpaint", ("image",), ("left", "top", "right", "bottom", "feathering"),
         ("image", "mask")),
    twin("SetLatentNoiseMask", "SetLatentNoiseMask", ("samples", "mask"), (), ("latent",),
         rename={"samples": "latent"}),
    twin("DifferentialDiffusion", "DifferentialDiffusion", ("model",), ("strength",), ("model",)),
    twin("InpaintModelConditioning", "InpaintConditioning", ("positive", "negative", "vae", "pixels", "mask"),
         ("noise_mask",), ("conditioning", "negative", "latent"),
         rename={"positive": "conditioning", "pixels": "image"}),
    # FLUX.1 Kontext
    twin("ReferenceLatent", "ReferenceLatent", ("conditioning", "latent"), (), ("conditioning",)),
    twin("FluxKontextMultiReferenceLatentMethod", "KontextReferenceMethod", ("conditioning",),
         ("reference_latents_method",), ("conditioning",), rename={"reference_latents_method": "method"},
         values={"reference_latents_method": {"offset": "offset", "index": "index", "uxo/uno": "uxo", "uxo": "uxo"}}),
    twin("FluxKontextImageScale", "KontextImageScale", ("image",), (), ("image",)),
    twin("ImageStitch", "ImageStitch", ("image1", "image2"),
         ("direction", "match_image_size", "spacing_width", "spacing_color"), ("image",)),
    twin("ImageScaleToMaxDimension", "ImageScaleToMaxDimension", ("image",), ("upscale_method", "largest_size"),
         ("image",)),
    # FLUX.1 tools: Canny / Depth (control picture) and Redux (picture as prompt)
    twin("Canny", "Canny", ("image",), ("low_threshold", "high_threshold"), ("image",)),
    twin("InstructPixToPixConditioning", "InstructPixToPixConditioning", ("positive", "negative", "vae", "pixels"), (),
         ("positive", "negative", "latent")),
    twin("CLIPVisionLoader", "LoadVisionEncoder", (), ("clip_name",), ("clip_vision",), model_inputs=("clip_name",)),
    twin("CLIPVisionEncode", "EncodeImage", ("clip_vision", "image"), ("crop",), ("clip_vision_output",)),
    twin("StyleModelLoader", "LoadStyleModel", (), ("style_model_name",), ("style_model",),
         model_inputs=("style_model_name",)),
    twin("StyleModelApply", "ApplyStyle", ("conditioning", "style_model", "clip_vision_output"),
         ("strength", "strength_type"), ("conditioning",), values={"strength_type": {"multiply": None}},
         fixed={"downsampling_factor": 1}),  # ComfyUI's core node has no downsampling
    # values and notes
    twin("PrimitiveInt", "IntValue", (), ("value", CONTROL), ("value",)),
    twin("PrimitiveFloat", "FloatValue", (), ("value",), ("value",)),
    twin("PrimitiveString", "StringValue", (), ("value",), ("value",), export=False),
    twin("PrimitiveStringMultiline", "StringValue", (), ("value",), ("value",)),
    twin("PrimitiveBoolean", "BooleanValue", (), ("value",), ("value",)),
    twin("Note", "Note", (), ("text",), (), fixed={"format": "text"}, virtual=True),
    twin("MarkdownNote", "Note", (), ("text",), (), fixed={"format": "markdown"}, virtual=True, export=False),
]

BY_CLASS: dict[str, Twin] = {t.comfy: t for t in TWINS}

# ComfyUI classes fluxwire recognises but does not run, with the reason shown to the user
NOT_FOR_FLUX1 = {
    "CLIPLoader": "it loads a single text encoder; FLUX.1 needs T5-XXL and CLIP-L together: use DualCLIPLoader "
                  "with type flux (fluxwire: LoadTextEncoders)",
    "CLIPLoaderGGUF": "it loads a single text encoder; FLUX.1 needs T5-XXL and CLIP-L together: use "
                      "DualCLIPLoaderGGUF with type flux (fluxwire: LoadTextEncoders)",
}

# ComfyUI classes without a twin but with a way to do the same in fluxwire
EQUIVALENTS = {
    "SamplerCustom": "SamplerCustomAdvanced with RandomNoise (or DisableNoise) and CFGGuider does the same",
    "ImageScaleBy": "ImageScale with the target width and height does the same",
    "CheckpointLoader": "CheckpointLoaderSimple (fluxwire: LoadCheckpoint) loads the same file",
    "UNETLoaderNF4": "LoadDiffusionModel loads bf16/fp8/GGUF files of the same model",
    "CLIPTextEncodeFluxGuidance": "TextEncode followed by FluxGuidance does the same",
    "ModelSamplingDiscrete": "FLUX uses ModelSamplingFlux",
    "ConditioningCombine": "fluxwire has no conditioning mixing yet",
    "ControlNetLoader": "fluxwire has no ControlNet support yet",
}

# Classes (or class-name prefixes) that belong to other model families, and the family's name
FAMILIES = {
    "EmptyFlux2LatentImage": "FLUX.2", "Flux2Scheduler": "FLUX.2", "CLIPTextEncodeFlux2": "FLUX.2",
    "ModelSamplingSD3": "Stable Diffusion 3", "CLIPTextEncodeSD3": "Stable Diffusion 3",
    "CLIPTextEncodeSDXL": "Stable Diffusion XL", "CLIPTextEncodeSDXLRefiner": "Stable Diffusion XL",
    "EmptyHunyuanLatentVideo": "HunyuanVideo", "TextEncodeHunyuanVideo": "HunyuanVideo",
    "Wan": "Wan", "EmptyWanLatentVideo": "Wan", "EmptyLTXVLatentVideo": "LTX-Video", "LTXV": "LTX-Video",
    "EmptyMochiLatentVideo": "Mochi", "EmptyCosmosLatentVideo": "Cosmos", "CosmosImageToVideoLatent": "Cosmos",
    "StableCascade_": "Stable Cascade", "CLIPTextEncodeHunyuanDiT": "HunyuanDiT", "TextEncodeQwenImage": "Qwen-Image",
    "EmptyQwenImageLayeredLatentImage": "Qwen-Image", "ModelSamplingAuraFlow": "AuraFlow / Lumina",
    "CLIPTextEncodeLumina2": "Lumina 2", "EmptyChromaRadianceLatentImage": "Chroma", "EmptyHunyuanImageLatent":
    "HunyuanImage", "EmptyAceStepLatentAudio": "ACE-Step", "EmptyLatentAudio": "Stable Audio",
    "ModelSamplingStableCascade": "Stable Cascade", "ModelSamplingContinuousEDM": "EDM models (SDXL/SVD)",
    "SVD_img2vid_Conditioning": "Stable Video Diffusion", "HunyuanImageToVideo": "HunyuanVideo",
}
# Text-encoder `type` values of DualCLIPLoader / CLIPLoader and their families
CLIP_TYPE_FAMILIES = {
    "sdxl": "Stable Diffusion XL", "sd3": "Stable Diffusion 3", "hunyuan_video": "HunyuanVideo",
    "hidream": "HiDream", "hunyuan_image": "HunyuanImage", "flux2": "FLUX.2", "chroma": "Chroma",
    "stable_diffusion": "Stable Diffusion 1.x", "stable_cascade": "Stable Cascade", "stable_audio": "Stable Audio",
    "mochi": "Mochi", "ltxv": "LTX-Video", "pixart": "PixArt", "cosmos": "Cosmos", "lumina2": "Lumina 2",
    "wan": "Wan", "ace": "ACE-Step", "omnigen2": "OmniGen2", "qwen_image": "Qwen-Image",
}


def family_of(comfy_class: str, inputs: dict | None = None) -> str | None:
    """The other model family a ComfyUI node belongs to, or None (FLUX.1 or unknown)."""
    if comfy_class in FAMILIES:
        return FAMILIES[comfy_class]
    for key, fam in FAMILIES.items():
        if key.endswith("_") or key in ("Wan", "LTXV"):
            if comfy_class.startswith(key):
                return fam
    if comfy_class in ("DualCLIPLoader", "DualCLIPLoaderGGUF", "CLIPLoader", "CLIPLoaderGGUF", "TripleCLIPLoader",
                       "QuadrupleCLIPLoader"):
        kind = (inputs or {}).get("type")
        if isinstance(kind, str) and kind in CLIP_TYPE_FAMILIES:
            return CLIP_TYPE_FAMILIES[kind]
        if comfy_class == "TripleCLIPLoader":
            return "Stable Diffusion 3"
        if comfy_class == "QuadrupleCLIPLoader":
            return "HiDream"
    return None


def export_twin(node_type: str) -> Twin | None:
    """The ComfyUI class written for a fluxwire node type on export."""
    for t in TWINS:
        if t.node == node_type and t.export:
            return t
    return None
