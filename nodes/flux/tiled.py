"""Autoencoder nodes that work in overlapping tiles: large pictures in bounded memory, no visible seams."""
from __future__ import annotations

from flux_core.graph.node import Input, Int, Node, NodeError, Output

from .values import Latent


def decode_latent(vae, samples, ctx):
    """Latent -> image [B, 3, H, W] float32 on the CPU: whole, or in tiles (stated in the memory log) when
    the estimated activations would not fit what the device has left after the weights."""
    from flux_core.models.vae_tiling import decode_peak_bytes, decode_tiled

    return _whole_or_tiled(vae, samples, ctx, "decode", decode_peak_bytes, decode_tiled)


def encode_pixels(vae, pixels, ctx):
    """Pixels [B, 3, H, W] in [-1, 1] -> latent float32 on the CPU, in tiles when the whole would not fit."""
    from flux_core.models.vae_tiling import encode_peak_bytes, encode_tiled

    return _whole_or_tiled(vae, pixels, ctx, "encode", encode_peak_bytes, encode_tiled)


def _whole_or_tiled(vae, x, ctx, direction: str, peak_bytes, tiled):
    """One pass of the borrowed autoencoder (`direction` is "decode" or "encode") over x, tiled when its peak
    would not fit the device's room after the weights."""
    import torch

    from flux_core.loading import module_compute_dtype
    from flux_core.memory import borrow, manager_for
    from flux_core.models.vae_tiling import fitting_tile

    manager = manager_for(ctx)
    with borrow(vae.ae, ctx=ctx) as ae:
        dtype = module_compute_dtype(ae)
        room = manager.activation_room()
        if room is not None and peak_bytes(ae, tuple(x.shape), dtype.itemsize) > room:
            tile = fitting_tile(ae, x.shape[0], room, dtype.itemsize)
            manager.note(f"tiled {direction}", model=vae.name, tile=tile, room=room)
            return tiled(ae, x, tile, min(64, tile // 2))
        with torch.inference_mode():
            return getattr(ae, direction)(x.to(next(ae.parameters()).device, dtype)).float().cpu()


def _check_tiles(tile_size: int, overlap: int) -> None:
    if overlap * 2 > tile_size:
        raise NodeError(f"the overlap ({overlap} px) must be at most half the tile size ({tile_size} px)",
                        input="overlap")


class VAEDecodeTiled(Node):
    """Turn latents into pictures tile by tile (for pictures too large to decode at once). Tiles overlap and
    are blended; every GroupNorm sees the whole picture's statistics, so tiles do not show."""

    category = "image"
    inputs = [Input("vae", "VAE"), Input("latent", "LATENT"),
              Int("tile_size", 512, min=64, max=4096, step=64, description="tile side in pixels"),
              Int("overlap", 64, min=0, max=2048, step=8, description="pixels shared by neighbouring tiles")]
    outputs = [Output("image", "IMAGE")]

    def run(self, ctx, vae, latent, tile_size, overlap):
        from flux_core.memory import borrow
        from flux_core.models.vae_tiling import decode_tiled

        if latent.channels != vae.latent_channels:
            raise NodeError(f"the latent has {latent.channels} channels but the autoencoder {vae.name} decodes "
                            f"{vae.latent_channels}", input="latent")
        _check_tiles(tile_size, overlap)
        with borrow(vae.ae, ctx=ctx) as ae:
            x = decode_tiled(ae, latent.samples, tile_size, overlap)
        return ((x.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).contiguous()


class VAEEncodeTiled(Node):
    """Turn pictures into latents tile by tile (img2img on large pictures); sides are centre-cropped to
    multiples of 16."""

    category = "image"
    inputs = [Input("vae", "VAE"), Input("image", "IMAGE"),
              Int("tile_size", 512, min=64, max=4096, step=64, description="tile side in pixels"),
              Int("overlap", 64, min=0, max=2048, step=8, description="pixels shared by neighbouring tiles")]
    outputs = [Output("latent", "LATENT")]

    def run(self, ctx, vae, image, tile_size, overlap):
        from flux_core.memory import borrow
        from flux_core.models.vae_tiling import encode_tiled

        from .image import centre_crop_pixels

        _check_tiles(tile_size, overlap)
        pixels, w16, h16 = centre_crop_pixels(image)
        with borrow(vae.ae, ctx=ctx) as ae:
            z = encode_tiled(ae, pixels, tile_size, overlap)
        return Latent(z, w16, h16)


NODES = [VAEDecodeTiled, VAEEncodeTiled]
