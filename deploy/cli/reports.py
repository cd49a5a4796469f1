"""``sangkien progress``, ``leaderboard`` and ``alerts``: what the scoring service and the
notifier say, as tables (or the raw JSON with ``--json``)."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from deploy.cli.common import console, number, stack_of
from deploy.cli.context import StackContext
from deploy.cli.errors import CliError, ExitCode, check
from services.notifier.domain.lifecycle import AlertStatus
from shared.events import AlertRule, UnionLevel

CampaignOption = Annotated[
    str | None,
    typer.Option(
        help="The campaign; may be left out when the scoring service knows only one.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the service's JSON as it is.")]


class Metric(StrEnum):
    """What a leaderboard ranks by (the scoring API's ``leaderboards.Metric``)."""

    pct = "pct"
    per100 = "per100"
    people = "people"


def register(app: typer.Typer) -> None:
    """Add ``progress``, ``leaderboard`` and ``alerts`` to the app."""
    app.command()(progress)
    app.command()(leaderboard)
    app.command()(alerts)


def progress(
    ctx: typer.Context,
    unit: Annotated[str, typer.Argument(help="The unit's id, e.g. dak-lak.", show_default=False)],
    campaign: CampaignOption = None,
    as_json: JsonOption = False,
) -> None:
    """A unit's progress now, as the scoring service counts it.

    Targets, counts by status, percentage against what is expected today, pace, projected
    total, ranks among siblings and in its emulation cluster, people and estimated benefit.
    """
    stack = stack_of(ctx)
    campaign = campaign or only_campaign(stack)
    with stack.client("scoring") as client:
        body = _unit_progress(client, campaign, unit)
    if as_json:
        _print_json(body)
        return
    console.print(progress_table(body))


def _unit_progress(client: httpx.Client, campaign: str, unit: str) -> dict[str, Any]:
    """The scoring service's progress of ``unit``; a NOT_FOUND error naming the unit or the
    campaign, whichever the service says it does not know."""
    response = client.get(f"/campaigns/{campaign}/units/{unit}/progress")
    if response.status_code == 404:
        problems = response.json().get("problems") or [{}]
        if problems[0].get("field") == "unit_id":
            raise CliError(f"no unit {unit} in campaign {campaign}", ExitCode.NOT_FOUND)
        raise CliError(f"no campaign {campaign} in the scoring service", ExitCode.NOT_FOUND)
    body: dict[str, Any] = check(response, f"progress of {unit}").json()
    return body


def progress_table(body: dict[str, Any]) -> Table:
    """The progress answer as a two-column table, the numbers as the API gives them."""
    title = f"{body['union_id']} — {body['name']} ({body['campaign_id']})"
    table = Table(title=title, show_header=False, min_width=len(title))
    table.add_column("what", style="bold")
    table.add_column("value", justify="right")
    target, expected_pct = body.get("target"), body.get("expected_percentage") or 0
    expected = target * expected_pct / 100 if target else None
    percentage = body.get("percentage")
    rows = [
        ("target", number(target)),
        ("assigned target", number(body.get("assigned_target"))),
        ("own target", number(body.get("own_target"))),
        ("counted", number(body.get("counted"))),
        ("registered", number(body.get("registered"))),
        ("under review", number(body.get("under_review"))),
        ("valid", number(body.get("valid"))),
        ("rejected", number(body.get("rejected"))),
        ("percentage", "—" if percentage is None else f"{percentage:.2f} %"),
        ("expected today", f"{expected_pct:.2f} % ({number(expected)})"),
        ("pace", str(body.get("pace", "—"))),
        ("projected total", number(body.get("projected_total"))),
        *[(f"rank {name.replace('_', ' ')}", _rank(rank)) for name, rank in body["ranks"].items()],
        ("people", number(body.get("people"))),
        ("members", number(body.get("members"))),
        ("benefit", f"{number(body.get('benefit_vnd'))} đ"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def _rank(rank: dict[str, Any]) -> str:
    return f"{number(rank.get('rank'))} of {number(rank.get('of'))}"


def leaderboard(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    level: Annotated[
        UnionLevel | None, typer.Option(help="Rank every unit of a level.", show_default=False)
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Rank an emulation cluster (cụm thi đua).")
    ] = None,
    children: Annotated[
        str | None, typer.Option(help="Rank the units directly under this one.")
    ] = None,
    metric: Annotated[
        Metric, typer.Option(help="pct of own target, per100 members, or distinct people.")
    ] = Metric.pct,
    top: Annotated[int, typer.Option(min=1, max=1000, help="How many units to show.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Units ranked within a level, an emulation cluster or a parent (give exactly one)."""
    groups = {"level": level, "cluster": cluster, "children": children}
    given = {name: str(value) for name, value in groups.items() if value is not None}
    if len(given) != 1:
        raise CliError("give exactly one of --level, --cluster or --children", ExitCode.USAGE)
    [(grouping, group)] = given.items()
    stack = stack_of(ctx)
    campaign = campaign or only_campaign(stack)
    with stack.client("scoring") as client:
        response = client.get(
            f"/campaigns/{campaign}/leaderboards/{grouping}/{group}",
            params={"metric": metric.value, "limit": top},
        )
        body = check(response, "leaderboard").json()
        if not body["items"]:
            _explain_empty(client, campaign, grouping, group)
    if as_json:
        _print_json(body)
        return
    table = Table(title=f"{campaign}: {grouping} {group}, by {metric.value}")
    table.add_column("rank", justify="right")
    table.add_column("unit")
    table.add_column("name")
    table.add_column(metric.value, justify="right")
    for item in body["items"]:
        table.add_row(str(item["rank"]), item["union_id"], item["name"] or "", f"{item['score']}")
    console.print(table)


def _explain_empty(client: httpx.Client, campaign: str, grouping: str, group: str) -> None:
    """An empty ranking because the campaign or the parent unit does not exist is an error."""
    if client.get(f"/campaigns/{campaign}/totals").status_code == 404:
        raise CliError(f"no campaign {campaign} in the scoring service", ExitCode.NOT_FOUND)
    if grouping == "children":
        _unit_progress(client, campaign, group)  # raises when the unit is unknown


def alerts(
    ctx: typer.Context,
    campaign: Annotated[str | None, typer.Option(help="Only this campaign's alerts.")] = None,
    status: Annotated[
        list[AlertStatus] | None,
        typer.Option(help="Only alerts in this state (repeat it for several).", show_default=False),
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Only this unit's alerts.")] = None,
    rule: Annotated[
        AlertRule | None, typer.Option(help="Only alerts of this rule.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The notifier's alerts, the longest firing first (by default pending and firing ones)."""
    params: dict[str, Any] = {"campaign_id": campaign, "unit_id": unit}
    params["rule"] = rule.value if rule else None
    params["status"] = [s.value for s in status or []]
    with stack_of(ctx).client("notifier") as client:
        response = client.get("/alerts", params={k: v for k, v in params.items() if v})
    body = check(response, "alerts").json()
    if as_json:
        _print_json(body)
        return
    if not body:
        console.print("no alerts")
        return
    table = Table(title=f"{len(body)} alerts")
    for column in ("campaign", "unit", "rule", "status", "since", "counted", "target", "expected"):
        table.add_column(column)
    for alert in body:
        since = (alert.get("since") or "")[:16].replace("T", " ")
        cells = [alert["campaign_id"], alert["unit_id"], alert["rule"], alert["status"], since]
        cells += [number(alert["counted"]), number(alert["target"]), number(alert["expected"])]
        table.add_row(*cells)
    console.print(table)


def only_campaign(stack: StackContext) -> str:
    """The campaign to use when --campaign is left out: the one the scoring service knows."""
    with stack.client("scoring") as client:
        response = client.get("/campaigns")
    if response.status_code == 404:  # a scoring service without the list: no way to choose
        raise CliError("give --campaign", ExitCode.USAGE)
    ids = [item["id"] for item in check(response, "campaigns").json()["items"]]
    if len(ids) == 1:
        return str(ids[0])
    if not ids:
        raise CliError("the scoring service knows no campaign yet", ExitCode.NOT_FOUND)
    raise CliError(f"several campaigns: give --campaign (one of {', '.join(ids)})", ExitCode.USAGE)


def _print_json(body: Any) -> None:
    # Plain print, not Rich: the output is for jq and scripts, colours and wrapping would harm.
    print(json.dumps(body, ensure_ascii=False, indent=2))
