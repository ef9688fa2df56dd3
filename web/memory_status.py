"""The memory manager's decisions of one run, as short sentences for the canvas's run status.

The manager keeps every decision in ``events`` (policy chosen, evictions, streaming, RAM releases, fp8
expansion, pinning, tiled VAE work); users of ComfyUI mostly see their effect (slow steps, reloads) and
never the reason. The runner takes a mark before a run and sends the events after it with each state
(``state["memory"]``); ``web/static/memory.js`` shows them next to the run status.
"""
from __future__ import annotations

from typing import Any

from flux_core.memory.budget import describe

MAX_LINES = 60  # a run's list stays small in the streamed state; the headline counts everything


def memory_mark(executor: Any) -> int:
    """Where this run's memory events will start (the manager lives across runs, its events too)."""
    manager = getattr(executor.env, "memory", None)
    return len(manager.events) if manager is not None else 0


def _line(event: dict) -> str:
    kind, model = event.get("event"), event.get("model", "")
    size = describe(event["bytes"]) if isinstance(event.get("bytes"), int) else ""
    if kind == "adopted":
        return f"{model} loaded ({size}, {event.get('blocks', 0)} blocks)"
    if kind == "plan":
        pinned = ", pinned CPU copies" if event.get("pinned") else ""
        return f"{model}: {event.get('detail', event.get('policy'))}{pinned} (device budget {event.get('budget')})"
    if kind == "evicted":
        return f"{model} left the device ({size}): {event.get('reason', '')}"
    if kind == "released":
        return f"{model} released from RAM ({size}): RAM budget"
    if kind == "reloaded":
        return f"{model} read again from its file ({size})"
    if kind == "fp8 expansion":
        kept = f", keeps {size}" if event.get("mode") == "once" and size else ""
        return f"{model}: fp8 weights expanded {'once' if event.get('mode') == 'once' else 'per layer'}{kept}"
    if kind == "pinned":
        return f"{model}: {event.get('blocks')} streamed blocks pinned ({size})"
    if kind == "shares":
        return f"{model} shares the weights of {', '.join(event.get('bases', []))} (its own tensors: {size})"
    if kind == "dropped":
        return f"{model} dropped (no longer used)"
    rest = ", ".join(f"{k} {v}" for k, v in event.items() if k not in ("event", "model"))
    return f"{kind}: {model}{' - ' if model and rest else ''}{rest}"


def memory_status(executor: Any, mark: int = 0) -> dict | None:
    """This run's memory decisions: a headline (policies, evictions, releases), the budgets and the lines;
    None when no model was ever managed. A run that changed nothing (its models already placed) says so."""
    manager = getattr(executor.env, "memory", None)
    if manager is None:
        return None
    events = list(manager.events[mark:])
    policies: dict[str, str] = {}
    for e in events:
        if e.get("event") == "plan":
            policies[e.get("model", "?")] = e.get("policy", "?")
    count = {k: sum(1 for e in events if e.get("event") == k) for k in ("evicted", "released", "reloaded")}
    report = manager.report()
    parts = [", ".join(f"{m} {p}" for m, p in policies.items())] if policies else []
    parts += [f"{n} {'eviction' if k == 'evicted' else k}{'s' if n != 1 and k == 'evicted' else ''}"
              for k, n in count.items() if n]
    budgets = f"device {report['device']} budget {describe(report['vram_budget'])}, " \
              f"RAM budget {describe(report['ram_budget'])}"
    lines = [_line(e) for e in events]
    if len(lines) > MAX_LINES:
        lines = lines[:MAX_LINES // 2] + [f"... {len(lines) - MAX_LINES} more ..."] + lines[-MAX_LINES // 2:]
    headline = "; ".join(p for p in parts if p) or ("no change: the models were already in place" if not events
                                                    else "models loaded")
    return {"headline": headline, "budgets": budgets,
            "peak_device": describe(report["peak_device_bytes"]), "lines": lines,
            "kinds": sorted({str(e.get("event")) for e in events}), "policies": policies}
