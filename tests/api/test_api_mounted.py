"""`fluxwire serve`: the API mounted next to the canvas, one queue for both."""
from __future__ import annotations

import httpx

from .conftest import QUICK, SLOW


def test_serve_mounts_the_api_next_to_the_canvas_on_one_queue(executor):
    from web.app import serve
    from web.jobs import board_for
    from tests.web.canvas_helpers import free_port

    port = free_port()
    _, url, _ = serve("127.0.0.1", port, executor=executor, block=False)
    demo_service = None
    try:
        base = url.rstrip("/")
        assert httpx.get(base + "/", timeout=30).status_code == 200  # the canvas page still there
        assert "/api/jobs" in httpx.get(base + "/api/openapi.json", timeout=30).json()["paths"]
        # a canvas run (through the same board) holds the executor; an API job waits behind it
        from web.runner import CanvasRunner, ImagePublisher

        runner = CanvasRunner(executor, ImagePublisher(executor.env.output_dir / "pub"), yield_interval=0.05)
        assert runner.board is board_for(executor)
        states = runner.run(SLOW, session="tab-1")
        state = next(states)
        while "running" not in state["message"]:
            state = next(states)
        with httpx.Client(base_url=base, headers={"X-Fluxwire-Client": "api-1"}, timeout=30) as http:
            job_id = http.post("/api/jobs", json={"workflow": QUICK}).json()["id"]
            queue = http.get("/api/queue").json()
            assert queue["running"]["api"] is False and [w["id"] for w in queue["waiting"]] == [job_id]
            assert runner.stop("tab-1")  # the canvas's Stop stops its own run only
            for state in states:
                pass
            assert state["status"] == "interrupted"
            record = http.get(f"/api/jobs/{job_id}/wait").json()
            assert record["status"] == "success" and record["outputs"]["w"]["text"] == "7"
    finally:
        import gradio as gr

        gr.close_all()
