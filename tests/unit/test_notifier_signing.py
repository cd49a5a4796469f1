"""Webhook signatures: what the notifier signs, and what a receiver's verify() accepts."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.signing import DEFAULT_TOLERANCE_SECONDS, sign, verify

SECRET = b"whsec-test-0123456789abcdef0123456789"
# 27 April 2022, 00:00 UTC: the day of letter 1335/LĐLĐ.
NOW = 1_651_017_600
BODY = '{"union_id":"dak-lak","text":"Sáng kiến"}'.encode()


def _verify(*, body: bytes = BODY, now: int = NOW, secret: bytes = SECRET) -> bool:
    """Check the notifier's signature of BODY at NOW, as a receiver would."""
    return verify(secret, body, str(NOW), sign(SECRET, NOW, BODY), now=now)


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # Computed independently: printf '%s' "$NOW.$BODY" | openssl dgst -sha256 -hmac "$SECRET"
    expected = "a510cdf37cf55bab96fc516c37565d6b4516a83fb50802840a63260e34f20a71"

    assert sign(SECRET, NOW, BODY) == f"sha256={expected}"


def test_verify_accepts_the_senders_signature() -> None:
    assert _verify()


def test_verify_refuses_a_changed_body() -> None:
    assert not _verify(body=BODY.replace(b"dak-lak", b"ha-noi"))


def test_verify_refuses_another_secret() -> None:
    assert not _verify(secret=b"another-secret-0123456789abcdef0123")


def test_verify_refuses_a_captured_request_replayed_under_a_fresh_timestamp() -> None:
    captured = sign(SECRET, NOW, BODY)
    later = NOW + 3600

    assert not verify(SECRET, BODY, str(later), captured, now=later)
    assert not verify(SECRET, BODY, str(NOW), captured, now=later)


def test_verify_accepts_a_timestamp_at_the_edge_of_the_tolerance() -> None:
    assert _verify(now=NOW + DEFAULT_TOLERANCE_SECONDS)
    assert _verify(now=NOW - DEFAULT_TOLERANCE_SECONDS)


def test_verify_refuses_a_timestamp_too_old_or_too_far_ahead() -> None:
    assert not _verify(now=NOW + DEFAULT_TOLERANCE_SECONDS + 1)
    assert not _verify(now=NOW - DEFAULT_TOLERANCE_SECONDS - 1)


def test_verify_honours_a_custom_tolerance() -> None:
    signature = sign(SECRET, NOW, BODY)

    assert not verify(SECRET, BODY, str(NOW), signature, now=NOW + 61, tolerance_seconds=60)


def test_verify_refuses_malformed_timestamps() -> None:
    signature = sign(SECRET, NOW, BODY)
    for header in (
        "",
        " 1651017600",
        "+1651017600",
        "1_651_017_600",
        "１６５１０１７６００",
        "1e9",
    ):
        assert not verify(SECRET, BODY, header, signature, now=NOW), header


def test_verify_refuses_malformed_signatures() -> None:
    digest = sign(SECRET, NOW, BODY).removeprefix("sha256=")
    for header in ("", digest, f"sha1={digest}", f"SHA256={digest}", "sha256=đ" + digest[1:]):
        assert not verify(SECRET, BODY, str(NOW), header, now=NOW), header


@given(secret=st.binary(min_size=1), body=st.binary(), timestamp=st.integers(0, 10**11))
def test_any_signed_body_verifies(secret: bytes, body: bytes, timestamp: int) -> None:
    assert verify(secret, body, str(timestamp), sign(secret, timestamp, body), now=timestamp)
