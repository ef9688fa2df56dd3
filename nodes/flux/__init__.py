"""The FLUX stage nodes: loaders, prompt encoding, latents and noise, schedule, sampler, autoencoder, images.

Nodes stay thin: they turn socket values into flux_core calls and back.
"""
from . import conditioning, image, latent, loaders, lora, sampling, tiled
from . import conditioning_ops, guiders, image_ops, notes, sigmas
from . import inpaint, kontext, masks
from . import control, preprocess, redux

NODES = [*loaders.NODES, *lora.NODES, *conditioning.NODES, *latent.NODES, *sampling.NODES, *image.NODES, *tiled.NODES]
# ComfyUI's FLUX node set, where fluxwire had no equivalent (see flux_core/interop/comfyui)
NODES += [*conditioning_ops.NODES, *sigmas.NODES, *guiders.NODES, *image_ops.NODES, *notes.NODES]
# masks, inpainting (SetLatentNoiseMask, FLUX.1 Fill) and editing (FLUX.1 Kontext)
NODES += [*masks.NODES, *inpaint.NODES, *kontext.NODES]
# FLUX.1 tools: Canny / Depth control, Redux
NODES += [*control.NODES, *preprocess.NODES, *redux.NODES]
# picking pictures out of a batch, with the batch's noise (ComfyUI's LatentFromBatch)
from . import batch  # noqa: E402

NODES += batch.NODES
# SA-Solver with its settings (ComfyUI's SamplerSASolver)
from . import sa_solver  # noqa: E402

NODES += sa_solver.NODES
# ComfyUI's other sampler nodes with settings (SamplerEulerAncestral, SamplerDPMPP_2M_SDE, SamplerLMS, ...)
from . import sampler_settings  # noqa: E402

NODES += sampler_settings.NODES
