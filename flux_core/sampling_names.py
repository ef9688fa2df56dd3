"""The names of the samplers and schedulers fluxwire runs, ComfyUI's spelling and order.

Kept apart from :mod:`flux_core.samplers` / :mod:`flux_core.schedulers` (which need torch) so node
declarations and the ComfyUI importer can list them without loading torch; those modules check that
their tables hold exactly these names.
"""
SAMPLER_NAMES = ["euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2", "dpm_2",
                 "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral", "dpmpp_2s_ancestral_cfg_pp",
                 "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu",
                 "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm",
                 "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
                 "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp", "er_sde",
                 "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc", "uni_pc_bh2"]
SCHEDULER_NAMES = ["simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
                   "linear_quadratic", "kl_optimal"]

# the DPM-Solver++ SDE samplers draw ComfyUI's Brownian-tree noise with torchsde (the optional "sde" extra)
NEEDS_TORCHSDE = ("dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun",
                  "dpmpp_2m_sde_heun_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu")


def sampler_problem(name: str) -> str | None:
    """Why sampler `name` cannot run here (None when it can): checked before a run, without torch."""
    if name in NEEDS_TORCHSDE:
        from importlib.util import find_spec

        if find_spec("torchsde") is None:
            return (f"sampler {name!r} needs torchsde for ComfyUI's Brownian-tree noise: "
                    f"pip install 'fluxwire[sde]' (or torchsde), or choose another sampler")
    return None
