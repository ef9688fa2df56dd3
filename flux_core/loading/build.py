"""Building a module without allocating its weights, then giving it the file's tensors in place.

Parameters are created on the meta device (buffers are computed normally: they are small and some,
like CLIP's position ids, are not stored in files). The file's keys and shapes are checked against
the module before any weight is read; then each tensor is read (memory-mapped), converted only if
its storage dtype or device differs, and assigned to the module (``load_state_dict(assign=True)``),
so a model loaded in its file's dtype shares the file's pages and has no second copy in RAM.
"""
from __future__ import annotations

import contextlib
import functools
import threading
from typing import Callable

import torch
from torch import nn

from .errors import ModelLoadError, first_keys
from .fp8 import default_weight_expansion, is_fp8, set_weight_expansion, swap_linears
from .gguf_linear import swap_quantized
from .tensors import LazyTensor

_meta_state = threading.local()
_meta_lock = threading.Lock()
_meta_users = 0
_original_register_parameter = nn.Module.register_parameter
# torch's layer constructors fill new weights at random (reset_parameters); on the meta device that
# runs through Python decompositions and was 95% of building an autoencoder, for values never kept
_INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "xavier_uniform_",
                   "xavier_normal_", "kaiming_uniform_", "kaiming_normal_", "orthogonal_")
_original_inits = {name: getattr(nn.init, name) for name in _INIT_FUNCTIONS}
skip_meta_init = True  # False: the previous path (bench/bench_module_build.py compares the two)


def _skipping_meta(name: str):
    @functools.wraps(_original_inits[name])
    def fill(tensor, *args, **kwargs):
        if tensor.device.type == "meta":  # nothing to fill; tensors elsewhere are filled as usual
            return tensor
        return _original_inits[name](tensor, *args, **kwargs)
    return fill


_skipping_inits = {name: _skipping_meta(name) for name in _original_inits}


def _register_parameter_on_meta(self, name, param):
    if param is not None and getattr(_meta_state, "active", False):
        if param.device.type != "meta":
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        # transformers' init_weights skips tensors flagged as initialised: random values for weights
        # the file overwrites anyway were most of a text encoder's build time
        param._is_hf_initialized = True
    _original_register_parameter(self, name, param)


@contextlib.contextmanager
def parameters_on_meta():
    """Within this block (this thread only), new module parameters live on the meta device."""
    global _meta_users
    with _meta_lock:
        if _meta_users == 0:
            nn.Module.register_parameter = _register_parameter_on_meta
            if skip_meta_init:
                for name, init in _skipping_inits.items():
                    setattr(nn.init, name, init)
        _meta_users += 1
    _meta_state.active = True
    try:
        yield
    finally:
        _meta_state.active = False
        with _meta_lock:
            _meta_users -= 1
            if _meta_users == 0:
                nn.Module.register_parameter = _original_register_parameter
                for name, init in _original_inits.items():
                    setattr(nn.init, name, init)


def check_keys(
    source: str, what: str, expected: dict[str, tuple], provided: dict[str, LazyTensor], optional=frozenset()
) -> None:
    """Raise ModelLoadError naming missing, unexpected and mis-shaped tensors (first few of each)."""
    missing = [k for k in expected if k not in provided and k not in optional]
    extra = [k for k in provided if k not in expected]
    wrong = [
        f"{k} (file {tuple(provided[k].shape)}, model {tuple(expected[k])})"
        for k in provided
        if k in expected and tuple(provided[k].shape) != tuple(expected[k])
    ]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing tensor(s): {first_keys(missing)}")
    if extra:
        problems.append(f"{len(extra)} unexpected tensor(s): {first_keys(extra)}")
    if wrong:
        problems.append(f"{len(wrong)} tensor(s) with the wrong shape: {first_keys(wrong)}")
    if problems:
        raise ModelLoadError(f"{source}: the {what} weights do not fit the model: " + "; ".join(problems))


def _quantized_linears(linears, tensors, dtype, exclude) -> dict[str, str]:
    """Linear layers whose GGUF-quantized weights stay quantized: unless a plain dtype was asked for."""
    if dtype is not None and not is_fp8(dtype):
        return {}
    out = {}
    for name in linears:
        lazy = tensors.get(f"{name}.weight")
        if lazy is not None and lazy.quantized is not None and not name.endswith(exclude):
            out[name] = lazy.quantized.qtype
    return out


def load_module(
    factory: Callable[[], nn.Module],
    tensors: dict[str, LazyTensor],
    *,
    source: str,
    what: str,
    dtype: torch.dtype | None,
    device: torch.device,
    compute: torch.dtype,
    scales: dict[str, LazyTensor] | None = None,
    fp8_exclude: tuple[str, ...] = (),
    keep_fp32: tuple[str, ...] = (),
    tied: dict[str, str] | None = None,
) -> nn.Module:
    """Build ``factory()`` on meta, check ``tensors`` against it, and assign them with the chosen storage.

    Storage rules: ``dtype`` None keeps fp8 linear weights of the file in fp8 and puts every other
    floating tensor in ``compute``; an fp8 ``dtype`` stores all linear weights (except module names
    ending in ``fp8_exclude``) in that fp8 type; any other ``dtype`` converts everything. Scaled-fp8
    layers keep their file's fp8 weights plus the scale, unless a non-fp8 ``dtype`` is asked for, in
    which case weight*scale is computed once here. GGUF-quantized linear weights stay quantized
    (:class:`QuantLinear`) unless a non-fp8 ``dtype`` is asked for; other quantized tensors are
    expanded. ``keep_fp32`` module names stay fp32 when the target is fp16 (transformers' rule for T5's ``wo``). ``tied`` maps a parameter that the file
    provides once to the other name(s) sharing it.
    """
    scales = scales or {}
    tied = tied or {}
    with parameters_on_meta():
        module = factory()
    linears = {name for name, m in module.named_modules() if isinstance(m, nn.Linear)}
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}

    stray_scales = [f"{layer}.scale_weight" for layer in scales if f"{layer}.weight" not in tensors]
    if stray_scales:
        raise ModelLoadError(f"{source}: weight scales without a weight: {first_keys(stray_scales)}")
    check_keys(source, what, expected, tensors, optional=frozenset(tied.values()))

    keep_fp8: dict[str, torch.dtype] = {}
    for name in linears:
        key = f"{name}.weight"
        if key not in tensors or name.endswith(fp8_exclude):
            continue
        stored = tensors[key].dtype
        if name in scales and is_fp8(stored) and (dtype is None or is_fp8(dtype)):
            keep_fp8[name] = stored
        elif dtype is None and is_fp8(stored):
            keep_fp8[name] = stored
        elif dtype is not None and is_fp8(dtype):
            keep_fp8[name] = dtype
    swap_linears(module, {n: (tuple(scales[n].shape) if n in scales else None) for n in keep_fp8})
    keep_quantized = _quantized_linears(linears, tensors, dtype, fp8_exclude)
    swap_quantized(module, keep_quantized)

    plain = compute if dtype is None or is_fp8(dtype) else dtype
    state = {}
    for key, lazy in tensors.items():
        layer = key.rsplit(".", 1)[0]
        if key.endswith(".weight") and layer in keep_quantized:
            state[key] = lazy.quantized.raw().to(device)  # the blocks stay as they are: decoded per call
            continue
        t = lazy.load()
        if not t.is_floating_point():
            state[key] = t.to(device)
        elif key.endswith(".weight") and layer in keep_fp8:
            state[key] = t.to(device=device, dtype=keep_fp8[layer])
            if layer in scales:
                state[f"{layer}.scale_weight"] = scales[layer].load().to(device=device, dtype=torch.float32)
        else:
            if key.endswith(".weight") and layer in scales:
                t = t.to(torch.float32) * scales[layer].load().to(torch.float32)
            target = plain
            if plain == torch.float16 and any(part in keep_fp32 for part in layer.split(".")):
                target = torch.float32
            state[key] = t.to(device=device, dtype=target)
    module.load_state_dict(state, strict=False, assign=True)
    for source_name, other in tied.items():
        parent_name, _, child = other.rpartition(".")
        setattr(module.get_submodule(parent_name), child, module.get_parameter(source_name))
    module.to(device)
    leftovers = [n for n, p in (*module.named_parameters(), *module.named_buffers()) if p.device.type == "meta"]
    if leftovers:
        raise ModelLoadError(f"{source}: internal error, {what} tensors were not loaded: {first_keys(leftovers)}")
    module.requires_grad_(False)
    expansion = default_weight_expansion(module, device)
    if expansion is not None:  # fp8 layers: expand at first use (a memory manager may switch later)
        set_weight_expansion(module, expansion, now=False)
    return module.eval()
