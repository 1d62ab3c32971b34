"""Structured JSON logs with a request id; never a secret value or a credential.

Nothing here redacts after the fact: the code simply never puts values, keys or tokens into
log records. Third-party loggers that could (MCP and HTTP client debug output carries tool
arguments and headers) are held at INFO or above whatever LOG_LEVEL says.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


@dataclass(slots=True)
class CallNotes:
    """What the code serving one call learnt for its audit line: names and ids, never values.

    The middleware sets a fresh one per request; `VaultClient` adds the `request_id` of each
    Vault answer, the Transit routes the caller's key name.
    """

    vault_request_ids: list[str] = field(default_factory=list)
    transit_key: str | None = None


# None outside a request (background token renewal): then nothing is collected.
call_notes_var: ContextVar[CallNotes | None] = ContextVar("call_notes", default=None)


def note_transit_key(key: str) -> None:
    """The Transit key name the current call uses, once `naming.check_transit_key` passed it."""
    notes = call_notes_var.get()
    if notes is not None:
        notes.transit_key = key


_NOISY = ("mcp", "fastapi_mcp", "sse_starlette", "aiohttp", "asyncio")
# One line per in-process MCP replay would double the access log; ours already has it.
_QUIET = ("httpx", "httpcore")
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class _DropExpectedMcpErrors(logging.Filter):
    """Two error lines the MCP libraries write in normal operation, dropped so that an error
    in our log means something: fastapi-mcp's "Error calling <tool>" for every 4xx tool result
    (the replayed request's own access line already has the status), and the MCP SDK's
    ClosedResourceError when a client ends its session."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "fastapi_mcp.server" and record.getMessage().startswith("Error calling"):
            return False
        exc_type = record.exc_info[0] if record.exc_info else None
        return not (
            record.name == "mcp.server.streamable_http"
            and exc_type is not None
            and exc_type.__name__ == "ClosedResourceError"
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per record. Every request writes an audit line, so the per-record cost
    counts: the timestamp's seconds part is formatted once per second, not per line."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": f"{self._utc_second(int(record.created))}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__  # type only: messages may carry input
        return json.dumps(entry, default=str)

    def _utc_second(self, second: int) -> str:
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return self._second_text


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_DropExpectedMcpErrors())
    # Our lines never show process, thread or multiprocessing names: skip looking them up
    # for every record (an os.getpid() and a thread lookup per line).
    logging.logProcesses = logging.logThreads = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in _NOISY:
        logging.getLogger(name).setLevel(max(logging.INFO, root.level))
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the access line is ours, with ids
