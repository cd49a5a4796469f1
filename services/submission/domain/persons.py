"""Pseudonymous keys for authors: stable per person, meaningless without the secret.

Counting distinct people needs one key per person; sending names on Kafka is not acceptable.
The key is an HMAC of the person's identifier (an employee or citizen id when the form has
one), or else of the name within the grassroots unit — two namesakes in one unit count as one,
the price of forms that carry only a name.
"""

from __future__ import annotations

import hashlib
import hmac

from services.submission.domain.duplicates import normalize_title


def person_key(secret: bytes, *, name: str, unit_id: str, identifier: str | None) -> str:
    """The author's key: ``p-`` and 24 hex digits of an HMAC-SHA256."""
    identifier = (identifier or "").strip().casefold()
    # A blank identifier is no identifier: otherwise every such author would be one person.
    basis = f"id:{identifier}" if identifier else f"name:{unit_id}:{normalize_title(name)}"
    return "p-" + hmac.new(secret, basis.encode(), hashlib.sha256).hexdigest()[:24]
