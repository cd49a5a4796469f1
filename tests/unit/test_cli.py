"""The operator's CLI without servers: help, exit codes, errors that say what to do, and files
read as the submission service reads them."""

from __future__ import annotations

import io
import os
from pathlib import Path

import httpx
import pytest
import typer
from openpyxl import Workbook
from typer.main import get_command
from typer.testing import CliRunner

from deploy.cli.errors import CliError, ExitCode, check
from deploy.cli.main import app
from deploy.cli.sheets import (
    Sheet,
    batches,
    compact_json,
    idempotency_key,
    initiative_rows,
    read_sheet,
    target_rows,
)
from deploy.launcher.process import free_port
from deploy.launcher.stack import PID_FILE
from services.submission.adapters.spreadsheets import CSV, read_table

# No address of a stack running elsewhere may leak in from the environment.
NO_STACK = {
    name: None for name in os.environ if name.startswith("SANGKIEN_") and name.endswith("_URL")
} | {"SANGKIEN_TOKEN": None, "SANGKIEN_WORKDIR": None, "COLUMNS": "200"}


def _run(*args: str | Path) -> typer.testing.Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=NO_STACK)


def _command_paths() -> list[list[str]]:
    """Every command and group of the app, as the words that name it."""
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "sangkien")
def test_the_help_of_every_command_explains_it(path: list[str]) -> None:
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    result = _run(*path, "--help")

    assert result.exit_code == 0
    assert command.help and len(command.help.split()) >= 5, "a sentence, not a word"
    first_line = " ".join(command.help.strip().split("\n")[0].split())
    assert first_line in " ".join(result.stdout.split())


def test_the_main_help_explains_the_system_and_the_exit_codes() -> None:
    result = _run("--help")

    assert "scoring service" in result.stdout
    for code in ExitCode:
        assert f"{code.value} " in result.stdout


def test_progress_without_a_stack_says_how_to_start_one(tmp_path: Path) -> None:
    result = _run("--workdir", tmp_path, "progress", "dak-lak", "--campaign", "c")

    assert result.exit_code == ExitCode.UNREACHABLE
    assert "`sangkien stack up`" in result.stderr


def test_a_stack_that_stopped_is_named_with_its_address(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    (tmp_path / "stack.env").write_text(f"export SANGKIEN_SCORING_PORT={port}\n")

    result = _run("--workdir", tmp_path, "progress", "dak-lak", "--campaign", "c")

    assert result.exit_code == ExitCode.UNREACHABLE
    assert f"the scoring service at http://127.0.0.1:{port}" in result.stderr
    assert "`sangkien stack up`" in result.stderr


@pytest.mark.parametrize(
    "command", [["units"], ["targets", "--campaign", "c"], ["initiatives"]], ids=lambda c: c[0]
)
def test_a_missing_file_exits_4_and_a_wrong_type_exits_1(
    tmp_path: Path, command: list[str]
) -> None:
    missing = _run("--workdir", tmp_path, "import", command[0], tmp_path / "none.csv", *command[1:])
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    wrong = _run("--workdir", tmp_path, "import", command[0], tmp_path / "old.xls", *command[1:])

    assert missing.exit_code == ExitCode.NOT_FOUND
    assert f"no file {tmp_path / 'none.csv'}" in missing.stderr
    assert wrong.exit_code == ExitCode.FAILED
    assert ".csv" in wrong.stderr and ".xlsx" in wrong.stderr


def test_a_targets_csv_is_read_as_a_support_team_writes_it(tmp_path: Path) -> None:
    # Vietnamese-locale Excel: a BOM, ";" between cells, "." grouping thousands.
    text = (
        "Mã đơn vị;Chỉ tiêu giao;Chỉ tiêu đăng ký;Lý do\n"
        "DAK-LAK;2.500;;Công văn 1335/LĐLĐ\n"
        "cdcs-a;10;12;\n"
        ";3;;\n"
        "cdcs-b;mười;;\n"
    )
    path = tmp_path / "targets.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())

    rows, refused = target_rows(path, read_sheet(path))

    assert rows == [
        (2, {"union_id": "dak-lak", "assigned_target": 2500, "reason": "Công văn 1335/LĐLĐ"}),
        (3, {"union_id": "cdcs-a", "assigned_target": 10, "own_target": 12}),
        (5, {"union_id": "cdcs-b", "assigned_target": "mười"}),  # the service will name it
    ]
    assert [(r.row, r.field) for r in refused] == [(4, "union_id")]


def test_a_targets_workbook_with_english_headers_reads_the_same(tmp_path: Path) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["union_id", "assigned_target", "own_target", "reason"])
    sheet.append(["cdcs-a", 10, 12, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    path = tmp_path / "targets.xlsx"
    path.write_bytes(buffer.getvalue())

    rows, refused = target_rows(path, read_sheet(path))

    assert rows == [(2, {"union_id": "cdcs-a", "assigned_target": 10, "own_target": 12})]
    assert refused == []


def test_a_targets_sheet_without_a_target_column_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "targets.csv"
    path.write_text("union_id,reason\ncdcs-a,x\n")

    with pytest.raises(CliError) as raised:
        target_rows(path, read_sheet(path))

    assert raised.value.code == ExitCode.FAILED


def _sheet(text: str) -> Sheet:
    return Sheet(text.encode(), read_table(text.encode(), CSV))


HEADER = (
    "STT,Mã đợt,Mã đơn vị,Tên sáng kiến,Lĩnh vực,Tác giả,Đối tượng,Cấp công nhận,"
    "Ngày công nhận,Ngày áp dụng\n"
)


def test_initiative_rows_are_the_services_and_mapping_problems_keep_their_row() -> None:
    sheet = _sheet(
        HEADER
        + "1,dot-1,CDCS-A,Sáng kiến một,Giáo dục,Nguyễn Văn A,CCVC,Hội đồng,02/05/2022,01/04/2022\n"
        + "2,dot-1,cdcs-a,Sáng kiến hai,Giáo dục,An; Bình,CCVC; CNLĐ; CBCĐ,Hội đồng,02/05/2022,"
        + "01/04/2022\n"
    )

    rows, refused = initiative_rows(Path("x.csv"), sheet)

    [(number, row)] = rows
    assert number == 2
    assert row["union_id"] == "cdcs-a"
    assert row["application_date"] == "2022-04-01"
    assert row["authors"] == [{"name": "Nguyễn Văn A", "category": "public_service_staff"}]
    assert [(r.row, r.field) for r in refused] == [(3, "author_category")]


def test_a_sheet_without_the_required_columns_exits_1_naming_them() -> None:
    with pytest.raises(CliError) as raised:
        initiative_rows(Path("x.csv"), _sheet("Tên sáng kiến\nMột\n"))

    assert raised.value.code == ExitCode.FAILED
    assert any("campaign_id" in line for line in raised.value.details)


def test_batches_keep_the_order_and_stay_under_both_limits() -> None:
    rows = [(n, {"title": "x" * 100}) for n in range(2, 2502)]

    by_count = list(batches(rows))
    by_size = list(batches(rows, max_bytes=5_000))

    assert [len(b) for b in by_count] == [1000, 1000, 500]
    assert [row for batch in by_size for row in batch] == rows
    assert all(len(compact_json([r for _, r in b])) <= 5_000 for b in by_size)


def test_idempotency_keys_follow_the_file_and_the_part() -> None:
    first = idempotency_key(b"a,b\n", "initiatives", "1:2-1001")

    assert first == idempotency_key(b"a,b\n", "initiatives", "1:2-1001")
    assert first != idempotency_key(b"a,b\n", "initiatives", "2:1002-2001")
    assert first != idempotency_key(b"a,c\n", "initiatives", "1:2-1001")
    assert len(first) <= 200  # the service's limit


def test_exit_codes_are_the_documented_ones() -> None:
    assert {code.name: code.value for code in ExitCode} == {
        "OK": 0, "FAILED": 1, "USAGE": 2, "UNREACHABLE": 3, "NOT_FOUND": 4, "PARTIAL": 5,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("status", "code"), [(404, ExitCode.NOT_FOUND), (422, ExitCode.FAILED), (403, ExitCode.FAILED)]
)
def test_a_refused_request_maps_to_its_exit_code_with_the_services_problems(
    status: int, code: ExitCode
) -> None:
    problem = {"field": "parent_id", "rule": "exists", "message": "no parent", "row": 3}
    response = httpx.Response(status, json={"error": "x", "problems": [problem]})

    with pytest.raises(CliError) as raised:
        check(response, "importing units")

    assert raised.value.code == code
    assert raised.value.details == ["row 3: parent_id: no parent"]


def test_a_usage_mistake_exits_2(tmp_path: Path) -> None:
    result = _run("--workdir", tmp_path, "leaderboard", "--campaign", "c")

    assert result.exit_code == ExitCode.USAGE
    assert "--level, --cluster or --children" in result.stderr


def test_status_and_down_without_a_stack_exit_3_and_remove_a_stale_pid_file(
    tmp_path: Path,
) -> None:
    (tmp_path / PID_FILE).write_text("999999999 12345\n")  # no such process

    down = _run("--workdir", tmp_path, "stack", "down")
    status = _run("--workdir", tmp_path, "stack", "status")

    assert down.exit_code == status.exit_code == ExitCode.UNREACHABLE
    assert "stale" in down.stderr
    assert "`sangkien stack up`" in status.stderr
    assert not (tmp_path / PID_FILE).exists()
