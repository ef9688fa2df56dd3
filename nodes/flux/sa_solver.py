"""ComfyUI's SamplerSASolver: SA-Solver (stochastic Adams) with its settings instead of KSampler's defaults."""
from __future__ import annotations

from flux_core.graph.node import Boolean, Float, Input, Int, Node, Output

from .guider_values import SamplerChoice
from .sigmas import model_levels


class SamplerSASolver(Node):
    """SA-Solver with its settings: stochasticity eta inside a window of the model's own levels (from
    sde_start_percent to sde_end_percent of sampling; outside it ODE steps), the noise scale, the predictor and
    corrector orders, PECE (one more model call per step on the corrected state) and the paper's simplified
    second-order weights. See docs/comfyui.md."""

    category = "sampling/custom"
    inputs = [Input("model", "MODEL", description="its shift places the window's levels"),
              Float("eta", 1.0, min=0.0, max=10.0, step=0.01), Float("sde_start_percent", 0.2, min=0.0, max=1.0,
                                                                     step=0.001),
              Float("sde_end_percent", 0.8, min=0.0, max=1.0, step=0.001),
              Float("s_noise", 1.0, min=0.0, max=100.0, step=0.01), Int("predictor_order", 3, min=1, max=6),
              Int("corrector_order", 4, min=0, max=6), Boolean("use_pece", False), Boolean("simple_order_2", False)]
    outputs = [Output("sampler", "SAMPLER")]

    def run(self, ctx, model, eta, sde_start_percent, sde_end_percent, s_noise, predictor_order, corrector_order,
            use_pece, simple_order_2):
        from flux_core.samplers_stochastic import percent_level

        mu = model_levels(model).mu
        window = (percent_level(mu, sde_start_percent), percent_level(mu, sde_end_percent))
        options = (("sde_window", window), ("eta", float(eta)), ("s_noise", float(s_noise)),
                   ("predictor_order", int(predictor_order)), ("corrector_order", int(corrector_order)),
                   ("pece", bool(use_pece)), ("simple_order_2", bool(simple_order_2)))
        return SamplerChoice("sa_solver", options)


NODES = [SamplerSASolver]
