"""Finished API jobs kept across restarts: a small SQLite file under the output folder.

Bounded: only the newest `limit` jobs are kept (older rows are deleted as new ones arrive), so a server
that runs for months does not grow a database without end. One connection guarded by a lock: writes are
one row per finished job, far below what SQLite handles.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

MAX_HISTORY = 1000
FILE_NAME = "fluxwire-history.sqlite3"


class History:
    def __init__(self, folder: str | Path, limit: int = MAX_HISTORY):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / FILE_NAME
        self.limit = limit
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, "
                         "id TEXT UNIQUE NOT NULL, owner TEXT NOT NULL, finished REAL NOT NULL, record TEXT NOT NULL)")
        self._db.execute("CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(owner)")

    def add(self, record: dict, owner: str) -> None:
        text = json.dumps(record, default=str)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO jobs (id, owner, finished, record) VALUES (?, ?, ?, ?)",
                             (record["id"], owner, record.get("finished") or 0.0, text))
            self._db.execute("DELETE FROM jobs WHERE seq <= (SELECT MAX(seq) FROM jobs) - ?", (self.limit,))

    def get(self, job_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def owner_of(self, job_id: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT owner FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row[0] if row else None

    def newest(self, count: int = 100, owner: str | None = None) -> list[dict]:
        """The newest finished jobs first; only this owner's when one is given."""
        with self._lock:
            if owner is None:
                rows = self._db.execute("SELECT record FROM jobs ORDER BY seq DESC LIMIT ?", (count,)).fetchall()
            else:
                rows = self._db.execute("SELECT record FROM jobs WHERE owner = ? ORDER BY seq DESC LIMIT ?",
                                        (owner, count)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]

    def delete(self, job_id: str) -> bool:
        with self._lock:
            return self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0

    def close(self) -> None:
        with self._lock:
            self._db.close()
