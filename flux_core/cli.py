"""The `fluxwire` command: run, validate, nodes, serve.

Heavy libraries (torch, gradio) are imported only by the commands that need them, so
``fluxwire --help`` answers at once. Exit codes: 0 success, 2 invalid workflow or arguments, 1 a node failed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


def _byte_size(text: str) -> int:
    """argparse type of --cache-bytes: the same sizes FLUXWIRE_CACHE_BYTES accepts."""
    from .graph.cache import SettingError, parse_byte_size

    try:
        return parse_byte_size(text, "--cache-bytes")
    except SettingError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _device(text: str) -> str:
    from .device import VALID_DEVICES

    if text.split(":")[0] not in VALID_DEVICES or not text.split(":")[-1]:
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use one of {', '.join(VALID_DEVICES)} "
                                         f"(cuda:1 picks a GPU)")
    return text


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number; use a whole number from 0 to 65535")
    return port


def _environment_problems() -> list[str]:
    """Environment settings that cannot be used, each as one sentence (checked before any work)."""
    from .graph.cache import SettingError, parse_byte_size
    from .device import VALID_DEVICES

    problems = []
    size = os.environ.get("FLUXWIRE_CACHE_BYTES")
    if size is not None and size.strip():
        try:
            parse_byte_size(size, "FLUXWIRE_CACHE_BYTES")
        except SettingError as e:
            problems.append(str(e))
    device = os.environ.get("FLUXWIRE_DEVICE")
    if device:
        try:
            _device(device)
        except argparse.ArgumentTypeError:
            problems.append(f"FLUXWIRE_DEVICE is {device!r}; expected one of {', '.join(VALID_DEVICES)} "
                            f"(cuda:1 picks a GPU)")
    return problems


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fluxwire", description="Node-based workflows for FLUX.1 image generation.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common(sp):
        sp.add_argument("--nodes-dir", default=None, help="folder of extra node packs (default ./custom_nodes)")
        sp.add_argument("--models-dir", default=None,
                        help="models folder (default $FLUXWIRE_MODELS_DIR or ./models)")
        sp.add_argument("--library-dir", default=None,
                        help="your subgraph library (default $FLUXWIRE_LIBRARY_DIR or ./library)")
        sp.add_argument("--extra-model-paths", default=None, metavar="FILE",
                        help="also search the folders of a ComfyUI extra_model_paths.yaml")

    def memory_flags(sp):
        sp.add_argument("--vram-budget", default=None, metavar="SIZE",
                        help="device memory for model weights: a size (12GB), auto, or high/normal/low/no-vram "
                             "(default $FLUXWIRE_VRAM_BUDGET, else auto); see docs/memory.md")
        sp.add_argument("--ram-budget", default=None, metavar="SIZE",
                        help="RAM for loaded models; idle ones are released and re-read when needed "
                             "(default $FLUXWIRE_RAM_BUDGET, else unlimited)")

    run = sub.add_parser("run", help="run a workflow file (.json or a fluxwire .png)")
    memory_flags(run)
    run.add_argument("workflow")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="ID.INPUT=VALUE",
                     help="change a widget value for this run (repeatable)")
    run.add_argument("--output", dest="outputs", action="append", default=None, metavar="NODE_ID",
                     help="run only what this output node needs (repeatable)")
    run.add_argument("--output-dir", default="output", help="where output nodes write files (default ./output)")
    run.add_argument("--device", type=_device, default=None, help="cpu, cuda, mps or auto (default: auto)")
    run.add_argument("--json", action="store_true", help="print one JSON object with the result on stdout")
    run.add_argument("--cache-bytes", type=_byte_size, default=None,
                     help="memory budget of the result cache, e.g. 8GB, 512MiB, 1e9 (default: half the RAM, "
                          "or $FLUXWIRE_CACHE_BYTES)")
    common(run)

    val = sub.add_parser("validate", help="check a workflow file and list every problem")
    val.add_argument("workflow")
    val.add_argument("--json", action="store_true")
    common(val)

    export = sub.add_parser("export", help="write a workflow in another tool's format")
    export.add_argument("workflow")
    target = export.add_mutually_exclusive_group(required=True)
    target.add_argument("--comfyui-api", action="store_true",
                        help="as a ComfyUI API prompt (every node needs a ComfyUI twin)")
    target.add_argument("--comfyui-ui", action="store_true",
                        help="as a ComfyUI UI workflow (schema 0.4, what ComfyUI's Save writes; keeps modes, "
                             "layout, groups and reroutes)")
    export.add_argument("-o", "--output", default=None, help="file to write (default: standard output)")
    common(export)

    nodes = sub.add_parser("nodes", help="list the available node types")
    nodes.add_argument("--json", action="store_true", help="the full catalogue as JSON")
    common(nodes)

    serve = sub.add_parser("serve", help="start the canvas in the browser")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_port, default=7860)
    serve.add_argument("--output-dir", default="output")
    serve.add_argument("--root-path", default="", help="sub-path when served behind a proxy")
    serve.add_argument("--device", type=_device, default=None)
    memory_flags(serve)
    api_flags(serve)
    common(serve)

    sweep = sub.add_parser("sweep", help="run a workflow once per cell of a grid of overrides (docs/api.md)")
    memory_flags(sweep)
    sweep.add_argument("workflow")
    sweep.add_argument("--vary", action="append", default=[], metavar="ID.INPUT=VALUES",
                       help="an axis of the grid: 1..100, 1..100..10, a,b,c or @file.txt (repeatable)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="ID.INPUT=VALUE",
                       help="change a widget value in every cell (repeatable)")
    sweep.add_argument("--output", dest="outputs", action="append", default=None, metavar="NODE_ID")
    sweep.add_argument("--output-dir", default="output")
    sweep.add_argument("--device", type=_device, default=None)
    sweep.add_argument("--json", action="store_true", help="print the manifest as JSON on stdout")
    sweep.add_argument("--ray", default=None, metavar="auto|ADDRESS|local",
                       help="run the cells on a Ray cluster (pip install 'fluxwire[ray]'); local starts one here")
    sweep.add_argument("--ray-actors", type=int, default=2, help="long-lived actors, each keeping models loaded")
    sweep.add_argument("--ray-gpus", type=float, default=0, help="GPUs per actor (1: one actor per GPU)")
    common(sweep)

    api = sub.add_parser("api", help="serve the HTTP API only, without the canvas (docs/api.md)")
    api.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    api.add_argument("--port", type=_port, default=7861)
    api.add_argument("--output-dir", default="output")
    api.add_argument("--input-dir", default="input")
    api.add_argument("--device", type=_device, default=None)
    memory_flags(api)
    api_flags(api)
    common(api)
    return p


def api_flags(sp):
    sp.add_argument("--api-token", default=None, metavar="TOKEN",
                    help="token every API request must carry (required off 127.0.0.1: one is generated and "
                         "printed when not given)")
    sp.add_argument("--comfyui-compat", action="store_true",
                    help="also answer ComfyUI's API (POST /prompt, GET /history/ID, GET /view, /ws)")
    sp.add_argument("--ray", default=None, metavar="auto|ADDRESS|local",
                    help="run the API's jobs on Ray actors (pip install 'fluxwire[ray]'); local starts a cluster here")
    sp.add_argument("--ray-actors", type=int, default=2, help="long-lived actors, each keeping its models loaded")
    sp.add_argument("--ray-cpus", type=float, default=1, help="CPUs per actor")
    sp.add_argument("--ray-gpus", type=float, default=0, help="GPUs per actor (1: one actor per GPU)")


def _ray_pool(args, input_dir=None):
    """The `--ray` actors of `fluxwire api`/`serve`, or None without `--ray`."""
    if not args.ray:
        return None
    from web.api.ray_jobs import RayPool

    return RayPool(address=args.ray, actors=args.ray_actors, actor_cpus=args.ray_cpus, actor_gpus=args.ray_gpus,
                   models_dir=args.models_dir, nodes_dir=args.nodes_dir, input_dir=input_dir, device=args.device)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return EXIT_INVALID
    if getattr(args, "models_dir", None):
        os.environ["FLUXWIRE_MODELS_DIR"] = args.models_dir
    if getattr(args, "library_dir", None):
        os.environ["FLUXWIRE_LIBRARY_DIR"] = args.library_dir
    if getattr(args, "extra_model_paths", None):
        from .interop.comfyui.model_paths import ExtraPathsError, use_extra_paths

        try:
            use_extra_paths(args.extra_model_paths)
        except ExtraPathsError as e:
            print(f"error: --extra-model-paths: {e}", file=sys.stderr)
            return EXIT_INVALID
    from .graph.cache import SettingError

    bad_settings = _environment_problems()
    for problem in bad_settings:
        print(f"error: {problem}", file=sys.stderr)
    if bad_settings:
        return EXIT_INVALID
    if not _apply_memory_flags(args):
        return EXIT_INVALID
    try:
        return {"run": cmd_run, "validate": cmd_validate, "nodes": cmd_nodes, "serve": cmd_serve,
                "export": cmd_export, "api": cmd_api, "sweep": cmd_sweep}[args.command](args)
    except SettingError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `fluxwire nodes | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _registry(args):
    from .graph.registry import default_registry

    registry = default_registry(args.nodes_dir)
    for problem in registry.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return registry


def _parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            from .graph.workflow import Problem, WorkflowError

            raise WorkflowError([Problem(f"--set {pair!r} must look like NODE_ID.INPUT=VALUE", code="bad_override")])
        out[key.strip()] = value
    return out


def _print_problems(err, as_json: bool) -> None:
    if as_json:
        print(json.dumps(err.to_dict(), indent=2))
    else:
        print(str(err), file=sys.stderr)


def cmd_validate(args) -> int:
    from .graph.node_modes import apply_modes
    from .graph.validation import check
    from .graph.workflow import WorkflowError, read_document
    from .graph.context import Environment

    registry = _registry(args)
    try:
        workflow = read_document(args.workflow)
        check(apply_modes(workflow, registry), registry,
              Environment(models_dir=args.models_dir, library_dir=args.library_dir))
    except WorkflowError as e:
        e.source = e.source or args.workflow
        _print_problems(e, args.json)
        return EXIT_INVALID
    except Exception as e:  # a bug in fluxwire or a node pack; still a refusal, in one sentence, not a traceback
        _print_problems(_unchecked(e, args.workflow), args.json)
        return EXIT_INVALID
    if args.json:
        print(json.dumps({"valid": True, "nodes": len(workflow.nodes), "links": len(workflow.links)}))
    else:
        print(f"{args.workflow}: valid ({len(workflow.nodes)} nodes, {len(workflow.links)} links)")
    return EXIT_OK


def cmd_export(args) -> int:
    from .interop.comfyui.export import dumps_api_prompt, to_api_prompt
    from .interop.comfyui.export_ui import dumps_ui_workflow, to_ui_workflow
    from .graph.workflow import WorkflowError, read_document

    registry = _registry(args)
    try:
        if args.comfyui_ui:
            text = dumps_ui_workflow(to_ui_workflow(read_document(args.workflow), registry))
        else:
            text = dumps_api_prompt(to_api_prompt(read_document(args.workflow), registry))
    except WorkflowError as e:
        e.source = e.source or args.workflow
        _print_problems(e, False)
        return EXIT_INVALID
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _unchecked(error: Exception, source: str):
    """A WorkflowError for a document whose check itself failed (fail safe: refuse and say why)."""
    from .graph.workflow import Problem, WorkflowError

    return WorkflowError([Problem(f"the document could not be checked ({type(error).__name__}: {error}); "
                                  f"please report this", code="check_failed")], source)


def cmd_nodes(args) -> int:
    from .graph.context import Environment
    from .graph.types import catalogue_types

    from .graph.library import Library
    from .graph.subgraph_catalogue import library_catalogue

    registry = _registry(args)
    env = Environment(models_dir=args.models_dir, library_dir=args.library_dir)
    library_nodes, library_problems = library_catalogue(Library(args.library_dir), registry, env)
    if args.json:
        print(json.dumps({"nodes": registry.describe(env) + library_nodes, "types": catalogue_types(),
                          "problems": registry.problems + library_problems}, indent=2, default=str))
        return EXIT_OK
    category = None
    for cls in sorted(registry, key=lambda c: (c.category, c.type_name)):
        if cls.category != category:
            category = cls.category
            print(f"{category}:")
        print(f"  {cls.type_name:<22} {_first_sentence(cls.__doc__ or '')}")
    if library_nodes:
        print("library subgraphs (type Subgraph):")
        for entry in library_nodes:
            print(f"  {entry['subgraph']['library']:<22} {_first_sentence(entry['description'])}")
    for problem in library_problems:
        print(f"warning: {problem}", file=sys.stderr)
    return EXIT_OK


def _first_sentence(doc: str) -> str:
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    head, dot, _ = paragraph.partition(". ")
    return head + "." if dot else paragraph


class _ProgressBars:
    """One tqdm bar per long-running node, on stderr."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars = {}

    def __call__(self, event: dict) -> None:
        kind, node = event["type"], event.get("node")
        if kind == "node_progress" and self.enabled:
            from tqdm import tqdm

            bar = self.bars.get(node)
            if bar is None:
                bar = self.bars[node] = tqdm(total=event["max"], desc=f"{node} ({event['node_type']})",
                                             file=sys.stderr, leave=True)
            bar.total = event["max"]
            bar.n = event["value"]
            bar.refresh()
        elif kind in ("node_finished", "node_failed") and node in self.bars:
            self.bars.pop(node).close()
        elif kind == "node_failed":
            print(f"node {node!r} ({event['node_type']}) failed: {event['message']}", file=sys.stderr)

    def close(self):
        for bar in self.bars.values():
            bar.close()


def cmd_run(args) -> int:
    from .graph.executor import Executor, RunFailed, RunInterrupted
    from .graph.workflow import WorkflowError, read_document

    registry = _registry(args)
    executor = Executor(registry, models_dir=args.models_dir, output_dir=Path(args.output_dir),
                        device=args.device, cache_bytes=args.cache_bytes, library_dir=args.library_dir)
    bars = _ProgressBars(enabled=sys.stderr.isatty() or not args.json)
    started = []  # set once the run starts: an error before that is about the document
    listener = lambda event: (started.append(1) if event["type"] == "run_started" else None, bars(event))  # noqa: E731
    try:
        workflow = read_document(args.workflow)
        result = executor.run(workflow, overrides=_parse_overrides(args.overrides), outputs=args.outputs,
                              listener=listener)
    except WorkflowError as e:
        e.source = e.source or args.workflow
        _print_problems(e, args.json)
        return EXIT_INVALID
    except RunFailed as e:
        if args.json:
            print(json.dumps(e.result.summary(), indent=2, default=str))
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except RunInterrupted as e:
        if args.json:
            print(json.dumps(e.result.summary(), indent=2, default=str))
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as e:  # a bug, not the user's: one sentence, no traceback
        if not started:
            _print_problems(_unchecked(e, args.workflow), args.json)
            return EXIT_INVALID
        print(f"error: the run failed unexpectedly ({type(e).__name__}: {e}); please report this", file=sys.stderr)
        return EXIT_FAILED
    finally:
        bars.close()
    if args.json:
        print(json.dumps(result.summary(), indent=2, default=str))
        return EXIT_OK
    print(f"ran {len(result.executed)} nodes, {len(result.cached)} from cache")
    memory = _memory_line(executor)
    if memory:
        print(memory)
    for nid, ui in result.ui.items():
        for path in ui.get("images", []):
            print(f"{nid}: wrote {path}")
        if "text" in ui:
            print(f"{nid}: {ui['text']}")
    return EXIT_OK


def _apply_memory_flags(args) -> bool:
    """--vram-budget / --ram-budget become the FLUXWIRE_* variables every memory manager of the process reads."""
    given = [f for f in ("vram_budget", "ram_budget") if getattr(args, f, None) is not None]
    if not given:
        return True
    from .memory.budget import RAM_ENV, VRAM_ENV, BudgetError, parse_budget  # imports torch: only when asked

    for flag in given:
        value, env = getattr(args, flag), {"vram_budget": VRAM_ENV, "ram_budget": RAM_ENV}[flag]
        try:
            parse_budget(value)
        except BudgetError as e:
            print(f"error: --{flag.replace('_', '-')}: {e}", file=sys.stderr)
            return False
        os.environ[env] = value
    return True


def _memory_line(executor) -> str | None:
    """Device and RAM budgets of the run's models, next to the result cache's."""
    from .memory.budget import describe

    manager = executor.env.memory
    if manager is None:
        return None
    r = manager.report()
    return (f"memory: device {r['device']} budget {describe(r['vram_budget'])} (peak {describe(r['peak_device_bytes'])}"
            f", {describe(r['bytes_moved'])} moved), RAM budget {describe(r['ram_budget'])}, "
            f"result cache budget {describe(executor.cache.budget)}")


def cmd_serve(args) -> int:
    from .graph.workflow import WorkflowError

    if args.device:
        from .device import set_device

        set_device(args.device)
    from web.app import serve

    try:
        remote = _ray_pool(args)
    except WorkflowError as e:
        _print_problems(e, False)
        return EXIT_INVALID
    serve(host=args.host, port=args.port, models_dir=args.models_dir, output_dir=args.output_dir,
          nodes_dir=args.nodes_dir, root_path=args.root_path, api_token=args.api_token,
          comfyui_compat=args.comfyui_compat, remote=remote)
    return EXIT_OK


def cmd_sweep(args) -> int:
    """`fluxwire sweep`: every cell on one executor, so models load once; a grid picture and a manifest."""
    from .graph.executor import Executor
    from .sweep import grid, parse_vary, run_sweep, write_results
    from .graph.workflow import WorkflowError, read_document

    executor = Executor(_registry(args), models_dir=args.models_dir, output_dir=Path(args.output_dir),
                        device=args.device, library_dir=args.library_dir)
    try:
        axes = [parse_vary(spec, Path.cwd()) for spec in args.vary]
        workflow = read_document(args.workflow)

        def progress(cell):
            print(f"cell {cell.index + 1}: {cell.status} {cell.overrides}"
                  + (f" ({cell.error})" if cell.error else ""), file=sys.stderr)
        if args.ray:
            from .ray_sweep import RaySweep
            from .graph.workflow import dumps_document

            for cell in grid(axes):  # every cell checked here before any actor starts
                executor.validate(workflow, {**_parse_overrides(args.overrides), **cell.overrides})
            cells = RaySweep(json.loads(dumps_document(workflow)), axes, args.output_dir, address=args.ray,
                             actors=args.ray_actors, actor_gpus=args.ray_gpus,
                             base_overrides=_parse_overrides(args.overrides), outputs=args.outputs,
                             models_dir=args.models_dir, on_cell=lambda cell, _: progress(cell)).run()
        else:
            cells = run_sweep(executor, workflow, axes, base_overrides=_parse_overrides(args.overrides),
                              outputs=args.outputs, on_cell=progress)
    except WorkflowError as e:
        e.source = e.source or args.workflow
        _print_problems(e, args.json)
        return EXIT_INVALID
    written = write_results(cells, axes, args.output_dir)
    failed = sum(c.status != "success" for c in cells)
    if args.json:
        print(Path(written["manifest"]).read_text())
    print(f"{len(cells) - failed}/{len(cells)} cells done; grid {written['grid']}, manifest {written['manifest']}",
          file=sys.stderr)
    return EXIT_FAILED if failed else EXIT_OK


def cmd_api(args) -> int:
    """`fluxwire api`: the HTTP API alone (scripts, bots, other apps)."""
    from .graph.executor import Executor

    if args.device:
        from .device import set_device

        set_device(args.device)
    from web.api.server import serve_api

    from .graph.workflow import WorkflowError

    executor = Executor(_registry(args), models_dir=args.models_dir, output_dir=args.output_dir,
                        input_dir=args.input_dir)
    try:
        remote = _ray_pool(args, args.input_dir)
    except WorkflowError as e:
        _print_problems(e, False)
        return EXIT_INVALID
    serve_api(executor, host=args.host, port=args.port, token=args.api_token, comfyui_compat=args.comfyui_compat,
              remote=remote)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
