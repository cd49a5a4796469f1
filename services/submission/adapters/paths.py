"""Unit paths in one indexed text column: ``/root/…/unit/``, so a subtree is a prefix."""

from __future__ import annotations

from collections.abc import Sequence


def encode_path(path: Sequence[str]) -> str:
    """``["a", "b"]`` → ``"/a/b/"``."""
    return "/" + "/".join(path) + "/"


def decode_path(text: str) -> list[str]:
    """``"/a/b/"`` → ``["a", "b"]``."""
    return [part for part in text.split("/") if part]


def subtree_pattern(path: Sequence[str]) -> str:
    """A LIKE pattern matching the unit at ``path`` and everything below it."""
    return encode_path(path) + "%"
