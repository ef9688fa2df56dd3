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

    run = sub.add_parser("run", help="run a workflow file (.json or a fluxwire .png)")
    run.add_argument("workflow")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="ID.INPUT=VALUE",
                     help="change a widget value for this run (repeatable)")
    run.add_argument("--output", dest="outputs", action="append", default=None, metavar="NODE_ID",
                     help="run only what this output node needs (repeatable)")
    run.add_argument("--output-dir", default="output", help="where output nodes write files (default ./output)")
    run.add_argument("--device", default=None, help="cpu, cuda, mps or auto (default: auto)")
    run.add_argument("--json", action="store_true", help="print one JSON object with the result on stdout")
    run.add_argument("--cache-bytes", type=int, default=None,
                     help="memory budget of the result cache (default: half the RAM, or $FLUXWIRE_CACHE_BYTES)")
    common(run)

    val = sub.add_parser("validate", help="check a workflow file and list every problem")
    val.add_argument("workflow")
    val.add_argument("--json", action="store_true")
    common(val)

    export = sub.add_parser("export", help="write a workflow in another tool's format")
    export.add_argument("workflow")
    export.add_argument("--comfyui-api", action="store_true", required=True,
                        help="as a ComfyUI API prompt (every node needs a ComfyUI twin)")
    export.add_argument("-o", "--output", default=None, help="file to write (default: standard output)")
    common(export)

    nodes = sub.add_parser("nodes", help="list the available node types")
    nodes.add_argument("--json", action="store_true", help="the full catalogue as JSON")
    common(nodes)

    serve = sub.add_parser("serve", help="start the canvas in the browser")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--output-dir", default="output")
    serve.add_argument("--root-path", default="", help="sub-path when served behind a proxy")
    serve.add_argument("--device", default=None)
    common(serve)
    return p


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
    try:
        return {"run": cmd_run, "validate": cmd_validate, "nodes": cmd_nodes, "serve": cmd_serve,
                "export": cmd_export}[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `fluxwire nodes | head`: the reader left, nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


def _registry(args):
    from .registry import default_registry

    registry = default_registry(args.nodes_dir)
    for problem in registry.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return registry


def _parse_overrides(pairs: list[str]) -> dict:
    out = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq:
            from .workflow import Problem, WorkflowError

            raise WorkflowError([Problem(f"--set {pair!r} must look like NODE_ID.INPUT=VALUE", code="bad_override")])
        out[key.strip()] = value
    return out


def _print_problems(err, as_json: bool) -> None:
    if as_json:
        print(json.dumps(err.to_dict(), indent=2))
    else:
        print(str(err), file=sys.stderr)


def cmd_validate(args) -> int:
    from .node_modes import apply_modes
    from .validation import check
    from .workflow import WorkflowError, read_document
    from .context import Environment

    registry = _registry(args)
    try:
        workflow = read_document(args.workflow)
        check(apply_modes(workflow, registry), registry,
              Environment(models_dir=args.models_dir, library_dir=args.library_dir))
    except WorkflowError as e:
        e.source = e.source or args.workflow
        _print_problems(e, args.json)
        return EXIT_INVALID
    if args.json:
        print(json.dumps({"valid": True, "nodes": len(workflow.nodes), "links": len(workflow.links)}))
    else:
        print(f"{args.workflow}: valid ({len(workflow.nodes)} nodes, {len(workflow.links)} links)")
    return EXIT_OK


def cmd_export(args) -> int:
    from .interop.comfyui.export import dumps_api_prompt, to_api_prompt
    from .workflow import WorkflowError, read_document

    registry = _registry(args)
    try:
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


def cmd_nodes(args) -> int:
    from .context import Environment
    from .types import catalogue_types

    from .library import Library
    from .subgraph_catalogue import library_catalogue

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
    from .executor import Executor, RunFailed, RunInterrupted
    from .workflow import WorkflowError, read_document

    registry = _registry(args)
    executor = Executor(registry, models_dir=args.models_dir, output_dir=Path(args.output_dir),
                        device=args.device, cache_bytes=args.cache_bytes, library_dir=args.library_dir)
    bars = _ProgressBars(enabled=sys.stderr.isatty() or not args.json)
    try:
        workflow = read_document(args.workflow)
        result = executor.run(workflow, overrides=_parse_overrides(args.overrides), outputs=args.outputs,
                              listener=bars)
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
    finally:
        bars.close()
    if args.json:
        print(json.dumps(result.summary(), indent=2, default=str))
        return EXIT_OK
    print(f"ran {len(result.executed)} nodes, {len(result.cached)} from cache")
    for nid, ui in result.ui.items():
        for path in ui.get("images", []):
            print(f"{nid}: wrote {path}")
        if "text" in ui:
            print(f"{nid}: {ui['text']}")
    return EXIT_OK


def cmd_serve(args) -> int:
    if args.device:
        from .device import set_device

        set_device(args.device)
    from web.app import serve

    serve(host=args.host, port=args.port, models_dir=args.models_dir, output_dir=args.output_dir,
          nodes_dir=args.nodes_dir, root_path=args.root_path)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
