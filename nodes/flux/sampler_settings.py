"""ComfyUI's sampler nodes with settings (SamplerEulerAncestral, SamplerDPMPP_2M_SDE, SamplerLMS, ...).

Each makes a SAMPLER carrying its settings as options for the step rule in flux_core.samplers, with
ComfyUI's inputs, defaults and ranges, so a shared workflow that tunes eta, s_noise, r or the order runs as
it does in ComfyUI (KSamplerSelect gives the same samplers with these defaults). ``noise_device`` picks the
sampler whose Brownian tree lives on the latent's device ("gpu") or on the CPU, as ComfyUI's does.
SamplerSASolver lives in sa_solver.py.
"""
from __future__ import annotations

import math

from flux_core.graph.node import Combo, Float, Int, Node, Output
from flux_core.sampling_names import sampler_problem

from .guider_values import SamplerChoice

CATEGORY = "sampling/custom"


def _eta(default=1.0, top=100.0, description="how much fresh noise each step adds (0: none)"):
    return Float("eta", default, min=0.0, max=top, step=0.01, description=description)


def _s_noise(top=100.0):
    return Float("s_noise", 1.0, min=0.0, max=top, step=0.01, description="scale of the fresh noise")


NOISE_DEVICE = Combo("noise_device", ["gpu", "cpu"], description="where the Brownian noise is drawn (gpu: the "
                     "latent's device)")


class _SamplerWithSettings(Node):
    """Common part: the SAMPLER output and the torchsde check of the sampler the settings choose."""

    category = CATEGORY
    outputs = [Output("sampler", "SAMPLER")]

    @classmethod
    def sampler_name(cls, **widgets) -> str:
        raise NotImplementedError

    @classmethod
    def check(cls, ctx, **widgets):
        try:
            name = cls.sampler_name(**widgets)
        except (KeyError, TypeError):  # a bad choice is reported by its widget
            return None
        problem = sampler_problem(name)
        return [("noise_device" if cls.input("noise_device") else cls.inputs[0].name, problem)] if problem else None


class SamplerEulerAncestral(_SamplerWithSettings):
    """Ancestral Euler with its settings: eta (0 is plain Euler, 1 steps down to sigma_next^2 / sigma) and
    the scale of the fresh noise."""

    inputs = [_eta(), _s_noise()]

    @classmethod
    def sampler_name(cls, **widgets):
        return "euler_ancestral"

    def run(self, ctx, eta, s_noise):
        return SamplerChoice("euler_ancestral", (("eta", float(eta)), ("s_noise", float(s_noise))))


class SamplerEulerAncestralCFGPP(_SamplerWithSettings):
    """Ancestral Euler with CFG++ (steps along the unconditional estimate) with its eta and noise scale
    (ComfyUI limits them to 1 and 10)."""

    inputs = [_eta(top=1.0), _s_noise(top=10.0)]

    @classmethod
    def sampler_name(cls, **widgets):
        return "euler_ancestral_cfg_pp"

    def run(self, ctx, eta, s_noise):
        return SamplerChoice("euler_ancestral_cfg_pp", (("eta", float(eta)), ("s_noise", float(s_noise))))


class SamplerDPMPP_2M_SDE(_SamplerWithSettings):
    """DPM-Solver++(2M) SDE with its second-order correction (midpoint or heun), eta, noise scale and the
    device of its Brownian noise."""

    inputs = [Combo("solver_type", ["midpoint", "heun"]), _eta(), _s_noise(), NOISE_DEVICE]

    @classmethod
    def sampler_name(cls, solver_type="midpoint", noise_device="gpu", **_):
        correction = {"midpoint": "", "heun": "_heun"}[solver_type]
        return "dpmpp_2m_sde" + correction + {"gpu": "_gpu", "cpu": ""}[noise_device]

    def run(self, ctx, solver_type, eta, s_noise, noise_device):
        return SamplerChoice(self.sampler_name(solver_type=solver_type, noise_device=noise_device),
                             (("eta", float(eta)), ("s_noise", float(s_noise))))


class SamplerDPMPP_3M_SDE(_SamplerWithSettings):
    """DPM-Solver++(3M) SDE with its eta, noise scale and the device of its Brownian noise."""

    inputs = [_eta(), _s_noise(), NOISE_DEVICE]

    @classmethod
    def sampler_name(cls, noise_device="gpu", **_):
        return "dpmpp_3m_sde" + {"gpu": "_gpu", "cpu": ""}[noise_device]

    def run(self, ctx, eta, s_noise, noise_device):
        return SamplerChoice(self.sampler_name(noise_device=noise_device),
                             (("eta", float(eta)), ("s_noise", float(s_noise))))


class SamplerDPMPP_SDE(_SamplerWithSettings):
    """DPM-Solver++ SDE (single step) with its eta, noise scale, the fraction r of the step where its second
    model call is made, and the device of its Brownian noise."""

    inputs = [_eta(), _s_noise(), Float("r", 0.5, min=0.0, max=100.0, step=0.01,
                                        description="where in the step (in log SNR) the second model call is"),
              NOISE_DEVICE]

    @classmethod
    def sampler_name(cls, noise_device="gpu", **_):
        return "dpmpp_sde" + {"gpu": "_gpu", "cpu": ""}[noise_device]

    @classmethod
    def check(cls, ctx, r=0.5, **widgets):
        problems = super().check(ctx, **widgets) or []
        if r == 0:  # the blend weights 1 / (2 r): ComfyUI's result is all NaN
            problems.append(("r", "is 0, but the second model call needs a point inside the step (r > 0)"))
        return problems or None

    def run(self, ctx, eta, s_noise, r, noise_device):
        return SamplerChoice(self.sampler_name(noise_device=noise_device),
                             (("eta", float(eta)), ("s_noise", float(s_noise)), ("r", float(r))))


class SamplerDPMPP_2S_Ancestral(_SamplerWithSettings):
    """DPM-Solver++(2S) ancestral with its eta and noise scale."""

    inputs = [_eta(), _s_noise()]

    @classmethod
    def sampler_name(cls, **widgets):
        return "dpmpp_2s_ancestral"

    def run(self, ctx, eta, s_noise):
        return SamplerChoice("dpmpp_2s_ancestral", (("eta", float(eta)), ("s_noise", float(s_noise))))


class SamplerLMS(_SamplerWithSettings):
    """Linear multistep with up to `order` past slopes."""

    inputs = [Int("order", 4, min=1, max=100, description="how many past slopes each step uses")]

    @classmethod
    def sampler_name(cls, **widgets):
        return "lms"

    def run(self, ctx, order):
        return SamplerChoice("lms", (("order", int(order)),))


class SamplerDPMAdaptative(_SamplerWithSettings):
    """DPM-Solver-12/23 with error-controlled steps and its settings: order, tolerances, first step size,
    the PID controller's weights and acceptance threshold, and eta / noise scale for ancestral steps.
    (ComfyUI's spelling of the name.)"""

    inputs = [Int("order", 3, min=2, max=3),
              Float("rtol", 0.05, min=0.0, max=100.0, step=0.01, description="relative error tolerance"),
              Float("atol", 0.0078, min=0.0, max=100.0, step=0.01, description="absolute error tolerance"),
              Float("h_init", 0.05, min=0.0, max=100.0, step=0.01, description="first step size in log sigma"),
              Float("pcoeff", 0.0, min=0.0, max=100.0, step=0.01),
              Float("icoeff", 1.0, min=0.0, max=100.0, step=0.01),
              Float("dcoeff", 0.0, min=0.0, max=100.0, step=0.01),
              Float("accept_safety", 0.81, min=0.0, max=100.0, step=0.01,
                    description="a step whose size factor falls below this is redone smaller"),
              _eta(default=0.0), _s_noise()]

    @classmethod
    def sampler_name(cls, **widgets):
        return "dpm_adaptive"

    @classmethod
    def check(cls, ctx, h_init=0.05, pcoeff=0.0, icoeff=1.0, dcoeff=0.0, accept_safety=0.81, **_):
        """Settings with which ComfyUI's sampler never reaches the end (it loops for ever) are refused."""
        problems = []
        if h_init == 0:  # the step never grows from 0
            problems.append(("h_init", "is 0, but the first step needs a size above 0"))
        # the controller's factor 1 + atan(f - 1) stays below 1 + pi/2, and is exactly 1 without weights
        fixed = pcoeff == icoeff == dcoeff == 0
        if accept_safety > 1 if fixed else accept_safety >= 1 + math.pi / 2:
            limit = "1 (pcoeff, icoeff and dcoeff are 0)" if fixed else f"{1 + math.pi / 2:.3g}"
            problems.append(("accept_safety", f"is {accept_safety:g}, but no step could ever be accepted with it "
                                              f"(the step-size factor stays at most {limit})"))
        return problems or None

    def run(self, ctx, order, rtol, atol, h_init, pcoeff, icoeff, dcoeff, accept_safety, eta, s_noise):
        values = dict(rtol=rtol, atol=atol, h_init=h_init, pcoeff=pcoeff, icoeff=icoeff, dcoeff=dcoeff,
                      accept_safety=accept_safety, eta=eta, s_noise=s_noise)
        return SamplerChoice("dpm_adaptive", (("order", int(order)),) + tuple((k, float(v)) for k, v in values.items()))


class SamplerER_SDE(_SamplerWithSettings):
    """ER-SDE-Solver with its settings: the noise scale function (ER-SDE's own, the reverse-time SDE's
    lambda^(eta + 1), or none: the ODE), the highest stage, and the noise scale. eta only acts on
    "Reverse-time SDE", where 0 is the ODE."""

    inputs = [Combo("solver_type", ["ER-SDE", "Reverse-time SDE", "ODE"]), Int("max_stage", 3, min=1, max=3),
              _eta(description="stochastic strength of the reverse-time SDE (0: the ODE; not used by ER-SDE)"),
              _s_noise()]

    @classmethod
    def sampler_name(cls, **widgets):
        return "er_sde"

    def run(self, ctx, solver_type, max_stage, eta, s_noise):
        if solver_type == "ODE" or (solver_type == "Reverse-time SDE" and eta == 0):
            eta, s_noise = 0.0, 0.0
        scaler_eta = None if solver_type == "ER-SDE" else float(eta)
        return SamplerChoice("er_sde", (("max_stage", int(max_stage)), ("s_noise", float(s_noise)),
                                        ("reverse_time_eta", scaler_eta)))


NODES = [SamplerEulerAncestral, SamplerEulerAncestralCFGPP, SamplerDPMPP_2M_SDE, SamplerDPMPP_3M_SDE, SamplerDPMPP_SDE,
         SamplerDPMPP_2S_Ancestral, SamplerLMS, SamplerDPMAdaptative, SamplerER_SDE]
