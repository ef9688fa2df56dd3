"""FLUX.1 modules with BFL parameter names: transformer, autoencoder, text conditioner."""
from .autoencoder import AutoEncoder, AutoEncoderParams
from .conditioner import TextConditioner
from .transformer import Flux, FluxParams

__all__ = ["AutoEncoder", "AutoEncoderParams", "Flux", "FluxParams", "TextConditioner"]
