"""Weights loaded in their file's dtype live in the memory-mapped file itself (no second copy in RAM)."""
import os

import pytest
import torch

from flux_core.loading import load_diffusion_model
from loading_fixtures import save, tiny_flux

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux /proc")


def mapped_ranges(path) -> list[tuple[int, int]]:
    ranges = []
    with open("/proc/self/maps") as f:
        for line in f:
            if line.rstrip().endswith(str(path)):
                start, end = line.split()[0].split("-")
                ranges.append((int(start, 16), int(end, 16)))
    return ranges


def inside(ptr: int, ranges) -> bool:
    return any(start <= ptr < end for start, end in ranges)


def test_same_dtype_load_uses_the_file_pages(tmp_path):
    path = tmp_path / "flux.safetensors"
    save(path, tiny_flux().state_dict())
    model = load_diffusion_model(path, dtype="fp32", device="cpu")
    ranges = mapped_ranges(path)
    assert ranges, "the file is not memory-mapped"
    params = dict(model.named_parameters())
    outside = [name for name, p in params.items() if not inside(p.data_ptr(), ranges)]
    assert not outside


def test_conversion_only_when_asked(tmp_path):
    path = tmp_path / "flux.safetensors"
    save(path, tiny_flux().state_dict())
    model = load_diffusion_model(path, dtype=torch.bfloat16, device="cpu")
    ranges = mapped_ranges(path)
    assert all(p.dtype == torch.bfloat16 and not inside(p.data_ptr(), ranges) for p in model.parameters())
