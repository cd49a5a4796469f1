"""Throughput of the event codec (shared.events encode + decode) against plain json."""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

from shared.events import decode, encode

try:
    from bench._common import BASELINE, Figure, build_events, report, schedule
except ImportError:  # run as `python bench/codec.py`: bench/ itself is on sys.path
    from _common import BASELINE, Figure, build_events, report, schedule  # type: ignore[no-redef]

DESCRIPTION = """\
Events per second through the event codec, with no server.

Candidate: shared.events.encode (pydantic model_dump_json) then shared.events.decode
(UTF-8, JSON, the wire-key checks and pydantic validation of the whole envelope:
discriminated union, slugs, NFC normalisation, union_path rules).
Baseline: json.dumps + json.loads of the same events as plain dicts
(event.model_dump(mode="json")), written compact and unescaped so both sides handle the
same bytes.

The events are InitiativeSubmitted, each with its own event_id and title, built before
timing. Baseline and candidate runs alternate; the table shows the median of each and the
ratio candidate / baseline (below 1 means the codec is slower than bare json). Figures are
ratios because the machines are noisy: compare ratios between runs, not events per second.
Results also go to bench/results/codec.json.
"""


def _json_encode(document: dict[str, Any]) -> bytes:
    # Compact and unescaped, as model_dump_json writes: both sides produce the same bytes.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _timed(function: Callable[[Any], Any], items: list[Any]) -> tuple[list[Any], float]:
    # Start each pass with no garbage from the other side pending, so neither pays for it.
    gc.collect()
    started = time.perf_counter()
    results = [function(item) for item in items]
    return results, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    """Run the codec benchmark and print the table."""
    parser = argparse.ArgumentParser(
        prog="bench/codec.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=20_000, help="events per run (20000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each side (3)")
    args = parser.parse_args(argv)
    console = Console()

    events = build_events(args.events)
    documents = [event.model_dump(mode="json") for event in events]
    # Untimed warm-up: the first calls build caches (pydantic serialisers, json's scanner).
    for event in events[:500]:
        decode(encode(event))
    for document in documents[:500]:
        json.loads(_json_encode(document))

    encode_rate = Figure("encode", "events/s")
    decode_rate = Figure("decode", "events/s")
    both_rate = Figure("encode + decode", "events/s")
    wire_bytes = {}
    for round_, side in schedule(args.rounds):
        if side == BASELINE:
            raws, encode_s = _timed(_json_encode, documents)
            decoded, decode_s = _timed(json.loads, raws)
            ok = decoded == documents
        else:
            raws, encode_s = _timed(encode, events)
            decoded, decode_s = _timed(decode, raws)
            ok = decoded == events
        if not ok:
            console.print(f"[red]{side} round {round_}: decoded events differ from the originals")
            sys.exit(1)
        wire_bytes[side] = sum(map(len, raws))
        encode_rate.add(side, args.events / encode_s)
        decode_rate.add(side, args.events / decode_s)
        both_rate.add(side, args.events / (encode_s + decode_s))
        console.print(
            f"{side:>9} round {round_}: {encode_s + decode_s:.2f} s "
            f"(encode {encode_s:.2f} + decode {decode_s:.2f}), round trips checked"
        )

    report(
        console,
        "codec",
        title=f"Event codec, {args.events:,} InitiativeSubmitted events",
        baseline="json.dumps + json.loads of event.model_dump(mode='json') dicts",
        baseline_label="json.dumps + json.loads of the same events as dicts",
        candidate="shared.events.encode + decode (pydantic validation of the envelope)",
        figures=[encode_rate, decode_rate, both_rate],
        parameters={
            "events": args.events,
            "rounds": args.rounds,
            "bytes_per_event": {side: size / args.events for side, size in wire_bytes.items()},
        },
    )


if __name__ == "__main__":
    main()
