"""The FLUX.1 autoencoder (flux-spec §1.2, §4) with BFL's parameter names (``ae.safetensors``).

Images are float tensors in [-1, 1], NCHW. ``encode`` returns the scaled, shifted posterior mean
(the latent the transformer works on); ``decode`` undoes the scaling first.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .layers import linear


@dataclass
class AutoEncoderParams:
    """Autoencoder hyper-parameters, named as in BFL; ``norm_groups`` (GroupNorm groups) is ours."""

    resolution: int = 256
    in_channels: int = 3
    ch: int = 128
    out_ch: int = 3
    ch_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    z_channels: int = 16
    scale_factor: float = 0.3611
    shift_factor: float = 0.1159
    norm_groups: int = 32

    @classmethod
    def flux(cls) -> "AutoEncoderParams":
        """The autoencoder shared by FLUX.1 schnell and dev."""
        return cls()


def norm_swish(norm: nn.GroupNorm, x: Tensor) -> Tensor:
    """swish(norm(x)); in place on the fresh norm output when no gradient is recorded (at 1024² each
    saved allocation is half a gigabyte of fresh pages)."""
    h = norm(x)
    return F.silu(h, inplace=not torch.is_grad_enabled())


def conv_layout(x: Tensor) -> Tensor:
    """Activations in channels-last order on CPU: oneDNN then runs the convolutions without reordering
    every input and output (measured 0.75-0.8x the time of NCHW, bench/bench_vae.py)."""
    return x.contiguous(memory_format=torch.channels_last) if x.device.type == "cpu" and x.ndim == 4 else x


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    if channels % groups:
        raise ValueError(f"GroupNorm: {channels} channels are not divisible into {groups} groups")
    return nn.GroupNorm(num_groups=groups, num_channels=channels, eps=1e-6, affine=True)


class AttnBlock(nn.Module):
    """Single-head self-attention over all spatial positions, with a residual connection."""

    def __init__(self, in_channels: int, groups: int):
        super().__init__()
        self.norm = group_norm(in_channels, groups)
        self.q = nn.Conv2d(in_channels, in_channels, kernel_size=1)
        self.k = nn.Conv2d(in_channels, in_channels, kernel_size=1)
        self.v = nn.Conv2d(in_channels, in_channels, kernel_size=1)
        self.proj_out = nn.Conv2d(in_channels, in_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        b, c, height, width = x.shape
        # tokens [B, HW, C], contiguous: the 1x1 convs become linears over tokens, and SDPA gets
        # contiguous q/k/v (strided ones make it fall back to its slow math kernel)
        tokens = self.norm(x).flatten(2).transpose(1, 2).contiguous()
        q, k, v = (_pointwise(conv, tokens).unsqueeze(1) for conv in (self.q, self.k, self.v))
        h = _pointwise(self.proj_out, F.scaled_dot_product_attention(q, k, v).squeeze(1))
        return x + h.transpose(1, 2).reshape(b, c, height, width)


def _pointwise(conv: nn.Conv2d, tokens: Tensor) -> Tensor:
    """A 1x1 convolution applied to tokens [B, N, C_in] -> [B, N, C_out] (the same sums as the conv)."""
    return linear(tokens, conv.weight.flatten(1), conv.bias)


class ResnetBlock(nn.Module):
    """norm-swish-conv twice, plus a (1x1 conv when widths differ) shortcut."""

    def __init__(self, in_channels: int, out_channels: int, groups: int):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.norm1 = group_norm(in_channels, groups)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=1, padding=1)
        self.norm2 = group_norm(out_channels, groups)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, stride=1, padding=1)
        if in_channels != out_channels:
            self.nin_shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv1(norm_swish(self.norm1, x))
        h = self.conv2(norm_swish(self.norm2, h))
        if self.in_channels != self.out_channels:
            x = self.nin_shortcut(x)
        return h.add_(x) if not torch.is_grad_enabled() else x + h


class Downsample(nn.Module):
    """Pad right/bottom by one, then a stride-2 3x3 conv (halves each side)."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=2, padding=0)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.pad(x, (0, 1, 0, 1), mode="constant", value=0))


class Upsample(nn.Module):
    """Nearest-neighbour x2, then a 3x3 conv."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, in_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class MidBlock(nn.Module):
    """ResNet, attention, ResNet at the lowest resolution (``mid.block_1/attn_1/block_2``)."""

    def __init__(self, channels: int, groups: int):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, groups)
        self.attn_1 = AttnBlock(channels, groups)
        self.block_2 = ResnetBlock(channels, channels, groups)

    def forward(self, x: Tensor) -> Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class Level(nn.Module):
    """One resolution level: ``block`` list, empty ``attn`` list, optional down/upsample."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.ModuleList()
        self.attn = nn.ModuleList()


class Encoder(nn.Module):
    """Image [B, in_channels, H, W] -> posterior moments [B, 2*z_channels, H/f, W/f] (mean then logvar)."""

    def __init__(self, p: AutoEncoderParams):
        super().__init__()
        g = p.norm_groups
        self.num_resolutions = len(p.ch_mult)
        self.num_res_blocks = p.num_res_blocks
        self.conv_in = nn.Conv2d(p.in_channels, p.ch, kernel_size=3, stride=1, padding=1)
        in_ch_mult = (1,) + tuple(p.ch_mult)
        self.down = nn.ModuleList()
        block_in = p.ch
        for i in range(self.num_resolutions):
            level = Level()
            block_in = p.ch * in_ch_mult[i]
            block_out = p.ch * p.ch_mult[i]
            for _ in range(p.num_res_blocks):
                level.block.append(ResnetBlock(block_in, block_out, g))
                block_in = block_out
            if i != self.num_resolutions - 1:
                level.downsample = Downsample(block_in)
            self.down.append(level)
        self.mid = MidBlock(block_in, g)
        self.norm_out = group_norm(block_in, g)
        self.conv_out = nn.Conv2d(block_in, 2 * p.z_channels, kernel_size=3, stride=1, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv_in(conv_layout(x))
        for i, level in enumerate(self.down):
            for block in level.block:
                h = block(h)
            if i != self.num_resolutions - 1:
                h = level.downsample(h)
        h = self.mid(h)
        return self.conv_out(norm_swish(self.norm_out, h)).contiguous()


class Decoder(nn.Module):
    """Latent [B, z_channels, h, w] -> image [B, out_ch, h*f, w*f]; ``up`` is indexed by level (0 = full size)."""

    def __init__(self, p: AutoEncoderParams):
        super().__init__()
        g = p.norm_groups
        self.num_resolutions = len(p.ch_mult)
        self.num_res_blocks = p.num_res_blocks
        block_in = p.ch * p.ch_mult[-1]
        self.conv_in = nn.Conv2d(p.z_channels, block_in, kernel_size=3, stride=1, padding=1)
        self.mid = MidBlock(block_in, g)
        levels: list[Level] = []
        for i in reversed(range(self.num_resolutions)):
            level = Level()
            block_out = p.ch * p.ch_mult[i]
            for _ in range(p.num_res_blocks + 1):
                level.block.append(ResnetBlock(block_in, block_out, g))
                block_in = block_out
            if i != 0:
                level.upsample = Upsample(block_in)
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)
        self.norm_out = group_norm(block_in, g)
        self.conv_out = nn.Conv2d(block_in, p.out_ch, kernel_size=3, stride=1, padding=1)

    def forward(self, z: Tensor) -> Tensor:
        h = self.mid(self.conv_in(conv_layout(z)))
        h = h.to(self.up[-1].block[0].conv1.weight.dtype)
        for i in reversed(range(self.num_resolutions)):
            for block in self.up[i].block:
                h = block(h)
            if i != 0:
                h = self.up[i].upsample(h)
        return self.conv_out(norm_swish(self.norm_out, h)).contiguous()


class AutoEncoder(nn.Module):
    """Encoder + decoder with FLUX's latent scaling: z = scale * (mean - shift)."""

    def __init__(self, params: AutoEncoderParams):
        super().__init__()
        self.params = params
        self.encoder = Encoder(params)
        self.decoder = Decoder(params)
        self.scale_factor = params.scale_factor
        self.shift_factor = params.shift_factor

    @property
    def downscale(self) -> int:
        """Pixel size of one latent cell (8 for FLUX)."""
        return 2 ** (len(self.params.ch_mult) - 1)

    def encode_moments(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Unscaled posterior (mean, logvar) of image x in [-1, 1]; logvar clamped to [-30, 20] for stability."""
        mean, logvar = torch.chunk(self.encoder(x), 2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def encode(self, x: Tensor) -> Tensor:
        """Image in [-1, 1] -> scaled latent (posterior mean, deterministic)."""
        mean, _ = self.encode_moments(x)
        return self.scale_factor * (mean - self.shift_factor)

    def decode(self, z: Tensor) -> Tensor:
        """Scaled latent -> image, roughly in [-1, 1] (not clamped)."""
        return self.decoder(z / self.scale_factor + self.shift_factor)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x))

    PREVIEW_PROBE_CELLS = 16  # side of the random latents the preview projection is fitted on

    def preview_projection(self) -> Tensor:
        """[z_channels + 1, 3]: the least-squares linear map from a latent cell (and 1) to the mean colour
        of the 8x8 pixels this decoder makes of it, fitted once on two random latents and kept.

        Previews need colours every sampling step, and a full decode costs about as much as a step;
        this map costs a few multiply-adds per cell (the same idea as ComfyUI's latent-to-RGB
        factors, but measured from this very autoencoder, so any FLUX-layout VAE gets its own).
        """
        kept = getattr(self, "_preview_projection", None)
        if kept is not None:
            return kept
        param = next(self.parameters())
        n, f = self.PREVIEW_PROBE_CELLS, self.downscale
        z = torch.randn(2, self.params.z_channels, n, n, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            rgb = self.decode(z.to(param.device, param.dtype)).float().cpu()
        cells = F.avg_pool2d(rgb, f).permute(0, 2, 3, 1).reshape(-1, rgb.shape[1])
        inputs = torch.cat([z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]), torch.ones(cells.shape[0], 1)], dim=1)
        self._preview_projection = torch.linalg.lstsq(inputs.double(), cells.double()).solution.float()
        return self._preview_projection

    def preview_decode(self, z: Tensor) -> Tensor:
        """A cheap approximate decode for previews: scaled latent [B, C, h, w] -> image [B, 3, h*f, w*f]
        in about [-1, 1], from :meth:`preview_projection`, upsampled bilinearly."""
        proj = self.preview_projection().to(z.device)
        cells = torch.einsum("bchw,cd->bdhw", z.float(), proj[:-1]) + proj[-1].view(1, -1, 1, 1)
        return F.interpolate(cells, scale_factor=self.downscale, mode="bilinear", align_corners=False)
