"""A digest as the channels carry it: JSON (the API's answer and the webhook's body) and an
email (Jinja2, plain text and an HTML table)."""

from __future__ import annotations

from typing import Any

from services.notifier.adapters.render import RenderedEmail, environment
from services.notifier.domain import digest_text as words
from services.notifier.domain.digest import Digest, DigestLine, Period
from services.notifier.domain.messages import number, percent


def line_json(line: DigestLine) -> dict[str, Any]:
    """Everything a digest says of one unit."""
    unit = line.unit
    return {
        "rank": line.rank,
        "rank_change": line.rank_change,
        "previous_rank": line.previous.rank if line.previous else None,
        "union_id": unit.unit_id,
        "name": unit.name,
        "counted": unit.counted,
        "target": unit.target,
        "percentage": round(unit.percentage, 2),
        "expected": round(unit.expected, 2),
        "gap": unit.gap,
        "status": unit.status.value,
        "status_label": words.status_label(unit),
        "lagging": unit.lagging,
        "gained": line.gained,
        "registered": line.registered,
        "under_review": unit.under_review,
        "waiting_too_long": unit.waiting_too_long,
        "needed_per_day": unit.needed_per_day,
        "days_left": unit.days_left,
    }


def digest_json(digest: Digest) -> dict[str, Any]:
    """The whole digest: ranked units, then the laggards, the units with no initiative and the
    review backlog (each with the fields of its sheet in the Excel file)."""
    return {
        "campaign_id": digest.campaign_id,
        "campaign_name": digest.campaign_name,
        "recipient_union_id": digest.recipient_id,
        "recipient_name": digest.recipient_name,
        "period": period_json(digest.period),
        "as_of": digest.at.isoformat(),
        "compared_with": digest.compared_with.isoformat() if digest.compared_with else None,
        "backlog_limit_days": digest.backlog_limit_days,
        "total": _total_json(digest),
    } | _tables(digest)


def period_json(period: Period) -> dict[str, str]:
    """A period's kind, first and last day, and name."""
    return {
        "kind": period.kind.value,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "label": period.label,
    }


def _tables(digest: Digest) -> dict[str, list[dict[str, Any]]]:
    # Every field for the ranking; the lists carry the columns of their sheets.
    lists = {
        "laggards": digest.laggards,
        "no_initiative": digest.without_initiatives,
        "review_backlog": digest.review_backlog,
    }
    tables = {"units": [line_json(line) for line in digest.lines]}
    for name, _, columns in words.TABLES:
        if name in lists:
            tables[name] = [_pick(line_json(line), columns) for line in lists[name]]
    return tables


def _pick(values: dict[str, Any], columns: words.Columns) -> dict[str, Any]:
    return {key: values[key] for key, _ in columns}


def _total_json(digest: Digest) -> dict[str, Any] | None:
    unit = digest.total
    if unit is None:
        return None
    return {
        "counted": unit.counted,
        "target": unit.target,
        "percentage": round(unit.percentage, 2),
        "expected": round(unit.expected, 2),
        "status": unit.status.value,
        "under_review": unit.under_review,
        "waiting_too_long": unit.waiting_too_long,
    }


def webhook_payload(digest: Digest) -> dict[str, Any]:
    """What a head's webhook receives: the digest's JSON with its subject."""
    return {"kind": "digest", "subject": words.subject(digest)} | digest_json(digest)


def render_email(digest: Digest, *, head_name: str, delivery_id: str) -> RenderedEmail:
    """The digest's email: the ranking as lines (text) and as a table (HTML), then the lists."""
    values: dict[str, Any] = {
        "subject": words.subject(digest),
        "head_name": head_name,
        "intro": words.intro(digest),
        "comparison": words.comparison(digest),
        "total": words.total_line(digest),
        "ranking": [words.ranking_line(line) for line in digest.lines],
        "rows": [_html_row(line) for line in digest.lines],
        "laggards": [words.laggard_line(line) for line in digest.laggards],
        "no_initiative": [words.no_initiative_line(line) for line in digest.without_initiatives],
        "backlog": [
            words.backlog_line(line, digest.backlog_limit_days) for line in digest.review_backlog
        ],
        "backlog_limit_days": digest.backlog_limit_days,
        "delivery_id": delivery_id,
    }
    templates = environment()
    return RenderedEmail(
        subject=values["subject"],
        text=templates.get_template("digest.txt.j2").render(values),
        html=templates.get_template("digest.html.j2").render(values),
    )


def _html_row(line: DigestLine) -> dict[str, Any]:
    unit = line.unit
    return {
        "rank": line.rank,
        "change": words.rank_change_text(line),
        "name": unit.name,
        "counted": number(unit.counted),
        "target": number(unit.target),
        "percentage": percent(unit.percentage),
        "expected": number(unit.expected),
        "status": words.status_label(unit),
        "lagging": unit.lagging,
        "gained": "" if line.gained is None else number(line.gained),
        "under_review": number(unit.under_review),
    }
