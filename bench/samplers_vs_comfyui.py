"""fluxwire's sampler step rules beside ComfyUI's own k-diffusion functions, on a toy denoiser.

Not a test (ComfyUI is never a fluxwire dependency): give a ComfyUI checkout and the Python of a venv that
can import it (torch, and torchsde for the SDE samplers). For every sampler fluxwire runs through
``flux_core.samplers`` (all but euler/ddim, which the guided path runs itself, and UniPC, a separate
ComfyUI module), on dev's and schnell's tables and three schedules (simple, karras, the tail of beta), this
runs ComfyUI's ``sample_<name>`` with a CONST model sampling and the run's seed, and fluxwire's sampler with
the same start, levels and seed, and prints the largest difference (0 = bit-identical). The CFG++ samplers
get a guided / unconditional pair at cfg 2.5 through ComfyUI's post-CFG hook; SA-Solver also runs with four
SamplerSASolver settings (as that node hands them to ComfyUI's sampler), and ComfyUI's other sampler nodes with
settings (SamplerEulerAncestral, SamplerDPMPP_2M_SDE, ...) with non-default settings: ComfyUI's node class makes
its sampler, fluxwire's node of the same name makes fluxwire's.

    python bench/samplers_vs_comfyui.py --comfyui /path/to/ComfyUI --comfyui-python /path/to/venv/bin/python
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SEED = 972054013131368
CFG = 2.5
# SamplerSASolver settings beyond KSampler's defaults: (eta, start %, end %, s_noise, predictor, corrector, pece,
# simple order 2)
SA_SETTINGS = [(0.7, 0.1, 0.9, 0.8, 2, 2, True, True), (1.3, 0.0, 1.0, 1.0, 5, 0, False, False),
               (0.0, 0.2, 0.8, 1.0, 1, 3, False, True), (1.0, 0.3, 0.6, 0.0, 4, 6, True, False)]
# ComfyUI's other sampler nodes with settings: (node class, its inputs), all away from the defaults somewhere
NODE_SETTINGS = [
    ("SamplerEulerAncestral", dict(eta=0.6, s_noise=1.3)), ("SamplerEulerAncestral", dict(eta=1.7, s_noise=0.0)),
    ("SamplerEulerAncestralCFGPP", dict(eta=0.45, s_noise=2.2)),
    ("SamplerEulerAncestralCFGPP", dict(eta=0.0, s_noise=1.0)),
    ("SamplerDPMPP_2M_SDE", dict(solver_type="heun", eta=0.7, s_noise=1.4, noise_device="cpu")),
    ("SamplerDPMPP_2M_SDE", dict(solver_type="midpoint", eta=1.5, s_noise=0.6, noise_device="gpu")),
    ("SamplerDPMPP_2M_SDE", dict(solver_type="heun", eta=0.0, s_noise=1.0, noise_device="gpu")),
    ("SamplerDPMPP_3M_SDE", dict(eta=0.5, s_noise=1.2, noise_device="cpu")),
    ("SamplerDPMPP_3M_SDE", dict(eta=2.0, s_noise=0.0, noise_device="gpu")),
    ("SamplerDPMPP_SDE", dict(eta=0.8, s_noise=1.1, r=0.3, noise_device="cpu")),
    ("SamplerDPMPP_SDE", dict(eta=0.0, s_noise=1.0, r=0.75, noise_device="gpu")),
    ("SamplerDPMPP_2S_Ancestral", dict(eta=0.5, s_noise=1.5)),
    ("SamplerDPMPP_2S_Ancestral", dict(eta=0.0, s_noise=1.0)),
    ("SamplerLMS", dict(order=2)), ("SamplerLMS", dict(order=7)), ("SamplerLMS", dict(order=1)),
    ("SamplerDPMAdaptative", dict(order=2, rtol=0.02, atol=0.005, h_init=0.1, pcoeff=0.1, icoeff=0.9, dcoeff=0.05,
                                  accept_safety=0.7, eta=0.0, s_noise=1.0)),
    ("SamplerDPMAdaptative", dict(order=3, rtol=0.05, atol=0.0078, h_init=0.05, pcoeff=0.0, icoeff=1.0, dcoeff=0.0,
                                  accept_safety=0.81, eta=0.6, s_noise=0.9)),
    ("SamplerER_SDE", dict(solver_type="ER-SDE", max_stage=2, eta=1.0, s_noise=0.7)),
    ("SamplerER_SDE", dict(solver_type="Reverse-time SDE", max_stage=3, eta=0.5, s_noise=1.2)),
    ("SamplerER_SDE", dict(solver_type="Reverse-time SDE", max_stage=1, eta=0.0, s_noise=1.0)),
    ("SamplerER_SDE", dict(solver_type="ODE", max_stage=3, eta=1.0, s_noise=1.0)),
]


def toy(torch, x, s):
    """The conditional and unconditional denoised estimates of the toy model (the same ops on both sides)."""
    return torch.tanh(0.8 * x) * (1 - 0.3 * s) + 0.1 * s, torch.tanh(0.5 * x) * (1 - 0.2 * s)


def comfy_side(comfyui: str, cases_path: str, out_path: str) -> None:
    """Runs inside ComfyUI's venv: ComfyUI's own sampler functions on the cases."""
    sys.path.insert(0, comfyui)
    sys.argv = [sys.argv[0], "--cpu"]
    import comfy.options
    comfy.options.enable_args_parsing()
    import torch
    import comfy.model_sampling as ms
    import comfy.samplers
    import comfy_extras.nodes_custom_sampler as comfy_nodes
    from comfy.k_diffusion import sa_solver as sa

    class Dev(ms.ModelSamplingFlux, ms.CONST):
        pass

    class Schnell(ms.ModelSamplingDiscreteFlow, ms.CONST):
        pass

    class Holder:
        pass

    class Wrapped:  # what k-diffusion samplers see of ComfyUI's model wrapper
        def __init__(self, sampling):
            self.inner_model = Holder()
            self.inner_model.inner_model = Holder()
            self.inner_model.inner_model.model_sampling = sampling
            self.inner_model.model_patcher = Holder()
            self.inner_model.model_patcher.get_model_object = lambda name: sampling

        def __call__(self, x, sigma, model_options=None, **_):
            cond, uncond = toy(torch, x, sigma[0])
            if not model_options:
                return cond
            out = uncond + (cond - uncond) * CFG
            for fn in model_options.get("sampler_post_cfg_function", []):
                out = fn({"denoised": out, "uncond_denoised": uncond, "cond_denoised": cond})
            return out

    results = {}
    for case in json.loads(Path(cases_path).read_text()):
        if case["mu"] is None:
            sampling = Schnell()
            sampling.set_parameters(shift=1.0, multiplier=1.0)
        else:
            sampling = Dev()
            sampling.set_parameters(shift=case["mu"])
        x = torch.tensor(case["x"], dtype=torch.float32).reshape(case["shape"])
        sigmas = torch.tensor(case["sigmas"], dtype=torch.float32)
        # ComfyUI's KSAMPLER function: sample_<name>, or the wrapper that gives dpm_fast / dpm_adaptive their range;
        # SamplerSASolver's settings as that node hands them over
        extra = {}
        if case.get("settings"):
            eta, start, end, s_noise, predictor, corrector, pece, simple = case["settings"]
            window = sa.get_tau_interval_func(sampling.percent_to_sigma(start), sampling.percent_to_sigma(end), eta=eta)
            extra = {"tau_func": window, "s_noise": s_noise, "predictor_order": predictor,
                     "corrector_order": corrector, "use_pece": pece, "simple_order_2": simple}
        if case.get("node"):  # ComfyUI's own node makes the sampler from its settings
            ksampler = getattr(comfy_nodes, case["node"])().get_sampler(**case["inputs"])[0]
        else:
            ksampler = comfy.samplers.ksampler(case["name"], extra)
        out = ksampler.sampler_function(Wrapped(sampling), x, sigmas, extra_args={"seed": SEED}, callback=None,
                                        disable=True, **ksampler.extra_options)
        results[case["key"]] = out.flatten().tolist()
    Path(out_path).write_text(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comfyui", required=True, help="a ComfyUI checkout")
    parser.add_argument("--comfyui-python", required=True, help="the Python of a venv that can import it")
    args = parser.parse_args()

    import torch

    from flux_core import samplers
    from flux_core.samplers_stochastic import percent_level
    from flux_core.schedulers import NoiseLevels, scheduler_levels

    names = [n for n in samplers.SAMPLERS if n not in ("euler", "ddim", "uni_pc", "uni_pc_bh2")]
    cases = []
    for mu in (1.15, None):
        for scheduler, steps, tail in (("simple", 9, None), ("karras", 7, None), ("beta", 12, 5)):
            sigmas = scheduler_levels(NoiseLevels(mu), scheduler, steps)
            sigmas = sigmas[-(tail + 1):] if tail else sigmas
            x = torch.randn(2, 3, 5, 4, generator=torch.Generator().manual_seed(len(cases))) * sigmas[0]
            where = f"mu={mu} {scheduler}{'-tail' if tail else ''}"
            cases += [dict(key=f"{name} {where}", name=name, mu=mu, sigmas=sigmas, x=x.flatten().tolist(),
                           shape=list(x.shape)) for name in names]
            cases += [dict(key=f"SamplerSASolver{k} {where}", name="sa_solver", settings=settings, mu=mu,
                           sigmas=sigmas, x=x.flatten().tolist(), shape=list(x.shape))
                      for k, settings in enumerate(SA_SETTINGS)]
            cases += [dict(key=f"{node}{k} {where}", name=None, node=node, inputs=inputs, mu=mu, sigmas=sigmas,
                           x=x.flatten().tolist(), shape=list(x.shape))
                      for k, (node, inputs) in enumerate(NODE_SETTINGS)]
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, out_path = Path(tmp) / "cases.json", Path(tmp) / "comfy.json"
        cases_path.write_text(json.dumps(cases))
        subprocess.run([args.comfyui_python, __file__, "--comfy-side", args.comfyui, str(cases_path), str(out_path)],
                       check=True)
        theirs = json.loads(out_path.read_text())
    from nodes.flux import sampler_settings

    worst: dict[str, float] = {}
    for case in cases:
        x = torch.tensor(case["x"]).reshape(case["shape"])
        name, options, label = case["name"], None, case["name"]
        if case.get("node"):  # fluxwire's node of the same name makes the sampler from the same settings
            choice = getattr(sampler_settings, case["node"])().run(None, **case["inputs"])
            name, options, label = choice.name, dict(choice.options), case["key"].split()[0]
        noise = samplers.StepNoise(SEED, tuple(x.shape)) if samplers.draws_noise(name, options) else None
        if name in samplers.CFG_PP:
            def model(xx, s):
                cond, uncond = toy(torch, xx, s)
                return uncond + (cond - uncond) * CFG, uncond
        else:
            def model(xx, s):
                return toy(torch, xx, s)[0]
        if case.get("settings"):
            eta, start, end, s_noise, predictor, corrector, pece, simple = case["settings"]
            window = (percent_level(case["mu"], start), percent_level(case["mu"], end))
            options = dict(sde_window=window, eta=eta, s_noise=s_noise, predictor_order=predictor,
                           corrector_order=corrector, pece=pece, simple_order_2=simple)
            label = case["key"].split()[0]
        ours, _ = samplers.run(name, model, x, case["sigmas"], noise=noise, mu=case["mu"], options=options)
        diff = float((ours - torch.tensor(theirs[case["key"]]).reshape(case["shape"])).abs().max())
        worst[label] = max(worst.get(label, 0.0), diff)
    width = max(map(len, worst))
    for name, diff in worst.items():
        print(f"{name:{width}s}  max |fluxwire - ComfyUI| = {diff:.3g}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--comfy-side":
        comfy_side(*sys.argv[2:5])
    else:
        main()
