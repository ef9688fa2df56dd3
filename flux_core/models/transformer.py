"""The FLUX.1 rectified-flow transformer (flux-spec §1.1, §2) with BFL's parameter names.

BFL and ComfyUI checkpoints (after stripping a ``model.diffusion_model.`` prefix) load into
:class:`Flux` with ``load_state_dict`` directly; diffusers-layout weights need the key mapping of
flux-spec §5.4.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..graph.context import stop_point
from .layers import DoubleStreamBlock, EmbedND, LastLayer, Linear, MLPEmbedder, SingleStreamBlock, timestep_embedding


@dataclass
class FluxParams:
    """Architecture hyper-parameters, named as in BFL's reference; defaults are FLUX.1-schnell's."""

    in_channels: int = 64
    out_channels: int = 64
    vec_in_dim: int = 768
    context_in_dim: int = 4096
    hidden_size: int = 3072
    mlp_ratio: float = 4.0
    num_heads: int = 24
    depth: int = 19
    depth_single_blocks: int = 38
    axes_dim: tuple[int, ...] = (16, 56, 56)
    theta: int = 10000
    qkv_bias: bool = True
    guidance_embed: bool = False

    @classmethod
    def schnell(cls) -> "FluxParams":
        """FLUX.1-schnell: no guidance embedder."""
        return cls(guidance_embed=False)

    @classmethod
    def dev(cls) -> "FluxParams":
        """FLUX.1-dev: same trunk plus the guidance embedder."""
        return cls(guidance_embed=True)

    def validate(self) -> None:
        """Raise ValueError for shapes the architecture cannot build."""
        if self.hidden_size % self.num_heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}")
        head_dim = self.hidden_size // self.num_heads
        if sum(self.axes_dim) != head_dim:
            raise ValueError(f"sum of axes_dim {tuple(self.axes_dim)} must equal the head dimension {head_dim}")


def _per_sample(value, batch: int, device, name: str) -> Tensor:
    """A [B] tensor from a [B] tensor, a scalar tensor or a Python number."""
    if not isinstance(value, Tensor):
        value = torch.tensor(float(value), device=device)
    if value.ndim == 0:
        return value.expand(batch)
    if value.shape != (batch,):
        raise ValueError(f"{name} must have shape [{batch}] (one per sample), got {tuple(value.shape)}")
    return value


class Flux(nn.Module):
    """Velocity predictor on packed latent tokens: forward(img, img_ids, txt, txt_ids, timesteps, y, guidance)."""

    def __init__(self, params: FluxParams):
        super().__init__()
        params.validate()
        self.params = params
        self.in_channels = params.in_channels
        self.out_channels = params.out_channels
        self.hidden_size = params.hidden_size
        self.num_heads = params.num_heads
        head_dim = params.hidden_size // params.num_heads
        self.pe_embedder = EmbedND(dim=head_dim, theta=params.theta, axes_dim=params.axes_dim)
        self.img_in = Linear(params.in_channels, params.hidden_size, bias=True)
        self.time_in = MLPEmbedder(in_dim=256, hidden_dim=params.hidden_size)
        self.vector_in = MLPEmbedder(params.vec_in_dim, params.hidden_size)
        self.guidance_in = (
            MLPEmbedder(in_dim=256, hidden_dim=params.hidden_size) if params.guidance_embed else nn.Identity()
        )
        self.txt_in = Linear(params.context_in_dim, params.hidden_size)
        self.double_blocks = nn.ModuleList(
            DoubleStreamBlock(params.hidden_size, params.num_heads, params.mlp_ratio, qkv_bias=params.qkv_bias)
            for _ in range(params.depth)
        )
        self.single_blocks = nn.ModuleList(
            SingleStreamBlock(params.hidden_size, params.num_heads, mlp_ratio=params.mlp_ratio)
            for _ in range(params.depth_single_blocks)
        )
        self.final_layer = LastLayer(params.hidden_size, 1, params.out_channels)

    def forward(
        self,
        img: Tensor,
        img_ids: Tensor,
        txt: Tensor,
        txt_ids: Tensor,
        timesteps: Tensor,
        y: Tensor,
        guidance: Tensor | None = None,
        skip_guidance: bool = False,
    ) -> Tensor:
        """Predict the flow velocity for packed image tokens.

        img [B, N, in_channels], img_ids [B, N, 3], txt [B, L, context_in_dim], txt_ids [B, L, 3],
        timesteps [B] in [0, 1], y [B, vec_in_dim], guidance [B] raw scale (e.g. 3.5) for dev models.
        Computes in img's dtype. Returns [B, N, out_channels]. ``skip_guidance`` leaves the guidance
        embedding out entirely (ComfyUI's FluxDisableGuidance), which is not the same as guidance 0.
        """
        if img.ndim != 3 or txt.ndim != 3:
            raise ValueError(
                f"img and txt must be [batch, tokens, channels]; got img {tuple(img.shape)}, txt {tuple(txt.shape)}"
            )
        if img.shape[-1] != self.in_channels:
            raise ValueError(f"img has {img.shape[-1]} channels per token, the model expects {self.in_channels}")
        dtype = img.dtype
        batch = img.shape[0]
        timesteps = _per_sample(timesteps, batch, img.device, "timesteps")
        img = self.img_in(img)
        vec = self.time_in(timestep_embedding(timesteps, 256).to(dtype))
        if self.params.guidance_embed and not skip_guidance:
            if guidance is None:
                raise ValueError(
                    "this FLUX model has a guidance embedder (a dev-type model) and needs a guidance value, got None"
                )
            guidance = _per_sample(guidance, batch, img.device, "guidance")
            vec = vec + self.guidance_in(timestep_embedding(guidance, 256).to(dtype))
        vec = vec + self.vector_in(y.to(dtype))
        txt = self.txt_in(txt.to(dtype))

        if img_ids.ndim == 2:
            img_ids = img_ids.unsqueeze(0).expand(img.shape[0], -1, -1)
        if txt_ids.ndim == 2:
            txt_ids = txt_ids.unsqueeze(0).expand(txt.shape[0], -1, -1)
        pe = self.pe_embedder(torch.cat((txt_ids, img_ids), dim=1))

        for block in self.double_blocks:
            stop_point()  # a stopped run ends within one block (see flux_core.graph.worker)
            img, txt = block(img=img, txt=txt, vec=vec, pe=pe)
        n_txt = txt.shape[1]
        x = torch.cat((txt, img), dim=1)
        for block in self.single_blocks:
            stop_point()
            x = block(x, vec=vec, pe=pe)
        return self.final_layer(x[:, n_txt:, ...], vec)
