"""parity-plan row 9: timestep schedules vs diffusers' FlowMatchEulerDiscreteScheduler, the spec's
test vectors (flux-spec §3.2) and ComfyUI's sigma tables (comfyui-notes §4.4)."""
import math

import numpy as np
import pytest
import torch
from diffusers import FlowMatchEulerDiscreteScheduler
from diffusers.pipelines.flux.pipeline_flux import calculate_shift

from flux_core import sampling

pytestmark = pytest.mark.parity


def dev_scheduler():
    return FlowMatchEulerDiscreteScheduler(
        shift=3.0, use_dynamic_shifting=True, base_shift=0.5, max_shift=1.15,
        base_image_seq_len=256, max_image_seq_len=4096,
    )  # fmt: skip


@pytest.mark.parametrize("seq_len", [16, 1024, 4080, 4096, 8160])
@pytest.mark.parametrize("steps", [1, 4, 28, 50])
def test_shifted_schedule_matches_diffusers(seq_len, steps):
    sched = dev_scheduler()
    sched.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps), mu=calculate_shift(seq_len))
    ours = torch.tensor(sampling.get_schedule(steps, seq_len))
    torch.testing.assert_close(ours, sched.sigmas.float(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("steps", [1, 4, 10])
def test_unshifted_schedule_matches_diffusers_schnell_config(steps):
    sched = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    sched.set_timesteps(sigmas=np.linspace(1.0, 1 / steps, steps))
    ours = torch.tensor(sampling.get_schedule(steps, 4096, shift=False))
    torch.testing.assert_close(ours, sched.sigmas.float(), rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "height,width,steps,mu,first,last",
    [
        (1024, 1024, 28, 1.15, [1.0, 0.988409, 0.976222, 0.963394], [0.195455, 0.104721, 0.0]),
        (768, 1360, 50, 1.14729, [1.0, 0.993562, 0.986944, 0.980137], [0.116011, 0.060396, 0.0]),
        (512, 512, 20, 0.63, [1.0, 0.972733, 0.944129, 0.914088], [0.172612, 0.089934, 0.0]),
        (1024, 1024, 4, 1.15, [1.0, 0.904531, 0.759511, 0.512844], [0.0]),
    ],
)
def test_spec_schedule_vectors(height, width, steps, mu, first, last):
    seq = sampling.image_seq_len(height, width)
    assert sampling.get_lin_function()(seq) == pytest.approx(mu, abs=1e-5)
    sched = sampling.get_schedule(steps, seq)
    assert len(sched) == steps + 1
    assert sched[: len(first)] == pytest.approx(first, abs=1e-6)
    assert sched[-len(last):] == pytest.approx(last, abs=1e-6)


def test_schnell_schedule_is_linear():
    assert sampling.get_schedule(4, 4096, shift=False) == [1.0, 0.75, 0.5, 0.25, 0.0]


@pytest.mark.parametrize(
    "width,height,mu", [(512, 512, 0.63), (1024, 1024, 1.15), (1536, 1536, 2.0167), (768, 1344, 1.1392)]
)
def test_comfy_model_sampling_flux_mu(width, height, mu):
    assert sampling.get_lin_function()(sampling.image_seq_len(height, width)) == pytest.approx(mu, abs=1e-4)


COMFY_DEV_20 = [1.0, 0.9836, 0.9660, 0.9471, 0.9266, 0.9045, 0.8805, 0.8543, 0.8257, 0.7942, 0.7595,
                0.7210, 0.6780, 0.6297, 0.5751, 0.5128, 0.4412, 0.3579, 0.2598, 0.1425, 0.0]  # fmt: skip


def test_comfy_simple_scheduler_vectors():
    assert sampling.comfy_simple_schedule(4, 4096, shift=False) == [1.0, 0.75, 0.5, 0.25, 0.0]
    assert sampling.comfy_simple_schedule(4, 4096) == pytest.approx([1.0, 0.9045, 0.7595, 0.5128, 0.0], abs=5e-5)
    assert sampling.comfy_simple_schedule(20, 4096) == pytest.approx(COMFY_DEV_20, abs=5e-5)
    # with steps dividing the table size, ComfyUI's table lookup equals the closed form
    assert sampling.comfy_simple_schedule(20, 4096) == pytest.approx(sampling.get_schedule(20, 4096), abs=1e-6)


def test_comfy_simple_scheduler_uses_the_table_grid():
    # 3 steps: ComfyUI takes table entry t = (10000 - int(k * 10000 / 3)) / 10000, not 1 - k/3
    mu = 1.15
    expected = [math.exp(mu) / (math.exp(mu) + (1 / t - 1)) for t in (1.0, 0.6667, 0.3334)] + [0.0]
    assert sampling.comfy_simple_schedule(3, 4096) == pytest.approx(expected, abs=1e-6)


def test_denoise_keeps_the_tail_of_a_longer_schedule():
    # BasicScheduler(steps=10, denoise=0.5) = last 11 values of the 20-step table
    assert sampling.schedule_for_denoise(10, 4096, denoise=0.5) == pytest.approx(COMFY_DEV_20[-11:], abs=5e-5)
    # 4 steps at denoise 0.5 (schnell): int(4 / 0.5) = 8 steps, last 5 values: t = 0.5, 0.375, ... 0
    assert sampling.schedule_for_denoise(4, 4096, 0.5, shift=False) == [0.5, 0.375, 0.25, 0.125, 0.0]
    # 0.3 of 4 steps: int(13.33) = 13-step schedule
    tail = sampling.schedule_for_denoise(4, 4096, 0.3, shift=False)
    assert tail == pytest.approx([4 / 13, 3 / 13, 2 / 13, 1 / 13, 0.0], abs=1e-3)
    assert sampling.schedule_for_denoise(4, 4096, 1.0) == sampling.comfy_simple_schedule(4, 4096)
    assert sampling.schedule_for_denoise(4, 4096, 0.0) == []
    with pytest.raises(ValueError, match="denoise"):
        sampling.schedule_for_denoise(4, 4096, 1.5)


def test_comfy_fixed_mu_ignores_the_image_size():
    # a dev model without ModelSamplingFlux samples with mu = 1.15 at any size
    assert sampling.comfy_simple_schedule(4, 64, mu=1.15) == sampling.comfy_simple_schedule(4, 4096)
    assert sampling.schedule_for_denoise(10, 64, 0.5, mu=1.15) == pytest.approx(COMFY_DEV_20[-11:], abs=5e-5)
