"""Decoding and encoding with the autoencoder in overlapping tiles, so large pictures fit in bounded memory.

The FLUX decoder's activations grow with the picture (128-512 channels at 1x-8x latent resolution, a few
tensors alive at once): about 2.5 GB for 1024² and 10 GB for 2048² in fp32. Here the expensive,
full-resolution part runs on overlapping tiles, one tile on the device at a time, with the tiles'
states kept on the CPU between layers.

Two things make a naively tiled decode differ visibly from the whole one, and both are handled:
- GroupNorm: each tile would get its own mean and variance (colour shifts between tiles). The tiles
  advance through the network in lock-step, and every GroupNorm uses the statistics of the whole
  picture, gathered from the region each tile owns (overlaps split in the middle).
- Attention: the decoder's middle block attends over the whole latent. It runs once, untiled, at latent
  resolution (64x smaller than the picture), as does the encoder's.
What remains is the zero padding at tile borders, hidden by the overlap and linear blending ramps.
The module structure is read from ``autoencoder.py`` (conv_in, mid, up/down levels, norm_out, conv_out).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

DEFAULT_TILE = 512  # pixels
DEFAULT_OVERLAP = 64  # pixels
# peak activation tensors alive at full size during a whole decode (input, two conv outputs, a norm copy)
_PEAK_TENSORS = 5


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of length ``tile`` covering ``size``, neighbours overlapping by >= ``overlap``."""
    if tile >= size:
        return [0]
    step = max(tile - overlap, 1)
    starts = list(range(0, size - tile, step))
    starts.append(size - tile)
    return starts


def _owned(starts: list[int], tile: int) -> list[tuple[int, int]]:
    """Per tile, the cells it alone accounts for (overlaps split in the middle): together a partition."""
    out = []
    for i, s in enumerate(starts):
        lo = s if i == 0 else (s + starts[i - 1] + tile) // 2
        hi = s + tile if i + 1 == len(starts) else (starts[i + 1] + s + tile) // 2
        out.append((lo - s, hi - s))
    return out


def _ramp(length: int, before: int, after: int) -> Tensor:
    """Blend weights along one axis of a tile: rising over the ``before`` cells shared with the previous
    tile, falling over the ``after`` cells shared with the next, 1 elsewhere (never 0)."""
    w = torch.ones(length)
    if before > 0:
        w[:before] = (torch.arange(before) + 0.5) / before
    if after > 0:
        w[length - after:] = torch.minimum(w[length - after:], (torch.arange(after, 0, -1) - 0.5) / after)
    return w


def _axis_weights(starts: list[int], tile: int, scale: float) -> list[Tensor]:
    """Per tile, its 1-D weights at ``scale`` times the input resolution."""
    out = []
    n = round(tile * scale)
    for i, s in enumerate(starts):
        before = round((starts[i - 1] + tile - s) * scale) if i > 0 else 0
        after = round((s + tile - starts[i + 1]) * scale) if i + 1 < len(starts) else 0
        out.append(_ramp(n, before, after))
    return out


class _Tiles:
    """The tiles of one picture walking through a network together; states live on the CPU."""

    def __init__(self, x: Tensor, tile: int, overlap: int, device, dtype):
        b, _, self.h, self.w = x.shape
        self.th, self.tw = min(tile, self.h), min(tile, self.w)
        self.ys, self.xs = tile_starts(self.h, self.th, overlap), tile_starts(self.w, self.tw, overlap)
        self.own_y, self.own_x = _owned(self.ys, self.th), _owned(self.xs, self.tw)
        self.device, self.dtype = device, dtype
        self.states = [x[:, :, y:y + self.th, x0:x0 + self.tw].to("cpu", dtype) for y in self.ys for x0 in self.xs]
        self.skips: list[list[Tensor]] = []
        self.max_tile_elements = 0  # largest activation seen on the device (for tests and estimates)

    def _regions(self):
        for i in range(len(self.ys)):
            for j in range(len(self.xs)):
                yield self.own_y[i], self.own_x[j]

    def map(self, fn) -> None:
        """Apply a tile-local function to every tile, one tile on the device at a time."""
        for k, state in enumerate(self.states):
            out = fn(state.to(self.device))
            self.max_tile_elements = max(self.max_tile_elements, out.numel())
            self.states[k] = out.to("cpu")

    def group_norm(self, norm: nn.GroupNorm, then) -> None:
        """``then(norm(x))`` per tile, normalising with the whole picture's statistics."""
        total = total_sq = None
        count = 0
        for state, ((r0, r1), (c0, c1)) in zip(self.states, self._regions()):
            fy, fx = state.shape[2] / self.th, state.shape[3] / self.tw
            part = state[..., round(r0 * fy):round(r1 * fy), round(c0 * fx):round(c1 * fx)]
            g = part.double().reshape(part.shape[0], norm.num_groups, -1)
            s, sq = g.sum(-1), (g * g).sum(-1)
            total, total_sq = (s, sq) if total is None else (total + s, total_sq + sq)
            count += g.shape[-1]
        mean = total / count
        var = (total_sq / count - mean * mean).clamp_min(0)

        def normalised(t: Tensor) -> Tensor:
            b, c = t.shape[:2]
            m = mean.to(t.device, torch.float32)[:, :, None]
            inv = torch.rsqrt(var.to(t.device, torch.float32) + norm.eps)[:, :, None]
            y = ((t.float().reshape(b, norm.num_groups, -1) - m) * inv).reshape(t.shape).to(t.dtype)
            return then(y * norm.weight.to(t.dtype)[None, :, None, None] + norm.bias.to(t.dtype)[None, :, None, None])

        self.map(normalised)

    def push(self) -> None:
        self.skips.append(list(self.states))

    def add_skip(self, shortcut) -> None:
        skip = self.skips.pop()
        self.states = [s + shortcut(k.to(self.device)).to("cpu") for s, k in zip(self.states, skip)]

    def blend(self) -> Tensor:
        """The tiles' current states joined into one CPU float32 picture, overlaps blended."""
        scale = self.states[0].shape[2] / self.th
        b, c = self.states[0].shape[:2]
        oh, ow = round(self.h * scale), round(self.w * scale)
        th, tw = round(self.th * scale), round(self.tw * scale)
        wy, wx = _axis_weights(self.ys, self.th, scale), _axis_weights(self.xs, self.tw, scale)
        out = torch.zeros(b, c, oh, ow)
        total = torch.zeros(1, 1, oh, ow)
        k = 0
        for i, y in enumerate(self.ys):
            for j, x0 in enumerate(self.xs):
                weight = wy[i][:, None] * wx[j][None, :]
                sy, sx = round(y * scale), round(x0 * scale)
                out[:, :, sy:sy + th, sx:sx + tw] += self.states[k].float() * weight
                total[:, :, sy:sy + th, sx:sx + tw] += weight
                k += 1
        return out / total


def _resnet(tiles: _Tiles, block) -> None:
    """A ResnetBlock's forward, step by step: norm1-swish-conv1, norm2-swish-conv2, plus the shortcut."""
    tiles.push()
    tiles.group_norm(block.norm1, lambda t: block.conv1(F.silu(t)))
    tiles.group_norm(block.norm2, lambda t: block.conv2(F.silu(t)))
    shortcut = block.nin_shortcut if block.in_channels != block.out_channels else (lambda t: t)
    tiles.add_skip(shortcut)


ATTENTION_SCORES_BYTES = 256 << 20  # fp32 scores per query chunk of the middle block's attention


def _mid_block(mid, x: Tensor) -> Tensor:
    """The decoder's middle block (ResNet, attention, ResNet) on the whole latent, its attention computed in
    query chunks: at 2048² the latent has 65536 positions, and a full score matrix would be 17 GB."""
    h = mid.block_1(x)
    attn = mid.attn_1
    n = attn.norm(h)
    b, c, height, width = n.shape
    q, k, v = (conv(n).reshape(b, c, height * width) for conv in (attn.q, attn.k, attn.v))
    q = q.transpose(1, 2)  # [B, N, C]
    v = v.transpose(1, 2)
    rows = max(1, ATTENTION_SCORES_BYTES // (4 * height * width * b))
    out = torch.empty_like(q)
    for start in range(0, q.shape[1], rows):
        scores = torch.bmm(q[:, start:start + rows] * c ** -0.5, k)
        out[:, start:start + rows] = torch.bmm(scores.softmax(dim=-1), v)
    h = h + attn.proj_out(out.transpose(1, 2).reshape(b, c, height, width))
    return mid.block_2(h)


def _place(ae):
    from ..loading.fp8 import module_compute_dtype

    return next(ae.parameters()).device, module_compute_dtype(ae)


def _latent_cells(tile: int, overlap: int, f: int) -> tuple[int, int]:
    if tile < 2 * f or overlap < 0 or overlap * 2 > tile:
        raise ValueError(f"tile size {tile} px and overlap {overlap} px: need tile >= {2 * f} and "
                         f"0 <= overlap <= tile / 2")
    return max(tile // f, 2), overlap // f


def decode_tiled(ae, z: Tensor, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP) -> Tensor:
    """Scaled latent [B, C, h, w] -> image [B, 3, 8h, 8w] float32 on the CPU (roughly [-1, 1], not clamped).

    The middle block runs once on the whole latent; the upsampling levels run on tiles of ``tile``
    pixels overlapping by ``overlap`` pixels."""
    f = ae.downscale
    tile_lat, overlap_lat = _latent_cells(tile, overlap, f)
    device, dtype = _place(ae)
    dec = ae.decoder
    with torch.inference_mode():
        h = _mid_block(dec.mid, dec.conv_in(z.to(device, dtype) / ae.scale_factor + ae.shift_factor))
        h = h.to(dec.up[-1].block[0].conv1.weight.dtype)
        tiles = _Tiles(h, tile_lat, overlap_lat, device, h.dtype)
        del h
        for i in reversed(range(dec.num_resolutions)):
            for block in dec.up[i].block:
                _resnet(tiles, block)
            if i != 0:
                tiles.map(dec.up[i].upsample)
        tiles.group_norm(dec.norm_out, lambda t: dec.conv_out(F.silu(t)))
        return tiles.blend()


def encode_tiled(ae, x: Tensor, tile: int = DEFAULT_TILE, overlap: int = DEFAULT_OVERLAP) -> Tensor:
    """Image [B, 3, H, W] in [-1, 1] -> scaled latent [B, C, H/8, W/8] float32 on the CPU: the full-resolution
    levels in tiles, the middle block and output once on the (small) latent-resolution features."""
    f = ae.downscale
    tile_lat, overlap_lat = _latent_cells(tile, overlap, f)
    device, dtype = _place(ae)
    enc = ae.encoder
    with torch.inference_mode():
        tiles = _Tiles(x, tile_lat * f, overlap_lat * f, device, dtype)
        tiles.map(enc.conv_in)
        for i, level in enumerate(enc.down):
            for block in level.block:
                _resnet(tiles, block)
            if i != enc.num_resolutions - 1:
                tiles.map(level.downsample)
        h = tiles.blend().to(device, dtype)
        moments = enc.conv_out(F.silu(enc.norm_out(_mid_block(enc.mid, h))))
        mean = torch.chunk(moments, 2, dim=1)[0]
        return (ae.scale_factor * (mean - ae.shift_factor)).float().cpu()


def decode_peak_bytes(ae, latent_shape: tuple[int, ...], dtype_bytes: int = 4) -> int:
    """Estimated peak activation bytes of decoding a latent of ``latent_shape`` in one piece."""
    b, _, h, w = latent_shape
    f = ae.downscale
    width = ae.params.ch * ae.params.ch_mult[0]
    return b * width * (h * f) * (w * f) * dtype_bytes * _PEAK_TENSORS


def encode_peak_bytes(ae, image_shape: tuple[int, ...], dtype_bytes: int = 4) -> int:
    """Estimated peak activation bytes of encoding an image [B, 3, H, W] in one piece."""
    b, _, h, w = image_shape
    width = ae.params.ch * ae.params.ch_mult[0]
    return b * width * h * w * dtype_bytes * _PEAK_TENSORS


def fitting_tile(ae, batch: int, budget_bytes: int, dtype_bytes: int = 4) -> int:
    """The largest tile side (pixels, a multiple of 64, at least 128) whose decode fits ``budget_bytes``."""
    width = ae.params.ch * ae.params.ch_mult[0]
    per_pixel = batch * width * dtype_bytes * _PEAK_TENSORS
    side = int((max(budget_bytes, 0) / per_pixel) ** 0.5) // 64 * 64
    return max(side, 128)
