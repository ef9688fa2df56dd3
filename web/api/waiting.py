"""Jobs accepted but not yet finished, kept on disk so a restart does not lose them.

A job is written here when it is queued, marked when it starts and deleted when it ends. After a
restart (or a crash) the server reads the file back: jobs that were still waiting are queued again, in
the order they were submitted, under their old ids and owners; a job that was running when the server
stopped cannot be resumed half-way and is reported as failed ("server stopped") instead of vanishing.

The rows live in the history's SQLite file (a table of their own), so one file holds the server's jobs.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .history import FILE_NAME


@dataclass
class StoredJob:
    id: str
    owner: str
    created: float
    state: str  # queued | running
    document: dict
    overrides: dict
    outputs: list[str] | None


class WaitingStore:
    def __init__(self, folder: str | Path):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / FILE_NAME
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS pending (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "id TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, created REAL NOT NULL, "
                         "state TEXT NOT NULL, request TEXT NOT NULL)")

    def add(self, job_id: str, owner: str, created: float, document: dict, overrides: dict,
            outputs: list[str] | None) -> None:
        request = json.dumps({"document": document, "overrides": overrides, "outputs": outputs})
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO pending (id, owner, created, state, request) "
                             "VALUES (?, ?, ?, 'queued', ?)", (job_id, owner, created, request))

    def started(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE pending SET state = 'running' WHERE id = ?", (job_id,))

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE id = ?", (job_id,))

    def load(self) -> list[StoredJob]:
        """Every stored job, in submission order."""
        with self._lock:
            rows = self._db.execute("SELECT id, owner, created, state, request FROM pending ORDER BY seq").fetchall()
        jobs = []
        for job_id, owner, created, state, request in rows:
            try:
                data = json.loads(request)
            except ValueError:  # a damaged row: it cannot run, and must not stop the others
                data = {"document": {}, "overrides": {}, "outputs": None}
            jobs.append(StoredJob(job_id, owner, created, state, data.get("document"), data.get("overrides") or {},
                                  data.get("outputs")))
        return jobs

    def close(self) -> None:
        with self._lock:
            self._db.close()
