"""The README stays true: its two commands are the ones CI runs, its settings table is current."""

from __future__ import annotations

import re
from pathlib import Path

from shared.settings import settings_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _first_code_block() -> list[str]:
    match = re.search(r"```sh\n(.*?)```", README, re.S)
    assert match, "the README starts with a ```sh block of its commands"
    return [line.split("#")[0].strip() for line in match.group(1).strip().splitlines()]


def test_readme_opens_with_exactly_the_run_and_test_commands() -> None:
    assert README.index("```sh") < README.index("## ")
    assert _first_code_block() == ["make run", "make test"]


def test_ci_runs_the_readmes_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()

    assert "make test" in ci
    assert "set -e" in ci


def test_makefile_has_both_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()

    assert re.search(r"^run:", makefile, re.M)
    assert re.search(r"^test:", makefile, re.M)


def test_settings_table_lists_every_variable_with_its_default() -> None:
    match = re.search(
        r"<!-- settings-table:start -->\n(.*?)<!-- settings-table:end -->", README, re.S
    )

    assert match, "README has the settings table markers"
    assert match.group(1) == settings_table(), "run `python -m shared.settings` and paste it"
