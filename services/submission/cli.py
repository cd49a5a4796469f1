"""``python -m services.submission.cli``: migrate the database and manage API tokens.

The first admin token can only come from here (the API needs a token to issue one).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import SQLModel

from services.submission.adapters.migrations import migrate
from services.submission.adapters.tables import UnitRow
from services.submission.domain.access import Principal, Role
from services.submission.domain.errors import DomainError
from services.submission.schemas import UnitCreate
from services.submission.service import tokens, units
from services.submission.service.unit_of_work import UnitOfWork
from shared.database import create_engine
from shared.events import UnionLevel
from shared.settings import SubmissionSettings

app = typer.Typer(
    help="Submission service administration (reads SANGKIEN_* settings).",
    no_args_is_help=True,
    add_completion=False,
)
tokens_app = typer.Typer(help="API tokens: issue, list, revoke.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
console = Console()


def _uow(settings: SubmissionSettings) -> UnitOfWork:
    return UnitOfWork(
        create_engine(settings.submission_database_url), on_events_committed=lambda: None
    )


@app.command("migrate")
def migrate_command() -> None:
    """Apply the database migrations."""
    settings = SubmissionSettings()
    asyncio.run(migrate(settings.submission_database_url))
    console.print("database is up to date")


@tokens_app.command("issue")
def issue(
    role: Annotated[Role, typer.Option(help="admin, officer, importer or viewer")],
    scope: Annotated[str, typer.Option(help="Id of the unit whose subtree the token covers")],
    actor: Annotated[str, typer.Option(help="Opaque id recorded as the actor (no names)")],
    label: Annotated[str, typer.Option(help="What the token is for, for the token list")] = "",
    valid_days: Annotated[int, typer.Option(help="Days until it expires; 0: never")] = 90,
    create_root: Annotated[
        str | None,
        typer.Option(help="First start: create the scope unit as the national root, named so"),
    ] = None,
) -> None:
    """Issue a token and print it once (only its hash is stored)."""
    settings = SubmissionSettings()

    async def run() -> tokens.IssuedToken:
        await migrate(settings.submission_database_url)
        uow = _uow(settings)
        try:
            async with uow.transaction() as session:
                if create_root and await session.get(UnitRow, scope) is None:
                    root = UnitCreate(id=scope, name=create_root, level=UnionLevel.NATIONAL)
                    bootstrap = Principal("cli", actor, Role.ADMIN, scope)
                    await units.create_unit(session, settings, bootstrap, root)
                    await session.flush()
                valid_for = timedelta(days=valid_days) if valid_days else None
                return await tokens.issue(
                    session,
                    role=role,
                    scope_union_id=scope,
                    actor_id=actor,
                    label=label or f"{role} {scope}",
                    valid_for=valid_for,
                )
        finally:
            await uow.engine.dispose()

    try:
        issued = asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    expires = issued.expires_at or "never"
    console.print(f"token {issued.id}: {issued.role} of {issued.scope_union_id}, expires {expires}")
    print(issued.token)


@tokens_app.command("list")
def list_tokens() -> None:
    """List tokens (never the tokens themselves)."""
    settings = SubmissionSettings()

    async def run() -> list[SQLModel]:
        uow = _uow(settings)
        try:
            async with uow.read_only() as session:
                return list(await tokens.list_tokens(session))
        finally:
            await uow.engine.dispose()

    table = Table("id", "role", "scope", "actor", "label", "expires", "revoked")
    for row in asyncio.run(run()):
        values = row.model_dump()
        table.add_row(
            *(
                str(values[k] or "")
                for k in (
                    "id",
                    "role",
                    "scope_union_id",
                    "actor_id",
                    "label",
                    "expires_at",
                    "revoked_at",
                )
            )
        )
    console.print(table)


@tokens_app.command("revoke")
def revoke(token_id: str) -> None:
    """Revoke a token at once."""
    settings = SubmissionSettings()

    async def run() -> None:
        uow = _uow(settings)
        try:
            async with uow.transaction() as session:
                await tokens.revoke(session, token_id)
        finally:
            await uow.engine.dispose()

    try:
        asyncio.run(run())
    except DomainError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from error
    console.print(f"token {token_id} revoked")


if __name__ == "__main__":
    app()
