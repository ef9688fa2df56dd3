"""Real-size FLUX.1 dev on the CPU, 256², one step: time per node and peak RSS, with and without a RAM budget.

Not part of ``make bench`` (it needs ~17 GB of disk for the fp8 files written by ``realsize_models.py``,
~18 GB of RAM and, on 2 cores, most of an hour). Each run is a fresh process; the RAM budget run gives
the manager a budget just above the largest model, below the sum of the models, so it must keep only what
the running node needs. Target: peak RSS with the budget <= largest model file + 2 GB.

    python bench/realsize_ram.py MODELS_DIR [--write] [--scale 1] [--bf16]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
GB = 1 << 30

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from flux_core import Executor
sys.path.insert(0, {root!r})
doc = json.loads(Path({root!r}, "workflows", "flux-dev.json").read_text())
for node in doc["nodes"]:
    w = node["widgets"]
    if node["type"] == "EmptyLatent":
        w.update(width=256, height=256)
    if node["type"] == "Scheduler":
        w.update(steps=1)
    if node["type"] == "LoadDiffusionModel":
        w.update(model_name={transformer!r})
    if node["type"] == "LoadTextEncoders":
        w.update(t5_name={t5!r}, clip_name="clip_l.safetensors")
t0 = time.time()
executor = Executor(models_dir={models!r}, output_dir={out!r}, device="cpu", ram_budget={ram!r})
result = executor.run(doc)
types = {{str(n["id"]): n["type"] for n in doc["nodes"]}}
events = executor.env.memory.events
print(json.dumps({{"seconds": time.time() - t0,
                  "timings": {{f"{{types.get(str(k), k)}}#{{k}}": v for k, v in result.timings.items()}},
                  "fp8_expansion": [(e["model"], e["mode"]) for e in events if e["event"] == "fp8 expansion"],
                  "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "released": [e["model"] for e in executor.env.memory.events if e["event"] == "released"],
                  "reloaded": [e["model"] for e in executor.env.memory.events if e["event"] == "reloaded"]}}))
"""


def run_once(models: Path, names: dict, ram: int | None) -> dict:
    code = CHILD.format(root=str(ROOT), transformer=names["transformer"].name, t5=names["t5"].name,
                        models=str(models), out=str(models.parent / "realsize-out"), ram=ram)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models_dir", nargs="?", default=str(ROOT / "bench-models"))
    parser.add_argument("--write", action="store_true", help="write the random real-size files first")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--only", choices=("budget", "none"), help="run only the RAM-budget run or the unlimited one")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "bench"))
    from realsize_models import write_models

    models = Path(args.models_dir)
    if args.write:
        write_models(models, args.bf16, args.scale)
    names = {
        "transformer": models / "diffusion_models" / ("flux1-dev.safetensors" if args.bf16
                                                      else "flux1-dev-fp8-e4m3fn.safetensors"),
        "t5": models / "text_encoders" / ("t5xxl_fp16.safetensors" if args.bf16 else "t5xxl_fp8_e4m3fn.safetensors"),
        "clip": models / "text_encoders" / "clip_l.safetensors",
        "vae": models / "vae" / "ae.safetensors",
    }
    missing = [str(p) for p in names.values() if not p.exists()]
    if missing:
        print(f"missing {missing}: run with --write (needs ~17 GB of disk at scale 1)")
        return
    sizes = {k: p.stat().st_size for k, p in names.items()}
    largest = max(sizes.values())
    ram = largest + (largest // 10)
    print(f"models: {', '.join(f'{k} {v / GB:.2f} GB' for k, v in sizes.items())}; RAM budget {ram / GB:.2f} GB", flush=True)
    runs = [("RAM budget", ram), ("no RAM budget", None)]  # the bounded run first: it cannot starve the machine
    runs = [r for r in runs if args.only is None or (r[1] is None) == (args.only == "none")]
    for label, budget in runs:
        r = run_once(models, names, budget)
        per_node = ", ".join(f"{k} {v:.1f}s" for k, v in r["timings"].items())
        target = "" if budget is None else \
            f" (target <= largest + 2 GB = {(largest + 2 * GB) / GB:.2f} GB: " \
            f"{'ok' if r['peak_rss_bytes'] <= largest + 2 * GB else 'MISSED'})"
        print(f"{label}: {r['seconds']:.1f}s, peak RSS {r['peak_rss_bytes'] / GB:.2f} GB{target}")
        print(f"  per node: {per_node}")
        if r["released"]:
            print(f"  released {r['released']}, reloaded {r['reloaded']}")
        if r["fp8_expansion"]:
            print(f"  fp8 expansion {r['fp8_expansion']}")
        print(f"  json {json.dumps(r)}", flush=True)


if __name__ == "__main__":
    main()
