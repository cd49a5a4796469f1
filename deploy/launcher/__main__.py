"""Entry point: ``python -m deploy.launcher up``."""

from deploy.launcher.cli import app

app()
