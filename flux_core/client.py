"""A small Python client for fluxwire's HTTP API (standard library only, so scripts need nothing else).

    from flux_core.client import Client          # also importable as fluxwire.client
    result = Client("http://127.0.0.1:7861").run(document, {"noise.seed": 7})
    for picture in result["images"]: ...         # bytes of every result picture

Each `Client` has its own client id, so its jobs (and `jobs()`) are its own on a shared server.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Iterator


class ApiError(RuntimeError):
    """The server refused a request; `problems` lists what is wrong (node, input, message)."""

    def __init__(self, status: int, message: str, problems: list | None = None):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.problems = status, problems or []


class JobFailed(RuntimeError):
    """A job ended without success; `record` is the job as the server reported it."""

    def __init__(self, record: dict):
        error = record.get("error") or {}
        where = f" at node {error.get('node')!r}" + (f", input {error['input']!r}" if error.get("input") else "") \
            if error.get("node") else ""
        super().__init__(f"job {record.get('id')} {record.get('status')}{where}: {record.get('message', '')}")
        self.record = record


class Client:
    def __init__(self, url: str, token: str | None = None, client_id: str | None = None, timeout: float = 60.0):
        self.url = url.rstrip("/")
        self.token = token
        self.client_id = client_id or uuid.uuid4().hex
        self.timeout = timeout

    # --- plumbing ---------------------------------------------------------------------------------
    def _request(self, method: str, path: str, body: Any = None, params: dict | None = None,
                 timeout: float | None = None, raw: bool = False):
        url = self.url + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        headers = {"X-Fluxwire-Client": self.client_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as e:
            text = e.read().decode("utf-8", "replace")
            try:
                answer = json.loads(text)
            except ValueError:
                answer = {"error": text}
            raise ApiError(e.code, str(answer.get("error") or answer.get("detail") or text),
                           answer.get("problems")) from None
        return payload if raw else json.loads(payload)

    # --- jobs -------------------------------------------------------------------------------------
    def submit(self, document: dict, overrides: dict | None = None, outputs: list[str] | None = None) -> str:
        """Queue a document (fluxwire or ComfyUI format) with widget overrides; the job id."""
        return self._request("POST", "/api/jobs", {"workflow": document, "overrides": overrides or {},
                                                   "outputs": outputs})["id"]

    def job(self, job_id: str) -> dict:
        return self._request("GET", f"/api/jobs/{job_id}")

    def wait(self, job_id: str, timeout: float | None = None) -> dict:
        """The job's record once it has ended (or as it is when `timeout` seconds have passed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 30.0 if deadline is None else max(0.0, min(30.0, deadline - time.monotonic()))
            record = self._request("GET", f"/api/jobs/{job_id}/wait", params={"timeout": left}, timeout=left + 30)
            if record["status"] not in ("queued", "running") or (deadline and time.monotonic() >= deadline):
                return record

    def run(self, document: dict, overrides: dict | None = None, outputs: list[str] | None = None,
            timeout: float | None = None, images: bool = True) -> dict:
        """Submit, wait, and return the result; raises JobFailed unless it succeeded. With `images`, the
        result's "images" holds the bytes of every picture the output nodes made, in node order."""
        record = self.wait(self.submit(document, overrides, outputs), timeout)
        if record["status"] != "success":
            raise JobFailed(record)
        if images:
            record["images"] = [self.download(ref) for node in record.get("outputs", {}).values()
                                for ref in node.get("images", [])]
        return record

    def cancel(self, job_id: str) -> bool:
        return self._request("DELETE", f"/api/jobs/{job_id}")["cancelled"]

    def jobs(self) -> list[dict]:
        return self._request("GET", "/api/jobs")["jobs"]

    def events(self, job_id: str) -> Iterator[dict]:
        """The job's events (Server-Sent Events) from the first until it ends."""
        headers = {"Accept": "text/event-stream", "X-Fluxwire-Client": self.client_id}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(f"{self.url}/api/jobs/{job_id}/events", headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            for line in response:
                if line.startswith(b"data: "):
                    yield json.loads(line[6:])

    def download(self, ref: dict, to: str | Path | None = None) -> bytes:
        """A result picture ({filename, subfolder, type} from a job's outputs); also saved when `to` is given."""
        data = self._request("GET", "/api/view", params={k: ref.get(k, "") for k in ("filename", "subfolder", "type")},
                             raw=True)
        if to is not None:
            Path(to).write_bytes(data)
        return data

    # --- the queue --------------------------------------------------------------------------------
    def queue(self) -> dict:
        return self._request("GET", "/api/queue")

    def pause(self) -> dict:
        return self._request("POST", "/api/queue/pause")

    def resume(self) -> dict:
        return self._request("POST", "/api/queue/resume")

    def move(self, job_id: str, position: int) -> dict:
        return self._request("POST", f"/api/queue/{job_id}/move", {"position": position})

    def clear(self, mine: bool = False) -> list[str]:
        return self._request("POST", "/api/queue/clear", params={"mine": "true"} if mine else None)["cancelled"]

    def nodes(self) -> dict:
        return self._request("GET", "/api/nodes")

    def models(self, folder: str | None = None) -> Any:
        return self._request("GET", f"/api/models/{folder}" if folder else "/api/models")
