"""Sweeps on a local Ray cluster (2 CPU actors): same bytes as a serial sweep, a killed actor costs
nothing but a retry. Ray is in the test extra (users get it with fluxwire[ray]): missing, this fails."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_ray_sweep_matches_serial_bytes_and_survives_a_killed_actor(tmp_path, ray_cluster):
    from flux_core.graph.executor import Executor
    from flux_core.ray_sweep import RaySweep
    from flux_core.sweep import parse_vary, run_sweep

    (tmp_path / "prompts.txt").write_text("a large red circle on a blue background, center\n"
                                          "a small yellow star on a green background, left\n")
    axes = [parse_vary("noise.seed=1..2"), parse_vary("prompt.text=@prompts.txt", tmp_path)]
    document = json.loads((ROOT / "workflows" / "flux-mini.json").read_text())
    serial = run_sweep(Executor(output_dir=tmp_path / "serial"), document, axes)

    killed = []

    def kill_one(index, sweep):
        busy = [actor for _, actor in sweep.in_flight.values()]
        if not killed and busy:  # an actor dies mid-sweep, with a cell in flight
            killed.append(index)
            sweep.ray.kill(busy[0], no_restart=True)

    sweep = RaySweep(document, axes, tmp_path / "ray", actors=2, on_result=kill_one)
    cells = sweep.run()
    for actor in sweep.actors:  # free the cluster's CPUs for the next Ray test
        ray_cluster.kill(actor)
    assert killed and sweep.actors_replaced >= 1
    assert [c.status for c in cells] == ["success"] * 4
    written = sorted((tmp_path / "ray").glob("*.png"))
    assert len(written) == 4  # every cell once, no duplicates
    for mine, theirs in zip(cells, serial):
        assert Path(mine.images[0]).name == Path(theirs.images[0]).name
        assert Path(mine.images[0]).read_bytes() == Path(theirs.images[0]).read_bytes()
    assert max(sweep.attempts.values()) == 2 and sum(sweep.attempts.values()) == 5  # one cell retried once
