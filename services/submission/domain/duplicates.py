"""Spotting a likely duplicate: the same or a very similar title by the same author.

Titles are compared without diacritics, case or punctuation, so "Cải tiến quy trình" and
"cai tien quy trinh." match; two titles are "very similar" when their word sequences agree at
SIMILARITY or more (difflib's ratio on words, which tolerates a word added or dropped).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from difflib import SequenceMatcher
from uuid import UUID

SIMILARITY = 0.85
_NOT_WORD = re.compile(r"[^\w]+")


def normalize_title(title: str) -> str:
    """Lower case, no diacritics (đ → d), no punctuation, single spaces."""
    decomposed = unicodedata.normalize("NFD", title.casefold().replace("đ", "d"))
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(_NOT_WORD.sub(" ", bare).split())


def similarity(normalized_a: str, normalized_b: str) -> float:
    """How alike two normalised titles are, from 0 to 1, by words."""
    if normalized_a == normalized_b:
        return 1.0
    words_a, words_b = normalized_a.split(), normalized_b.split()
    # difflib's ratio depends on argument order when words repeat; which title was registered
    # first must not decide whether the second is flagged.
    return max(
        SequenceMatcher(None, words_a, words_b).ratio(),
        SequenceMatcher(None, words_b, words_a).ratio(),
    )


def likely_duplicate(normalized_title: str, candidates: Iterable[tuple[UUID, str]]) -> UUID | None:
    """The most similar candidate (id, normalised title) at SIMILARITY or above, if any."""
    best: tuple[float, UUID] | None = None
    for candidate_id, candidate_title in candidates:
        score = similarity(normalized_title, candidate_title)
        if score >= SIMILARITY and (best is None or score > best[0]):
            best = (score, candidate_id)
    return best[1] if best else None
