"""The scoring Lua scripts, each with the ranking functions both of them use prepended."""

from __future__ import annotations

from importlib.resources import files

_HERE = files("services.scoring.adapters")


def script_source(name: str) -> str:
    """The text of ``name`` (a .lua file beside this module) after ranking.lua's functions."""
    prelude = _HERE.joinpath("ranking.lua").read_text(encoding="utf-8")
    return prelude + "\n" + _HERE.joinpath(name).read_text(encoding="utf-8")
