"""Entry point: ``python -m deploy.cli`` (the same as the ``sangkien`` command)."""

from deploy.cli.main import app

app(prog_name="sangkien")
