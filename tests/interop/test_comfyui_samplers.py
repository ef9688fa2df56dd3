"""Imported ComfyUI documents with other samplers and schedulers, and with 8-not-16 pixel sizes, run end to
end on the tiny model files and give the picture computed by hand: ComfyUI's noise, the schedule from
the formulas, the sampler from its step rule (tests/interop/test_comfyui_sampler_math.py), and the
latent padded circularly around each model call."""
import numpy as np
import pytest
import torch

from flux_core import load_workflow
from flux_core.graph.context import Environment

from .conftest import fixture
from .test_comfyui_sampler_math import comfy_step_noises, ref_run, ref_schedule


def run(executor, workflow, node, only=False):
    result = executor.run(workflow, outputs=[node] if only else None)
    assert result.status == "success", result
    return result.outputs[node]


def pad_rows_cols(x):
    """Odd sides get the first row / column again at the far side (ComfyUI's circular pad_to_patch_size)."""
    if x.shape[2] % 2:
        x = torch.cat([x, x[:, :, :1]], dim=2)
    if x.shape[3] % 2:
        x = torch.cat([x, x[:, :, :, :1]], dim=3)
    return x


def reference(models, unet, prompt, seed, width, height, sampler, sigmas, guidance=None, pad=pad_rows_cols,
              rule=None):
    """The final latent and picture by hand, the state in float64 (``rule(x, sigmas, denoiser)``: another
    reference step rule than ref_run's)."""
    from flux_core.loading import load_diffusion_model, load_text_encoders, load_vae
    from flux_core.sampling import img_ids, pack, txt_ids, unpack

    model = load_diffusion_model(models / "diffusion_models" / unet).eval()
    cond = load_text_encoders(models / "text_encoders" / "t5xxl_fp16.safetensors",
                              models / "clip" / "clip_l.safetensors", models_dir=models)
    cond.tokenization, cond.t5_max_length = "comfyui", 256
    txt, vec = cond.encode([prompt], no_grad=True)
    h, w = height // 8, width // 8
    torch.manual_seed(seed)
    noise = torch.randn([1, 16, h, w])
    sigmas = [float(np.float32(s)) for s in sigmas]
    ph, pw = h + h % 2, w + w % 2
    g = None if guidance is None else torch.tensor([guidance])
    calls = []

    def denoiser(x, sigma):
        calls.append(sigma)
        cells = torch.from_numpy(x).float()
        with torch.no_grad():
            v = model(img=pack(pad(cells)), img_ids=img_ids(1, ph, pw), txt=txt, txt_ids=txt_ids(1, txt.shape[1]),
                      y=vec, timesteps=torch.tensor([sigma], dtype=torch.float32), guidance=g)
        v = unpack(v, ph * 8, pw * 8)[:, :, :h, :w]
        return x - float(sigma) * v.double().numpy()

    noises = comfy_step_noises(seed, (1, 16, h, w), len(sigmas)) if sampler == "euler_ancestral" else None
    if rule is not None:
        x = rule(noise.double().numpy() * sigmas[0], sigmas, denoiser)
    else:
        x = ref_run(sampler, noise.double().numpy() * sigmas[0], sigmas, noises, toy_denoiser=denoiser)
    latent = torch.from_numpy(x).float()
    with torch.no_grad():
        pixels = load_vae(models / "vae" / "ae.safetensors").eval().decode(latent)
    return latent, ((pixels.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1), calls


def load(name, models):
    return load_workflow(fixture(name), env=Environment(models_dir=models))


def test_dpmpp_2m_with_the_beta_scheduler(comfy_models, executor):
    from nodes.flux.sigmas import flux_shift

    workflow = load("api_dev_dpmpp2m_beta.json", comfy_models)
    assert workflow.nodes["11"].widgets["sampler_name"] == "dpmpp_2m"
    assert workflow.nodes["9"].widgets["scheduler"] == "beta"
    got = run(executor, workflow, "16")["image"]
    sigmas = ref_schedule("beta", flux_shift(1.15, 0.5, 64, 48), 6)
    _, want, calls = reference(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", 42, 64, 48,
                               "dpmpp_2m", sigmas, guidance=3.5)
    assert len(calls) == 6 and got.shape == (1, 48, 64, 3)
    assert torch.allclose(got, want, atol=1e-4)
    _, euler, _ = reference(comfy_models, "flux1-dev.safetensors", "a lighthouse at night", 42, 64, 48,
                            "euler", sigmas, guidance=3.5)
    assert (euler - want).abs().max() > 1e-3  # the sampler shows in the picture


def test_euler_ancestral_with_the_karras_scheduler(comfy_models, executor):
    workflow = load("api_schnell_ancestral_karras.json", comfy_models)
    got = run(executor, workflow, "9")["image"]
    sigmas = ref_schedule("karras", None, 5)
    _, want, _ = reference(comfy_models, "flux1-schnell.safetensors", "a red fox in the snow", 123456789, 64, 64,
                           "euler_ancestral", sigmas)
    assert torch.allclose(got, want, atol=1e-4)
    again = run(executor, workflow, "9")["image"]
    assert torch.equal(got, again)  # the step noise comes from the seed, not from the global generator
    other = load("api_schnell_ancestral_karras.json", comfy_models)
    other.nodes["8"].widgets["seed"] = 123456790
    assert (run(executor, other, "9")["image"] - got).abs().max() > 1e-3


def test_other_sampler_schedule_pairs_run_through_samplercustomadvanced(comfy_models, executor):
    """Every sampler and scheduler name imports and runs (a short schedule each)."""
    from flux_core.sampling_names import SAMPLER_NAMES, SCHEDULER_NAMES

    pairs = [("euler", "simple"), ("euler_ancestral", "sgm_uniform"), ("heun", "karras"), ("dpm_2", "exponential"),
             ("lms", "ddim_uniform"), ("dpmpp_2m", "kl_optimal"), ("ddim", "normal"), ("deis", "beta"),
             ("uni_pc", "linear_quadratic"), ("uni_pc_bh2", "simple"), ("dpmpp_2s_ancestral", "beta"),
             ("dpmpp_sde", "karras"), ("dpmpp_2m_sde", "normal"), ("dpmpp_2m_sde_heun", "simple"),
             ("dpmpp_3m_sde", "exponential"), ("lcm", "sgm_uniform"), ("ipndm", "kl_optimal"),
             ("ipndm_v", "ddim_uniform"), ("res_multistep", "beta"), ("gradient_estimation", "simple"),
             ("er_sde", "karras"), ("euler_cfg_pp", "normal"), ("dpmpp_2m_cfg_pp", "beta"),
             ("res_multistep_cfg_pp", "exponential"), ("gradient_estimation_cfg_pp", "sgm_uniform"),
             ("euler_ancestral_cfg_pp", "karras"), ("dpm_2_ancestral", "simple"), ("res_multistep_ancestral", "normal"),
             ("res_multistep_ancestral_cfg_pp", "beta"), ("heunpp2", "normal"), ("dpm_fast", "karras"),
             ("dpm_adaptive", "simple"), ("dpmpp_2s_ancestral_cfg_pp", "beta"), ("dpmpp_sde_gpu", "exponential"),
             ("dpmpp_2m_sde_gpu", "simple"), ("dpmpp_2m_sde_heun_gpu", "beta"), ("dpmpp_3m_sde_gpu", "karras"),
             ("ddpm", "normal"), ("seeds_2", "simple"), ("seeds_3", "beta"), ("sa_solver", "karras"),
             ("sa_solver_pece", "simple")]
    assert {p[0] for p in pairs} == set(SAMPLER_NAMES) and {p[1] for p in pairs} == set(SCHEDULER_NAMES)
    seen = []
    for sampler, scheduler in pairs:
        data = fixture("api_dev_dpmpp2m_beta.json")
        data["11"]["inputs"]["sampler_name"] = sampler
        data["9"]["inputs"].update(scheduler=scheduler, steps=3)
        latent = run(executor, load_workflow(data, env=Environment(models_dir=comfy_models)), "15")["output"]
        assert latent.samples.shape == (1, 16, 6, 8) and torch.isfinite(latent.samples).all(), (sampler, scheduler)
        seen.append(latent.samples)
    assert all((a - b).abs().max() > 1e-4 for a, b in zip(seen, seen[1:]))


@pytest.mark.slow
def test_a_1000_px_picture_is_padded_like_comfyui(comfy_models, executor):
    """1000 px is 125 latent cells: an odd count of FLUX's 2x2 patches. The picture keeps its size and
    equals the hand computation with the circular padding; zero padding would give another latent."""
    workflow = load("api_schnell_1000px.json", comfy_models)
    out = run(executor, workflow, "9")["image"]
    latent = executor.run(workflow).outputs["8"]["latent"].samples
    assert out.shape == (1, 1000, 1000, 3) and latent.shape == (1, 16, 125, 125)
    levels = ref_schedule("normal", None, 3)  # KSampler's dpm_2: one step more, second-to-last level dropped
    sigmas = levels[:-2] + levels[-1:]
    want_latent, want, calls = reference(comfy_models, "flux1-schnell.safetensors", "a red fox in the snow", 7,
                                         1000, 1000, "dpm_2", sigmas)
    assert len(calls) == 3
    assert torch.allclose(latent, want_latent, atol=1e-4)
    assert torch.allclose(out, want, atol=1e-4)
    zero_padded, _, _ = reference(comfy_models, "flux1-schnell.safetensors", "a red fox in the snow", 7, 1000, 1000,
                                  "dpm_2", sigmas, pad=lambda x: torch.nn.functional.pad(x, (0, 1, 0, 1)))
    assert (zero_padded - want_latent).abs().max() > 1e-3


def test_an_8_not_16_size_through_fluxwires_own_sampler(comfy_models, executor, tmp_path):
    """fluxwire's own Sampler pads the same way (small size; the numbers match the ComfyUI path's)."""
    data = fixture("api_schnell_split.json")
    data["27"]["inputs"].update(width=72, height=40)
    comfy = run(executor, load_workflow(data, env=Environment(models_dir=comfy_models)), "13")["output"].samples
    sigmas = ref_schedule("simple", None, 4)
    want_latent, _, _ = reference(comfy_models, "flux1-schnell.safetensors", "a red fox in the snow",
                                  972054013131368, 72, 40, "euler", sigmas)
    assert comfy.shape == (1, 16, 5, 9) and torch.allclose(comfy, want_latent, atol=1e-4)
    own = {
        "format": "fluxwire.workflow", "version": 1,
        "nodes": [
            {"id": "m", "type": "LoadDiffusionModel", "widgets": {"model_name": "flux1-schnell.safetensors"}},
            {"id": "te", "type": "LoadTextEncoders", "widgets": {"t5_name": "t5xxl_fp16.safetensors",
                                                                 "clip_name": "clip_l.safetensors",
                                                                 "t5_max_length": "comfyui"}},
            {"id": "c", "type": "TextEncode", "widgets": {"text": "a red fox in the snow"}},
            {"id": "l", "type": "EmptyLatent", "widgets": {"width": 72, "height": 40}},
            {"id": "n", "type": "RandomNoise", "widgets": {"seed": 972054013131368}},
            {"id": "s", "type": "Scheduler", "widgets": {"steps": 4, "shift": "off"}},
            {"id": "k", "type": "Sampler"},
        ],
        "links": [{"from": a, "output": o, "to": b, "input": i} for a, o, b, i in [
            ("te", "text_encoder", "c", "text_encoder"), ("m", "model", "s", "model"), ("l", "latent", "s", "latent"),
            ("m", "model", "k", "model"), ("c", "conditioning", "k", "conditioning"), ("n", "noise", "k", "noise"),
            ("s", "sigmas", "k", "sigmas"), ("l", "latent", "k", "latent")]],
    }
    mine = run(executor, load_workflow(own, env=Environment(models_dir=comfy_models)), "k", only=True)["latent"].samples
    assert mine.shape == (1, 16, 5, 9) and torch.allclose(mine, want_latent, atol=1e-4)


def test_ddim_holds_the_unmasked_part_with_noise_of_seed_plus_one(comfy_models, executor):
    from nodes.flux.guiders import held_noise
    from nodes.flux.values import Latent, Noise

    latent = Latent(torch.zeros(1, 16, 6, 8), 64, 48)
    drawn = Noise(41).for_latent(latent)
    assert held_noise("euler", Noise(41), latent, drawn) is drawn
    torch.manual_seed(42)  # ComfyUI: torch.manual_seed(seed + 1), one CPU randn of the noise's shape
    assert torch.equal(held_noise("ddim", Noise(41), latent, drawn), torch.randn(1, 16, 6, 8))

    pictures = {}
    for sampler in ("euler", "ddim"):
        data = fixture("api_fill_inpaint.json")
        data["12"]["inputs"]["sampler_name"] = sampler
        result = executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)))
        pictures[sampler] = result.outputs["12"]["latent"].samples
        original = result.outputs["11"]["latent"]
    from flux_core.inpaint import latent_mask

    m = latent_mask(original.noise_mask, 1, 16, *original.samples.shape[-2:])
    for out in pictures.values():  # both land on the original outside the mask
        torch.testing.assert_close(out * (m == 0), original.samples * (m == 0), rtol=0, atol=1e-5)
    assert ((pictures["euler"] - pictures["ddim"]).abs() * (m == 1)).amax() > 1e-4  # the held noise shows inside


def test_uni_pc_refuses_levels_its_float32_arithmetic_loses(comfy_models, executor):
    """ComfyUI's UniPC turns levels below ~2.5e-4 into NaN (a black picture); fluxwire says so instead."""
    from flux_core.graph.executor import RunFailed

    data = fixture("api_dev_dpmpp2m_beta.json")
    data["11"]["inputs"]["sampler_name"] = "uni_pc"
    data["9"]["inputs"].update(scheduler="karras", steps=3)  # ends at the table's smallest level, 1.6e-4 here
    with pytest.raises(RunFailed) as e:
        executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)))
    assert e.value.node_id == "15" and "uni_pc cannot use noise level 0.000158" in str(e.value)
    data["11"]["inputs"]["sampler_name"] = "ddpm"  # the same float32 loss: 0 / 0 in ComfyUI's DDPM step
    with pytest.raises(RunFailed) as e:
        executor.run(load_workflow(data, env=Environment(models_dir=comfy_models)))
    assert e.value.node_id == "15" and "ddpm cannot use noise level 0.000158" in str(e.value)
