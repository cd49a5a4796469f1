"""``python -m services.scoring.cli``: rebuild a campaign's counters from the topic."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from services.scoring.rebuild import ConsumersActive, rebuild
from shared.redis import create_redis
from shared.settings import ScoringSettings

app = typer.Typer(
    help="Scoring administration (reads SANGKIEN_* settings).",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()


@app.callback()
def main() -> None:
    """Scoring administration."""


@app.command("rebuild")
def rebuild_command(
    campaign: Annotated[str, typer.Option(help="Campaign id whose counters to rebuild")],
) -> None:
    """Wipe one campaign's counters and replay the initiative topic from its start.

    Stop the scoring instances first; the command refuses while the consumer group is active.
    """
    settings = ScoringSettings()

    async def run() -> int:
        redis = create_redis(settings.redis_url)
        try:
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=console,
            ) as bar:
                task = bar.add_task(f"replaying {campaign}", total=None)
                return await rebuild(
                    settings,
                    redis,
                    campaign,
                    on_progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            await redis.aclose()

    try:
        applied = asyncio.run(run())
    except ConsumersActive as error:
        console.print(f"[red]error:[/red] {error}; stop the scoring instances and run it again")
        raise typer.Exit(2) from error
    console.print(f"{campaign}: {applied} events applied")


if __name__ == "__main__":
    app()
