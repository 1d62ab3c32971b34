"""Where the benches keep what they measured: JSON records under `.bench/` (git-ignored)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / ".bench"


def save_json(path: Path, record: Mapping[str, Any], *, indent: int | None = 2) -> None:
    """Write `record` to `path`, its directory created, and say where it went.

    `indent=None` keeps a record of long sample lists to one line per file, not per number.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=indent) + "\n")
    print(f"\nResults written to {path}")
