"""The operator's CLI against the three services as processes: imports, progress, leaderboards
and alerts agree with the APIs; and ``stack up --detach``, ``status`` and ``down`` run the real
launcher and leave nothing behind."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import Workbook
from typer.testing import CliRunner, Result

from deploy.cli.main import app
from deploy.launcher import ServiceProcess, start_service
from deploy.launcher.process import free_port, run_coroutine
from deploy.launcher.services import REPO_ROOT, SERVICES
from deploy.launcher.stack import PID_FILE, issue_admin_token, process_start
from shared.kafka import ensure_topics, topic_specs
from shared.settings import CommonSettings, env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(240)]

INITIATIVES = 2100  # three batches of the batch endpoint


@dataclass(frozen=True)
class Stack:
    """The three services of this module, and the work folder the CLI reads them from."""

    workdir: Path
    token: str
    urls: dict[str, str]
    unique: str

    def unit(self, name: str) -> str:
        """A unit id of this module's own (the session's Redis holds other tests' units)."""
        return f"{name}-{self.unique}"

    def client(self, service: str) -> httpx.Client:
        """An HTTP client of one service, with the admin token."""
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.urls[service], headers=headers, timeout=60)

    def cli(self, *args: str | Path) -> Result:
        """``sangkien --workdir <this stack> ARGS``, in this process."""
        no_urls = {name: None for name in os.environ if name.startswith("SANGKIEN_")}
        return CliRunner().invoke(
            app, ["--workdir", str(self.workdir), *map(str, args)], env=no_urls
        )


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Submission, scoring and notifier on their own topics and groups, on a fixed clock (so
    "expected today" does not move between two reads), with a stack.env and an admin.token."""
    unique = uuid.uuid4().hex[:8]
    workdir = tmp_path_factory.mktemp("cli-stack")
    topics = {f"topic_{t}": f"cli-{unique}.{t}" for t in ("initiative_events", "registry")}
    topics |= {f"topic_{t}": f"cli-{unique}.{t}" for t in ("alerts", "dead_letter")}
    common = CommonSettings(kafka_bootstrap_servers=kafka_bootstrap, redis_url=redis_url, **topics)  # type: ignore[arg-type]
    run_coroutine(lambda: ensure_topics(common.kafka_servers, topic_specs(common)))
    ports = {name: free_port() for name in SERVICES}
    values = {
        "kafka_bootstrap_servers": kafka_bootstrap,
        "redis_url": redis_url,
        **topics,
        "submission_database_url": f"sqlite+aiosqlite:///{workdir}/submission.db",
        "notifier_database_url": f"sqlite+aiosqlite:///{workdir}/notifier.db",
        "scoring_consumer_group": f"scoring-{unique}",
        "notifier_consumer_group": f"notifier-{unique}",
        "submission_relay_idle_seconds": "0.2",
        "clock_start": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "clock_speed": "0",
        **{SERVICES[name].port_setting: str(port) for name, port in ports.items()},
        "notifier_submission_url": f"http://127.0.0.1:{ports['submission']}",  # token checks
    }
    variables = {env_name(k): v for k, v in values.items()}
    variables[env_name("submission_person_key_secret")] = "cli-e2e-person-key-" + "x" * 24
    (workdir / "stack.env").write_text("".join(f"export {k}={v}\n" for k, v in variables.items()))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}, **variables}
    token = issue_admin_token(workdir / "admin.token", env)
    started: list[ServiceProcess] = []
    try:
        for name, port in ports.items():
            started.append(
                start_service(name, port=port, env=env, log_dir=workdir / "logs", log=print)
            )
        yield Stack(workdir, token, {s.name: s.url for s in started}, unique)
    finally:
        for service in reversed(started):
            service.stop()


def _units_csv(stack: Stack, path: Path) -> Path:
    rows = [
        ("dak-lak", "LĐLĐ tỉnh Đắk Lắk", "tong-ldld-vn", "Tỉnh", "", "50000"),
        ("giao-duc", "Công đoàn ngành Giáo dục", "dak-lak", "Cấp trên cơ sở", "", "20000"),
        ("thpt-a", "CĐCS Trường THPT A", "giao-duc", "Cơ sở", "Cụm 1", "100"),
        ("thpt-b", "CĐCS Trường THPT B", "giao-duc", "Cơ sở", "Cụm 1", "200"),
        ("thpt-c", "CĐCS Trường THPT C", "giao-duc", "Cơ sở", "Cụm 2", "150"),
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["Mã đơn vị", "Tên đơn vị", "Mã đơn vị cấp trên", "Cấp", "Cụm thi đua",
                         "Số đoàn viên"])  # fmt: skip
        for unit, name, parent, level, cluster, members in rows:
            parent_id = parent if parent == "tong-ldld-vn" else stack.unit(parent)
            writer.writerow([stack.unit(unit), name, parent_id, level, cluster, members])
    return path


def _campaign(stack: Stack) -> str:
    campaign = f"dot-{stack.unique}"
    today = date.today()
    body = {
        "id": campaign,
        "name": "Đợt cao điểm",
        "organiser_id": stack.unit("dak-lak"),
        "starts_on": str(today - timedelta(days=5)),
        "ends_on": str(today + timedelta(days=30)),
        "eligible_from": "2021-01-01",
        "eligible_to": str(today + timedelta(days=30)),
        "counts": "registered",
    }
    with stack.client("submission") as client:
        client.post("/campaigns", json=body).raise_for_status()
    return campaign


def _targets_xlsx(stack: Stack, path: Path) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["Mã đơn vị", "Chỉ tiêu giao", "Chỉ tiêu đăng ký", "Lý do"])
    sheet.append([stack.unit("dak-lak"), 2500, None, "Công văn 1335/LĐLĐ"])
    sheet.append([stack.unit("giao-duc"), 1000, None, None])
    sheet.append([stack.unit("thpt-a"), 500, 600, "Tự đăng ký cao hơn"])
    sheet.append(["khong-co-don-vi-nay", 5, None, None])  # row 5: no such unit
    sheet.append([stack.unit("thpt-b"), 800, None, None])
    sheet.append([stack.unit("thpt-c"), 100_000, None, "Chỉ tiêu rất cao"])  # it will lag
    buffer = io.BytesIO()
    workbook.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def _initiatives_csv(stack: Stack, campaign: str, path: Path) -> Path:
    schools = [stack.unit(s) for s in ("thpt-a", "thpt-b", "thpt-c")]
    recognised = (date.today() - timedelta(days=2)).strftime("%d/%m/%Y")
    applied = (date.today() - timedelta(days=40)).strftime("%d/%m/%Y")
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(["STT", "Mã đợt", "Mã đơn vị", "Tên sáng kiến", "Lĩnh vực", "Tác giả",
                         "Đối tượng", "Cấp công nhận", "Ngày công nhận", "Ngày áp dụng",
                         "Giá trị làm lợi (VNĐ)"])  # fmt: skip
        for n in range(1, INITIATIVES + 1):
            # Two schools in three: A twice as often as B, C rarely (it lags).
            school = schools[0] if n % 3 else schools[1] if n % 30 else schools[2]
            writer.writerow([n, campaign, school, f"Cải tiến quy trình số {n} ({n * 7})",
                             "Giáo dục", f"Nguyễn Văn {n}", "Công chức, viên chức",
                             "Hội đồng sáng kiến", recognised, applied, "1.500.000"])  # fmt: skip
    return path


def _stored_initiatives(stack: Stack, campaign: str) -> int:
    count, cursor = 0, None
    with stack.client("submission") as client:
        while True:
            params: dict[str, Any] = {"campaign_id": campaign, "limit": 500}
            page = client.get(
                "/initiatives", params=params | ({"cursor": cursor} if cursor else {})
            )
            count += len(page.json()["items"])
            if not (cursor := page.json()["next_cursor"]):
                return count


def _progress(stack: Stack, campaign: str, unit: str) -> dict[str, Any]:
    with stack.client("scoring") as client:
        body: dict[str, Any] = client.get(f"/campaigns/{campaign}/units/{unit}/progress").json()
        return body


def _wait_until_counted(stack: Stack, campaign: str, unit: str, registered: int) -> None:
    deadline = time.monotonic() + 60
    while _progress(stack, campaign, unit).get("registered") != registered:
        assert time.monotonic() < deadline, "the scoring service did not count everything"
        time.sleep(0.3)


def _cells(output: str) -> list[list[str]]:
    """The body rows of the Rich tables in ``output``, as stripped cell texts."""
    return [
        [cell.strip() for cell in line.strip().strip("│").split("│")]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def _evaluate(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    with stack.client("notifier") as client:
        while (answer := client.post("/evaluations")).status_code == 503:  # registry not read
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.3)
        answer.raise_for_status()


def test_an_operator_imports_a_campaign_and_reads_what_the_services_say(
    stack: Stack, tmp_path: Path
) -> None:
    units = stack.cli("import", "units", _units_csv(stack, tmp_path / "units.csv"))
    campaign = _campaign(stack)
    targets = stack.cli(
        "import", "targets", _targets_xlsx(stack, tmp_path / "targets.xlsx"), "--campaign", campaign
    )
    sheet = _initiatives_csv(stack, campaign, tmp_path / "initiatives.csv")
    first = stack.cli("import", "initiatives", sheet)
    stored_first = _stored_initiatives(stack, campaign)
    again = stack.cli("import", "initiatives", sheet)
    stored_again = _stored_initiatives(stack, campaign)
    with stack.client("submission") as client:
        target_a = client.get(f"/campaigns/{campaign}/targets/{stack.unit('thpt-a')}").json()

    assert (units.exit_code, units.stdout.split(": ")[-1].strip()) == (
        0, "5 units created, 0 updated"
    )  # fmt: skip
    assert targets.exit_code == 5, targets.output
    assert ["5", "union_id", "no unit 'khong-co-don-vi-nay'"] in _cells(targets.stdout)
    assert "5 targets set, 1 row refused" in targets.stdout
    assert (target_a["assigned_target"], target_a["own_target"]) == (500, 600)
    assert target_a["history"][-1]["reason"] == "Tự đăng ký cao hơn"
    assert first.exit_code == 0, first.output
    assert f"{INITIATIVES}/{INITIATIVES}" in first.stdout  # the progress bar
    assert f"{INITIATIVES} initiatives registered, 0 were already registered" in first.stdout
    assert again.exit_code == 0, again.output
    assert f"0 initiatives registered, {INITIATIVES} were already registered" in again.stdout
    assert stored_first == stored_again == INITIATIVES

    province, school_c = stack.unit("dak-lak"), stack.unit("thpt-c")
    _wait_until_counted(stack, campaign, province, INITIATIVES)
    table = stack.cli("progress", province, "--campaign", campaign)
    as_json = stack.cli("progress", province, "--campaign", campaign, "--json")
    api = _progress(stack, campaign, province)
    shown = {row[0]: row[1] for row in _cells(table.stdout)}

    assert table.exit_code == as_json.exit_code == 0
    assert json.loads(as_json.stdout) == api
    for field in ("counted", "registered", "under_review", "valid", "rejected", "people"):
        assert int(shown[field.replace("_", " ")].replace(",", "")) == api[field], field
    assert int(shown["target"].replace(",", "")) == api["target"] == 2500
    assert shown["percentage"] == f"{api['percentage']:.2f} %"
    assert shown["pace"] == api["pace"]
    assert stack.cli("progress", "khong-co", "--campaign", campaign).exit_code == 4
    # Without --campaign: the one campaign scoring knows, or (the session's Redis holds other
    # tests' campaigns too) a usage error that lists them.
    guessed = stack.cli("progress", province)
    assert (guessed.exit_code, campaign in guessed.output) in {(0, True), (2, True)}

    parent = stack.unit("giao-duc")
    board = stack.cli("leaderboard", "--campaign", campaign, "--children", parent)
    by_members = stack.cli("leaderboard", "--campaign", campaign, "--level", "grassroots",
                           "--metric", "per100", "--top", "2")  # fmt: skip
    with stack.client("scoring") as client:
        children = client.get(f"/campaigns/{campaign}/leaderboards/children/{parent}").json()
        per100 = client.get(
            f"/campaigns/{campaign}/leaderboards/level/grassroots",
            params={"metric": "per100", "limit": 2},
        ).json()

    assert board.exit_code == 0
    assert [row[1] for row in _cells(board.stdout)] == [i["union_id"] for i in children["items"]]
    assert [row[1] for row in _cells(by_members.stdout)] == [i["union_id"] for i in per100["items"]]

    _evaluate(stack)
    alerts = stack.cli("alerts", "--campaign", campaign)
    with stack.client("notifier") as client:
        api_alerts = client.get("/alerts", params={"campaign_id": campaign}).json()

    assert alerts.exit_code == 0
    assert {(a["unit_id"], a["rule"]) for a in api_alerts} >= {(school_c, "critical")}
    assert sorted((row[1], row[2]) for row in _cells(alerts.stdout)) == sorted(
        (a["unit_id"], a["rule"]) for a in api_alerts
    )


def _descendants(pid: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(") ", 1)[1].split()[1]
                )
            except (FileNotFoundError, ProcessLookupError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _sangkien(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", "--workdir", str(workdir), *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=200, check=False,
    )  # fmt: skip


def test_stack_up_detached_is_ready_then_down_leaves_nothing(tmp_path: Path) -> None:
    # The wait is shorter than _sangkien's own timeout, and the stack is stopped whatever
    # happens: a detached launcher outlives the test that started it.
    up = _sangkien(tmp_path, "stack", "up", "--detach", "--timeout", "150")
    try:
        pid = int((tmp_path / PID_FILE).read_text().split()[0]) if up.returncode == 0 else 0
        processes = _descendants(pid) | {pid} if pid else set()
        while_up = _sangkien(tmp_path, "stack", "status")
    finally:
        down = _sangkien(tmp_path, "stack", "down")
    after = _sangkien(tmp_path, "stack", "status")

    assert up.returncode == 0, up.stdout + up.stderr
    assert re.search(r"scoring\s*│\s*http://127\.0\.0\.1:\d+\s*│\s*ready", up.stdout)
    assert len(processes) >= 6  # the launcher, Kafka, Redis and the three services
    assert while_up.returncode == 0, while_up.stdout + while_up.stderr
    assert down.returncode == 0, down.stderr
    assert after.returncode == 3
    assert "`sangkien stack up`" in after.stderr
    assert [p for p in processes if process_start(p) is not None] == []
    assert not (tmp_path / PID_FILE).exists()
