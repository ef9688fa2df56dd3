"""Building on the meta device skips random fills of meta weights, and only those."""
import threading

import torch
from torch import nn

from flux_core.loading import build


def test_real_tensors_are_still_filled_inside_the_block():
    with build.parameters_on_meta():
        t = torch.zeros(1000)
        nn.init.normal_(t)
        layer = nn.Linear(8, 8)  # its parameters are on meta and stay unfilled
    assert t.abs().sum() > 0
    assert layer.weight.device.type == "meta"


def test_init_functions_are_restored_after_the_block():
    before = {name: getattr(nn.init, name) for name in build._INIT_FUNCTIONS}
    with build.parameters_on_meta():
        assert nn.init.kaiming_uniform_ is not before["kaiming_uniform_"]
        with build.parameters_on_meta():  # nested users share one patch
            pass
        assert nn.init.kaiming_uniform_ is not before["kaiming_uniform_"]
    assert {name: getattr(nn.init, name) for name in build._INIT_FUNCTIONS} == before


def test_another_thread_building_real_modules_meanwhile_gets_random_weights():
    inside, done = threading.Event(), threading.Event()
    out = {}

    def other():
        inside.wait()
        out["layer"] = nn.Linear(16, 16)  # built on the CPU while the main thread's block is open
        done.set()

    worker = threading.Thread(target=other)
    worker.start()
    with build.parameters_on_meta():
        inside.set()
        done.wait(30)
    worker.join()
    weight = out["layer"].weight
    assert weight.device.type == "cpu" and weight.std() > 0.05


def test_the_previous_path_still_fills_meta_weights_through_torch(monkeypatch):
    calls = []
    original = build._original_inits["kaiming_uniform_"]

    def counting(tensor, *args, **kwargs):
        calls.append(tensor.device.type)
        return original(tensor, *args, **kwargs)

    monkeypatch.setitem(build._original_inits, "kaiming_uniform_", counting)
    monkeypatch.setattr(nn.init, "kaiming_uniform_", counting)
    monkeypatch.setattr(build, "skip_meta_init", False)
    with build.parameters_on_meta():
        nn.Linear(4, 4)
    assert calls == ["meta"]
    calls.clear()
    monkeypatch.setattr(build, "skip_meta_init", True)
    with build.parameters_on_meta():
        nn.Linear(4, 4)
        nn.init.kaiming_uniform_(torch.empty(4, 4))  # a real tensor still reaches torch's function
    assert calls == ["cpu"]
