"""flux-mini: the tiny FLUX-structured model fluxwire trains itself and ships as its default.

``data`` draws the pictures and captions, ``tokenizers`` builds the two tokenizers offline,
``train`` trains the autoencoder and the transformer, ``export`` writes the shipped files into
``models/``, and ``scorer`` reads a picture's attributes back from its pixels.
"""
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
"""The shipped model folder (ComfyUI-style: diffusion_models/, vae/, text_encoders/, tokenizers/)."""
