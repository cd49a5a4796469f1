"""``sangkien rebuild``: the scoring service's own rebuild command, pointed at the stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import redis
import typer
from aiokafka.errors import KafkaError

from deploy.cli.common import stack_of
from deploy.cli.errors import CliError, ExitCode
from services.scoring import cli as scoring_cli
from shared.settings import env_name

_NEEDED = (env_name("kafka_bootstrap_servers"), env_name("redis_url"))
_RESTART_WITHOUT_SERVICES = (
    "`sangkien stack down`, `sangkien stack up --detach --no-services`, rebuild, then "
    "`sangkien stack down` and start the whole stack again"
)


def register(app: typer.Typer) -> None:
    """Add ``rebuild`` to the app."""
    app.command()(rebuild)


def rebuild(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Option(help="The campaign whose counters to rebuild.")],
) -> None:
    """Wipe one campaign's counters in Redis and replay them from the Kafka topic.

    No scoring service may consume meanwhile (the command refuses otherwise): run the stack
    without services for it, e.g. `sangkien stack down`, `sangkien stack up --detach
    --no-services`, `sangkien rebuild --campaign C`, `sangkien stack down`, `sangkien stack up`.
    """
    stack = stack_of(ctx)
    if not all(name in stack.env or name in os.environ for name in _NEEDED):
        raise CliError(
            f"no running stack found in {stack.workdir} (no Kafka or Redis address): start "
            "Kafka and Redis with `sangkien stack up --detach --no-services`",
            ExitCode.UNREACHABLE,
        )
    with _environment(stack.env):
        try:
            scoring_cli.rebuild_command(campaign=campaign)
        except typer.Exit as stopped:
            if stopped.exit_code == 2:  # ConsumersActive: the scoring service is consuming
                raise CliError(
                    "the stack's scoring service is consuming",
                    details=[f"to rebuild: {_RESTART_WITHOUT_SERVICES}"],
                ) from None
            raise
        except (KafkaError, redis.ConnectionError, OSError) as error:
            raise CliError(
                f"cannot reach Kafka or Redis ({error or type(error).__name__})",
                ExitCode.UNREACHABLE,
                ["is the stack running? `sangkien stack status` says"],
            ) from error


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """The stack's variables where the environment sets none (the environment wins, as for
    the services' addresses), for the scoring command's settings; restored afterwards."""
    added = {name: value for name, value in values.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
