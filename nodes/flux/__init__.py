"""The FLUX stage nodes: loaders, prompt encoding, latents and noise, schedule, sampler, autoencoder, images.

Nodes stay thin: they turn socket values into flux_core calls and back.
"""
from . import conditioning, image, inpaint, kontext, latent, loaders, masks, sampling

NODES = [*loaders.NODES, *conditioning.NODES, *latent.NODES, *sampling.NODES, *image.NODES, *masks.NODES, *inpaint.NODES, *kontext.NODES]
