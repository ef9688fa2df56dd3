"""Small preview pictures of a latent while sampling runs."""
from __future__ import annotations

PREVIEW_MAX_SIDE = 256


def latent_preview(samples, vae=None, ctx=None):
    """A PIL image of the first latent of a batch: decoded with `vae` when given, else a cheap false-colour
    view of three latent channels (each stretched to its own range)."""
    import torch
    from PIL import Image

    with torch.inference_mode():
        z = samples[:1].float()
        if vae is not None:
            from flux_core.memory import borrow

            with borrow(vae.ae, ctx=ctx) as ae:
                device = next(ae.parameters()).device
                x = ae.preview_decode(z.to(device)).float().cpu()  # a full decode costs ~a step
            rgb = ((x[0].clamp(-1, 1) + 1) / 2).permute(1, 2, 0)
        else:
            c = z[0, :3]
            lo = c.amin(dim=(1, 2), keepdim=True)
            hi = c.amax(dim=(1, 2), keepdim=True)
            rgb = ((c - lo) / (hi - lo).clamp_min(1e-6)).permute(1, 2, 0)
    img = Image.fromarray((rgb.numpy() * 255).round().astype("uint8"))
    scale = PREVIEW_MAX_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))))
    elif vae is None:
        img = img.resize((img.width * 8, img.height * 8), Image.NEAREST)
    return img
