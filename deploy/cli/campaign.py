"""The source case's commands: ``seed``, ``simulate`` and ``demo`` (the README's run command).

``demo`` is the whole story on one machine: it starts the stack with a campaign clock that
replays 27 April to 31 May 2022 in a few minutes, loads the Đắk Lắk federation, its targets and
the 696 initiatives of the launch, then plays the campaign through the HTTP API while the
counters move, alerts fire and resolve, and the dashboard follows.
"""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from deploy.cli.common import console, progress_bar, stack_of
from deploy.cli.context import StackContext
from deploy.cli.errors import CliError, ExitCode
from deploy.launcher.cli import print_addresses, say
from deploy.launcher.stack import ENV_FILE, PID_FILE, LocalStack, launcher_pid, run_stack
from deploy.simulator.plan import DAYS, build_plan
from deploy.simulator.run import Outcome, play
from deploy.source_case.dak_lak import (
    AT_LAUNCH,
    CAMPAIGN,
    ENDS_ON,
    LAUNCH_AT,
    LOCAL,
    PROVINCE,
    build,
)
from deploy.source_case.seed import Tokens, seed
from shared.clock import Clock, clock_from_settings
from shared.settings import CommonSettings, env_name

TOKENS_FILE = "source-case.tokens.json"
DEMO_WORKDIR = Path("var/dak-lak")
CAMPAIGN_END = datetime.combine(ENDS_ON + timedelta(days=1), datetime.min.time(), tzinfo=LOCAL)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the ``sangkien`` app."""
    app.command("seed")(seed_command)
    app.command("simulate")(simulate_command)
    app.command("demo")(demo_command)


def seed_command(ctx: typer.Context) -> None:
    """Load the Đắk Lắk source case into the running stack.

    The federation, its district and city federations and sector unions by their real names,
    and a few hundred grassroots unions marked "(mẫu)" as sample data; targets summing to 2,500
    with the adjustments of letter 1326/LĐLĐ; the campaign of 27 April to 31 May 2022; and the
    696 initiatives registered at its start. Safe to run twice: nothing is registered again."""
    stack = stack_of(ctx)
    tokens = _seed(stack)
    console.print(
        f"seeded; tokens for the simulator and the dashboard in {stack.workdir / TOKENS_FILE}"
    )
    console.print(f"dashboard: {_dashboard_url(stack, tokens)}", soft_wrap=True)


def simulate_command(ctx: typer.Context) -> None:
    """Play the campaign's 35 days through the HTTP API.

    Registrations by the support teams in working hours (quiet weekends, two peak weeks),
    reviews by the upper-level unions, a few withdrawals; some units keep pace, some stall,
    some recover. It follows the stack's campaign clock (SANGKIEN_CLOCK_*); on a stack with the
    real clock the 2022 campaign is past, and it plays as fast as the API takes it. Run
    `sangkien seed` first."""
    stack = stack_of(ctx)
    outcome = _simulate(stack, _read_tokens(stack.workdir), _stack_clock(stack))
    _summary(stack, outcome)


def demo_command(
    ctx: typer.Context,
    minutes: Annotated[
        float, typer.Option(min=0.5, help="Real minutes the campaign's 35 days take.")
    ] = 5.0,
    lead_seconds: Annotated[
        float,
        typer.Option(
            min=0, help="Seconds the clock stands at the launch, while the case is loaded."
        ),
    ] = 45.0,
    fresh: Annotated[
        bool, typer.Option(help="Start from an empty work folder (--no-fresh: keep it).")
    ] = True,
) -> None:
    """Run the Đắk Lắk campaign live (the README's `make run`).

    Start the stack (Kafka, Redis, a mail catcher and the three services) on a campaign clock
    that replays 27 April to 31 May 2022 in --minutes, load the source case, play the campaign,
    then keep the stack up for you to look around until Ctrl-C. Work folder: var/dak-lak
    (emptied first unless --no-fresh)."""
    workdir = _demo_workdir(ctx)
    if (pid := launcher_pid(workdir)) is not None:
        raise CliError(f"a stack already runs in {workdir} (launcher pid {pid})")
    if fresh and workdir.exists():
        _empty(workdir)
    speed = (CAMPAIGN_END - LAUNCH_AT).total_seconds() / (minutes * 60)
    anchor = datetime.now(UTC) + timedelta(seconds=lead_seconds)
    clock_settings = {
        env_name("clock_start"): LAUNCH_AT.isoformat(),
        env_name("clock_speed"): f"{speed:.3f}",
        env_name("clock_anchor"): anchor.isoformat(),
    }
    failure: list[CliError] = []

    def on_ready(local: LocalStack) -> None:
        print_addresses(local)
        stack = StackContext.find(local.workdir)
        try:
            tokens = _seed(stack)
            console.print(
                f"dashboard: [bold]{_dashboard_url(stack, tokens)}[/bold]", soft_wrap=True
            )
            _wait_for_launch(stack)
            console.print(
                f"campaign clock: {LAUNCH_AT:%d/%m/%Y %H:%M} at {anchor.astimezone():%H:%M:%S}, "
                f"{speed:,.0f}× real time (35 days in {minutes:g} minutes)"
            )
            _summary(stack, _simulate(stack, tokens, _stack_clock(stack)))
            console.print("the campaign is over; the stack stays up (Ctrl-C stops it)")
        except CliError as error:
            failure.append(error)
            raise KeyboardInterrupt from error  # stop the stack; the error is reported below

    code = run_stack(workdir, log=say, on_ready=on_ready, settings=clock_settings)
    if failure:
        raise failure[0]
    raise typer.Exit(code)


def _demo_workdir(ctx: typer.Context) -> Path:
    """var/dak-lak, or the --workdir given on the command line: not one from SANGKIEN_WORKDIR,
    which names the everyday stack that the demo must not empty."""
    root = ctx.find_root()
    source = root.get_parameter_source("workdir")
    given = isinstance(ctx.obj, Path) and source is not None and source.name == "COMMANDLINE"
    return (ctx.obj if given else DEMO_WORKDIR).resolve()


# What a stack's work folder holds: the demo empties a folder only when it is one of those.
_STACK_FILES = (ENV_FILE, PID_FILE, "admin.token", "submission.db", TOKENS_FILE)


def _empty(workdir: Path) -> None:
    """Remove the demo's earlier run, refusing a folder that is not a stack's."""
    if any(workdir.iterdir()) and not any((workdir / name).exists() for name in _STACK_FILES):
        raise CliError(
            f"{workdir} is not a stack's work folder; the demo empties its folder first, so give "
            "it a new one (or --no-fresh)"
        )
    console.print(f"emptying {workdir} (the demo starts from the letter's morning each time)")
    shutil.rmtree(workdir)


def _seed(stack: StackContext) -> Tokens:
    case = build()
    plan = build_plan(case)
    with progress_bar() as progress, stack.client("submission") as admin:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(_STAGES[stage], total=total)
            progress.update(tasks[stage], completed=done, total=total)

        tokens = seed(admin, case, plan.launch, progress=report)
    path = stack.workdir / TOKENS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(tokens.__dict__, indent=2))
    return tokens


_STAGES = {
    "units": "units of the hierarchy",
    "targets": "targets (chỉ tiêu)",
    "launch": f"initiatives at the launch ({AT_LAUNCH})",
}


def _read_tokens(workdir: Path) -> Tokens:
    path = workdir / TOKENS_FILE
    if not path.exists():
        raise CliError(f"no {path}: run `sangkien seed` first", ExitCode.NOT_FOUND)
    return Tokens(**json.loads(path.read_text()))


def _stack_clock(stack: StackContext) -> Clock:
    """The same clock as the stack's services, from the settings they were given."""
    fields = ("clock_start", "clock_speed", "clock_anchor")
    given = {f: stack.env[env_name(f)] for f in fields if env_name(f) in stack.env}
    return clock_from_settings(CommonSettings.model_validate(given))


def _simulate(stack: StackContext, tokens: Tokens, clock: Clock) -> Outcome:
    plan = build_plan(build())
    start = LAUNCH_AT
    with (
        stack.client("submission", token=tokens.importer, timeout=60) as importer,
        stack.client("submission", token=tokens.officer, timeout=60) as officer,
        progress_bar() as progress,
    ):
        task = progress.add_task("campaign days", total=DAYS)

        def on_step(at: datetime, outcome: Outcome) -> None:
            day = min((at - start) // timedelta(days=1) + 1, DAYS)
            description = (
                f"{at.astimezone(LOCAL):%d/%m %H:%M} · {outcome.registered:,} registered · "
                f"{outcome.reviewed:,} reviewed · {outcome.withdrawn} withdrawn"
            )
            progress.update(task, completed=day, description=description)

        outcome = play(plan, clock=clock, importer=importer, officer=officer, on_step=on_step)
        progress.update(task, completed=DAYS)
    return outcome


def _wait_for_launch(stack: StackContext, timeout: float = 60.0) -> None:
    """Until the scoring service counts the launch's initiatives at the province."""
    deadline = time.monotonic() + timeout
    with stack.client("scoring") as scoring:
        while time.monotonic() < deadline:
            answer = scoring.get(f"/campaigns/{CAMPAIGN}/units/{PROVINCE}/progress")
            if answer.is_success and answer.json().get("registered", 0) >= AT_LAUNCH:
                body = answer.json()
                console.print(
                    f"Đắk Lắk at the launch: {body['counted']:,}/{body['target']:,} = "
                    f"{body['percentage']:.2f}%"
                )
                return
            time.sleep(0.5)
    raise CliError(f"the scoring service did not count the launch within {timeout:.0f} s")


def _summary(stack: StackContext, outcome: Outcome) -> None:
    console.print(
        f"played: {outcome.registered:,} registered, {outcome.reviewed:,} reviewed, "
        f"{outcome.withdrawn} withdrawn"
        + (f", {len(outcome.skipped)} already done before" if outcome.skipped else "")
    )
    with stack.client("scoring") as scoring, stack.client("notifier") as notifier:
        body = scoring.get(f"/campaigns/{CAMPAIGN}/units/{PROVINCE}/progress").json()
        alerts = notifier.get("/alerts", params={"campaign_id": CAMPAIGN}).json()  # open ones
    console.print(
        f"Đắk Lắk now: {body.get('counted', 0):,}/{body.get('target', 0):,} = "
        f"{body.get('percentage') or 0:.2f}% ({body.get('pace')})"
    )
    firing = sum(1 for alert in alerts if alert.get("status") == "firing")
    console.print(
        f"alerts open: {len(alerts)}, {firing} of them firing; the heads' mail: "
        f"{stack.workdir}/mail"
    )


def _dashboard_url(stack: StackContext, tokens: Tokens) -> str:
    page = f"{stack.url('scoring')}/dashboard?campaign={CAMPAIGN}&unit={PROVINCE}"
    return f"{page}#token={tokens.viewer}"  # the fragment never reaches a server's log
