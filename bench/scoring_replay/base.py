"""bench/_common's names, however the script was started, and uvloop when it is installed."""

from __future__ import annotations

try:
    from bench._common import (
        CAMPAIGN,
        ICT,
        RESULTS_DIR,
        ROOT,
        Aim,
        _git_revision,
        headline,
        machine,
        write_results,
    )
except ImportError:  # run as `python bench/scoring.py`: bench/ itself is on sys.path
    from _common import (  # type: ignore[no-redef]
        CAMPAIGN,
        ICT,
        RESULTS_DIR,
        ROOT,
        Aim,
        _git_revision,
        headline,
        machine,
        write_results,
    )

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it; plain asyncio otherwise
    uvloop = None

__all__ = [
    "CAMPAIGN",
    "ICT",
    "RESULTS_DIR",
    "ROOT",
    "Aim",
    "_git_revision",
    "headline",
    "machine",
    "uvloop",
    "write_results",
]
