"""Writes files in a loop until it is killed (the kill -9 tests run it as a subprocess).

    python kill_writer.py png|document|upload FOLDER

Prints one line per finished write, so the test knows the loop is under way before it kills."""
import base64
import io
import json
import sys
from pathlib import Path


def big_document(i: int) -> dict:
    nodes = [{"id": f"n{k}", "type": "FloatValue", "widgets": {"value": float(i), "note": "x" * 200}}
             for k in range(4000)]
    return {"format": "fluxwire.workflow", "version": 1, "metadata": {"generation": i}, "nodes": nodes, "links": []}


def main(mode: str, folder: Path) -> None:
    from PIL import Image

    if mode == "png":
        from nodes.flux.image import _write_png

        text = json.dumps(big_document(0))
        for i in range(10**6):
            pil = Image.effect_noise((640, 640), 40 + i % 50).convert("RGB")
            print(_write_png(pil, folder, "killed/fluxwire", text, f"seed: {i}"), flush=True)
    elif mode == "document":
        from flux_core.graph.workflow import save_document

        for i in range(10**6):
            save_document(big_document(i), folder / "saved.json")
            print(i, flush=True)
    elif mode == "upload":
        from flux_core import Executor
        from web.canvas import save_uploaded_image

        executor = Executor(output_dir=folder / "out", input_dir=folder)
        for i in range(10**6):
            buf = io.BytesIO()
            Image.effect_noise((512, 512), 40 + i % 50).convert("RGB").save(buf, "PNG", compress_level=1)
            answer = save_uploaded_image({"name": f"upload-{i}.png", "data": base64.b64encode(buf.getvalue()).decode()},
                                         executor)
            print(answer["name"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
