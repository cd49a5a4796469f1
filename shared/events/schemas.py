"""JSON Schema of every event type, exported to shared/schemas for consumers in any language.

Run ``python -m shared.events.schemas`` to write them, ``--check`` to list stale files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from shared.events.codec import EVENT_TYPES

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
SCHEMA_BASE_URL = "https://sangkien.congdoan.vn/schemas"
_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def schema_documents() -> dict[str, dict[str, Any]]:
    """One JSON Schema per event type, keyed by file name (``<type>.json``)."""
    documents = {}
    for event_type, cls in sorted(EVENT_TYPES.items()):
        # Validation mode: the schema states what decode() accepts, so a producer written in
        # another language can check its records before sending. Serialization mode would mark
        # every defaulted field (estimated_benefit_vnd, timezone, ...) required and refuse records
        # that our own decoder takes.
        schema = cls.model_json_schema(mode="validation")
        schema["$schema"] = _DIALECT
        schema["$id"] = f"{SCHEMA_BASE_URL}/{event_type}.json"
        schema["title"] = f"{cls.__name__} ({event_type})"
        documents[f"{event_type}.json"] = schema
    return documents


def render(schema: dict[str, Any]) -> str:
    """The exact text of a schema file: sorted keys, 2-space indent, UTF-8, final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def stale_files(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Schema files that are missing or differ from the models."""
    return [
        directory / name
        for name, schema in schema_documents().items()
        if not _has_text(directory / name, render(schema))
    ]


def main(argv: list[str] | None = None) -> int:
    """Write the schema files (or, with --check, list stale ones and exit 1)."""
    parser = argparse.ArgumentParser(prog="python -m shared.events.schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="list stale files, write nothing")
    parser.add_argument("--dir", type=Path, default=SCHEMA_DIR, help="output directory")
    args = parser.parse_args(argv)
    stale = stale_files(args.dir)
    if args.check:
        for path in stale:
            print(f"stale: {path}")
        if stale:
            print("run: python -m shared.events.schemas", file=sys.stderr)
        return 1 if stale else 0
    args.dir.mkdir(parents=True, exist_ok=True)
    documents = schema_documents()
    for path in stale:
        path.write_text(render(documents[path.name]), encoding="utf-8")
        print(f"wrote {path}")
    if not stale:
        print(f"up to date: {len(documents)} schemas in {args.dir}")
    return 0


def _has_text(path: Path, text: str) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == text


if __name__ == "__main__":
    sys.exit(main())
