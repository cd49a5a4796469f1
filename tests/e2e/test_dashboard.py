"""The dashboard in a real browser (Debian's chromium, driven by Playwright), against the three
services running as processes on a fixed campaign day: what the page shows is what the APIs
say, the drill-down lists a unit's initiatives, a new registration arrives live, and the page
fits a phone's screen."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from deploy.launcher import ServiceProcess, start_service
from deploy.launcher.process import free_port
from deploy.launcher.services import REPO_ROOT
from deploy.launcher.stack import issue_admin_token
from shared.kafka import ensure_topics, topic_specs
from shared.settings import CommonSettings, env_name

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]

# Two thirds into the campaign of 27 April–31 May 2022: every unit is expected at 66.67%.
CLOCK = "2022-05-20T08:00:00+07:00"
CAMPAIGN_DAYS = ("2022-04-27", "2022-05-31")
PROVINCE = "dak-lak"
EDUCATION, CITY = "cd-giao-duc-dak-lak", "ldld-tp-buon-ma-thuot"
UPPERS = {
    EDUCATION: "Công đoàn ngành Giáo dục tỉnh Đắk Lắk",
    CITY: "Liên đoàn Lao động thành phố Buôn Ma Thuột",
}
SCHOOL, LAGGING = "cdcs-thpt-chu-van-an", "cdcs-benh-vien-tp-buon-ma-thuot"
# id: name, parent, emulation cluster, members, the days its initiatives were registered.
GRASSROOTS = {
    SCHOOL: ("CĐCS Trường THPT Chu Văn An", EDUCATION, "Cụm thi đua số 1", 62,
             ["2022-04-28", "2022-05-03", "2022-05-10", "2022-05-18"]),
    "cdcs-thcs-phan-chu-trinh": ("CĐCS Trường THCS Phan Chu Trinh", EDUCATION, "Cụm thi đua số 2",
                                 45, ["2022-05-02", "2022-05-12", "2022-05-19"]),
    "cdcs-cong-ty-ca-phe-thang-loi": ("CĐCS Công ty Cà phê Thắng Lợi", CITY, "Cụm thi đua số 1",
                                      180, ["2022-04-27", "2022-05-05", "2022-05-14",
                                            "2022-05-16", "2022-05-19"]),
    # 1 of 5 where 3.33 are expected: critical.
    LAGGING: ("CĐCS Bệnh viện thành phố Buôn Ma Thuột", CITY, "Cụm thi đua số 2", 120,
              ["2022-05-06"]),
}  # fmt: skip
TARGETS = {PROVINCE: 20, EDUCATION: 10, CITY: 10} | dict.fromkeys(GRASSROOTS, 5)
TITLES = iter(
    [
        "Ứng dụng bảng tính theo dõi chuyên cần học sinh",
        "Số hoá hồ sơ thiết bị phòng thí nghiệm",
        "Sổ liên lạc điện tử cho phụ huynh học sinh",
        "Ngân hàng đề kiểm tra dùng chung trong tổ chuyên môn",
        "Góc đọc sách thân thiện tại hành lang lớp học",
        "Sắp xếp lịch trực bán trú tự động",
        "Hướng dẫn ôn thi trực tuyến cho học sinh yếu",
        "Cải tiến máy xát vỏ cà phê giảm hao hụt",
        "Tận dụng vỏ cà phê làm phân hữu cơ vi sinh",
        "Tưới nhỏ giọt tiết kiệm nước cho vườn cà phê",
        "Phơi sấy cà phê bằng nhà kính năng lượng mặt trời",
        "Bảng kiểm an toàn lao động tại xưởng chế biến",
        "Rút ngắn thời gian chờ khám bằng phiếu hẹn giờ",
    ]
)
REVIEWED = "Cải tiến máy xát vỏ cà phê giảm hao hụt"
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"


@dataclass
class Stack:
    """The three services, the campaign they were loaded with and an admin token."""

    submission: str
    scoring: str
    notifier: str
    campaign: str
    token: str
    titles: dict[str, list[str]]  # grassroots unit → the titles registered there

    def scoring_json(self, path: str) -> Any:
        """A scoring answer about the campaign."""
        return httpx.get(f"{self.scoring}/campaigns/{self.campaign}/{path}", timeout=10).json()

    def submission_client(self) -> httpx.Client:
        """A client of the submission service with the admin token."""
        auth = {"Authorization": f"Bearer {self.token}"}
        return httpx.Client(base_url=self.submission, headers=auth, timeout=10)

    def page_url(self, *, token: bool) -> str:
        """The dashboard of the campaign, with the token in the fragment or without it."""
        url = f"{self.scoring}/dashboard?campaign={self.campaign}"
        return f"{url}#token={self.token}" if token else url


def vn(value: float) -> str:
    """A number as the page writes it (vi-VN: 1.234,5, at most two decimals)."""
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.2)


# --- the stack ---------------------------------------------------------------------------------


def _env(
    common: CommonSettings, workdir: Path, urls: dict[str, str], unique: str
) -> dict[str, str]:
    values = {
        **{f: str(getattr(common, f)) for f in ("kafka_bootstrap_servers", "redis_url")},
        **{
            f: str(getattr(common, f))
            for f in CommonSettings.model_fields
            if f.startswith("topic_")
        },
        "initiative_events_partitions": str(common.initiative_events_partitions),
        "submission_database_url": f"sqlite+aiosqlite:///{workdir}/submission.db",
        "notifier_database_url": f"sqlite+aiosqlite:///{workdir}/notifier.db",
        "submission_relay_idle_seconds": "0.2",
        "scoring_consumer_group": f"scoring-{unique}",
        "notifier_consumer_group": f"notifier-{unique}",
        "scoring_dashboard_submission_url": urls["submission"],
        "scoring_dashboard_notifier_url": urls["notifier"],
        "notifier_submission_url": urls["submission"],  # the notifier checks tokens there
        # The page is served by scoring and calls the other two from the browser.
        "cors_allow_origins": json.dumps([urls["scoring"]]),
        "clock_start": CLOCK,
        "clock_speed": "0",
        "notifier_pending_minutes": "0",  # an evaluation fires what lags at once
        # Back-dated initiatives wait for review for weeks: keep the alerts to the pace ones.
        "notifier_backlog_limit_days": "30",
        "smtp_port": str(free_port()),  # nobody listens: mail would fail and be retried
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("SANGKIEN_")}
    secret = os.environ[env_name("submission_person_key_secret")]
    return {
        **base,
        env_name("submission_person_key_secret"): secret,
        **{env_name(k): v for k, v in values.items()},
    }


def _register(client: httpx.Client, campaign: str, unit: str, title: str, day: str | None) -> str:
    submitted = date.fromisoformat(day or CLOCK[:10])
    body = {
        "campaign_id": campaign,
        "union_id": unit,
        "title": title,
        "field": "Giáo dục và đào tạo" if "cdcs-th" in unit else "Sản xuất, kinh doanh",
        "authors": [{"name": f"Tác giả {title[:12]}", "category": "public_service_staff"}],
        "recognised_by": "initiative_council",
        "recognised_on": str(submitted - timedelta(days=1)),
        "application_date": "2022-03-01",
        "estimated_benefit_vnd": 15_000_000,
    }
    if day is not None:  # a paper form entered later, on the day it was handed in
        body["submitted_at"] = f"{day}T09:00:00+07:00"
    response = client.post("/initiatives", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _load(client: httpx.Client, campaign: str) -> dict[str, list[str]]:
    """The province, two upper-level unions, four grassroots unions, the campaign, the
    targets and thirteen initiatives, one of them reviewed valid."""
    units = [(PROVINCE, "Liên đoàn Lao động tỉnh Đắk Lắk", "tong-ldld-vn", "province", {})]
    units += [(uid, name, PROVINCE, "upper_level", {}) for uid, name in UPPERS.items()]
    units += [
        (uid, name, parent, "grassroots", {"emulation_cluster": cluster, "members": members})
        for uid, (name, parent, cluster, members, _) in GRASSROOTS.items()
    ]
    for uid, name, parent, level, extra in units:
        body = {"id": uid, "name": name, "parent_id": parent, "level": level, **extra}
        client.post("/units", json=body).raise_for_status()
    campaign_body = {
        "id": campaign,
        "name": "Chiến dịch thi đua cao điểm 40 ngày",
        "organiser_id": PROVINCE,
        "starts_on": CAMPAIGN_DAYS[0],
        "ends_on": CAMPAIGN_DAYS[1],
        "eligible_from": "2022-01-08",
        "eligible_to": CAMPAIGN_DAYS[1],
        "counts": "registered",
    }
    client.post("/campaigns", json=campaign_body).raise_for_status()
    for uid, target in TARGETS.items():
        body = {"assigned_target": target, "reason": "Công văn 1335/LĐLĐ"}
        client.put(f"/campaigns/{campaign}/targets/{uid}", json=body).raise_for_status()
    # Back-dating is the support team's (importer) right: paper forms entered later.
    team = {"role": "importer", "scope_union_id": PROVINCE, "actor_id": "to-ho-tro-dak-lak"}
    issued = client.post("/tokens", json={**team, "label": "Tổ hỗ trợ sáng kiến tỉnh"})
    issued.raise_for_status()
    importer = {"Authorization": f"Bearer {issued.json()['token']}"}
    titles: dict[str, list[str]] = {}
    with httpx.Client(base_url=client.base_url, headers=importer, timeout=10) as support_team:
        for uid, (*_, days) in GRASSROOTS.items():
            for day in days:
                title = next(TITLES)
                initiative = _register(support_team, campaign, uid, title, day)
                titles.setdefault(uid, []).append(title)
                if title == REVIEWED:
                    review = {"decision": "valid", "note": "Hội đồng sáng kiến công ty công nhận"}
                    url = f"/initiatives/{initiative}/review"
                    client.post(url, json=review).raise_for_status()
    return titles


def _scored(stack: Stack) -> bool:
    """Scoring counted all thirteen and ranked every unit."""
    province = stack.scoring_json(f"units/{PROVINCE}/progress")
    grassroots = stack.scoring_json("leaderboards/level/grassroots")["items"]
    uppers = stack.scoring_json(f"leaderboards/children/{PROVINCE}")["items"]
    return province.get("counted") == 13 and (len(grassroots), len(uppers)) == (4, 2)


def _firing(stack: Stack) -> set[tuple[str, str]]:
    query = {"campaign_id": stack.campaign, "status": "firing"}
    alerts = httpx.get(f"{stack.notifier}/alerts", params=query, timeout=10).json()
    return {(a["unit_id"], a["rule"]) for a in alerts}


def _evaluated(stack: Stack) -> bool:
    """The notifier evaluated the campaign and the lagging unit's alert fires (503 while the
    notifier still reads the registry)."""
    auth = {"Authorization": f"Bearer {stack.token}"}  # an admin over the whole hierarchy
    httpx.post(f"{stack.notifier}/evaluations", headers=auth, timeout=30)
    return (LAGGING, "critical") in _firing(stack)


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Submission, scoring and notifier on the campaign's 20 May, loaded through the API."""
    unique = uuid4().hex[:10]
    workdir = tmp_path_factory.mktemp("dashboard")
    common = CommonSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        redis_url=redis_url,
        topic_initiative_events=f"e2e-{unique}.initiative-events",
        topic_registry=f"e2e-{unique}.registry",
        topic_alerts=f"e2e-{unique}.alerts",
        topic_dead_letter=f"e2e-{unique}.dead-letter",
        initiative_events_partitions=3,
    )
    asyncio.run(ensure_topics(common.kafka_servers, topic_specs(common)))
    ports = {name: free_port() for name in ("submission", "scoring", "notifier")}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = _env(common, workdir, urls, unique)
    started: list[ServiceProcess] = []
    try:
        for name, port in ports.items():
            log_dir = workdir / "logs"
            started.append(start_service(name, port=port, env=env, log_dir=log_dir, log=print))
        token = issue_admin_token(workdir / "admin.token", env)
        campaign = f"cao-diem-40-ngay-{unique}"
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=urls["submission"], headers=auth, timeout=10) as client:
            titles = _load(client, campaign)
        world = Stack(
            urls["submission"], urls["scoring"], urls["notifier"], campaign, token, titles
        )
        _eventually(lambda: _scored(world), "scoring counts and ranks the initiatives")
        _eventually(lambda: _evaluated(world), "the lagging unit's alert fires")
        yield world
    finally:
        for service in reversed(started):
            service.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium (Playwright's own browser download is not available here)."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


# --- the page ----------------------------------------------------------------------------------


def _open(browser: Browser, url: str, **context: Any) -> tuple[Page, list[str]]:
    """A fresh browser context (its own storage) on ``url``, once the page is ready;
    also the page's script errors, which a test expects to stay empty."""
    page = browser.new_context(**context).new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-state", "ready", timeout=15_000)
    return page, errors


def _node(page: Page | Locator, unit: str) -> Locator:
    return page.locator(f'[data-testid="tree-node"][data-unit-id="{unit}"]').first


def _row_text(node: Locator, testid: str) -> str:
    """A tree node's own number (not one of its children's)."""
    return node.locator(f':scope > .node-row [data-testid="{testid}"]').inner_text()


def _ids(page: Page, selector: str) -> list[str | None]:
    return [e.get_attribute("data-unit-id") for e in page.locator(selector).all()]


def _wait_ids(page: Page, selector: str, expected: list[str]) -> None:
    """Wait until the elements' unit ids are ``expected``, in order; then compare (the
    assertion shows the difference when they never were)."""
    script = """([selector, ids]) => JSON.stringify(
        [...document.querySelectorAll(selector)].map((e) => e.dataset.unitId)
    ) === JSON.stringify(ids)"""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_function(script, arg=[selector, expected], timeout=10_000)
    assert _ids(page, selector) == expected


def _children_match(page: Page, stack: Stack, parent: str) -> None:
    rows = stack.scoring_json(f"units/{parent}/children")["items"]
    selector = f'[data-unit-id="{parent}"] > ul > [data-testid="tree-node"]'
    _wait_ids(page, selector, [row["union_id"] for row in rows])
    for row in rows:
        node = _node(page, row["union_id"])
        assert _row_text(node, "node-counted") == vn(row["counted"])
        assert _row_text(node, "node-percentage") == (
            "—" if row["percentage"] is None else f"{vn(row['percentage'])}%"
        )


def test_the_page_shows_what_the_apis_say(stack: Stack, browser: Browser, tmp_path: Path) -> None:
    page, errors = _open(
        browser, stack.page_url(token=True), viewport={"width": 1280, "height": 900}
    )
    province = stack.scoring_json(f"units/{PROVINCE}/progress")

    assert "token" not in page.url  # moved into storage, out of the address bar
    expect(page.get_by_test_id("summary-name")).to_have_text(province["name"])
    expect(page.get_by_test_id("summary-counted")).to_have_text(vn(province["counted"]))
    expect(page.get_by_test_id("summary-percentage")).to_have_text(f"{vn(province['percentage'])}%")
    assert (province["counted"], province["percentage"]) == (13, 65.0)
    burnup = stack.scoring_json(f"units/{PROVINCE}/burnup")
    actual_days = sum(1 for p in burnup["points"] if p["actual"] is not None)
    expect(page.get_by_test_id("burnup-actual")).to_have_attribute("data-count", str(actual_days))

    # The tree: the province's children, then the city federation's, as scoring ranks them.
    _children_match(page, stack, PROVINCE)
    _node(page, CITY).locator(':scope > .node-row [data-testid="node-toggle"]').click()
    _children_match(page, stack, CITY)
    assert _row_text(_node(page, LAGGING), "node-percentage") == "20%"

    # The emulation ranking of every grassroots union, by percentage of target.
    page.get_by_test_id("leaderboard-group").select_option("level/grassroots")
    board = stack.scoring_json("leaderboards/level/grassroots?metric=pct")["items"]
    _wait_ids(page, '[data-testid="leaderboard-row"]', [row["union_id"] for row in board])
    assert [row["union_id"] for row in board][-1] == LAGGING

    # The firing alerts: the lagging hospital's, critical.
    expect(page.locator(f'[data-testid="alert-row"][data-unit-id="{LAGGING}"]')).to_have_attribute(
        "data-rule", "critical"
    )
    shown = {
        (row.get_attribute("data-unit-id"), row.get_attribute("data-rule"))
        for row in page.get_by_test_id("alert-row").all()
    }
    firing = _firing(stack)
    # Like the notifier's messages, the page shows a critical unit's "behind" no more.
    assert shown == {(u, r) for u, r in firing if r != "behind" or (u, "critical") not in firing}

    # Behind the city federation's number: exactly its two unions' initiatives.
    _node(page, CITY).locator(':scope > .node-row [data-testid="node-counted"]').click()
    expect(page.get_by_test_id("drilldown-unit")).to_contain_text(UPPERS[CITY])
    expected_titles = stack.titles["cdcs-cong-ty-ca-phe-thang-loi"] + stack.titles[LAGGING]
    titles = page.get_by_test_id("initiative-title")
    expect(titles).to_have_count(len(expected_titles))
    assert sorted(titles.all_inner_texts()) == sorted(expected_titles)
    with stack.submission_client() as client:
        listed = client.get(
            "/initiatives", params={"union_id": CITY, "campaign_id": stack.campaign}
        ).json()["items"]
        reviewed = next(item for item in listed if item["title"] == REVIEWED)
        history = client.get(f"/initiatives/{reviewed['id']}").json()["history"]
    assert titles.all_inner_texts() == [item["title"] for item in listed]  # newest first
    page.get_by_test_id("initiative-title").filter(has_text=REVIEWED).click()
    steps = page.get_by_test_id("initiative-detail").get_by_test_id("history-step")
    expect(steps).to_have_count(len(history))
    assert [s.get_attribute("data-status") for s in steps.all()] == [h["status"] for h in history]
    assert [h["status"] for h in history] == ["submitted", "valid"]
    expect(steps.last).to_contain_text("Hội đồng sáng kiến công ty công nhận")

    page.screenshot(path=tmp_path / "dashboard-desktop.png", full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard-desktop.png", full_page=True)
    assert errors == []


def test_the_page_fits_a_phone_screen(stack: Stack, browser: Browser, tmp_path: Path) -> None:
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    page, errors = _open(browser, stack.page_url(token=True), **phone)
    _node(page, CITY).locator(':scope > .node-row [data-testid="node-toggle"]').click()
    expect(_node(page, LAGGING)).to_be_visible()
    _node(page, LAGGING).locator(':scope > .node-row [data-testid="node-counted"]').click()
    expect(page.get_by_test_id("initiative-title")).to_have_count(len(stack.titles[LAGGING]))

    width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide on a {width[1]} px screen"
    page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
    assert errors == []


def test_a_new_registration_shows_live_and_the_drilldown_asks_for_a_token(
    stack: Stack, browser: Browser
) -> None:
    page, errors = _open(browser, stack.page_url(token=False))
    expect(page.get_by_test_id("live-status")).to_have_attribute("data-state", "live")
    before = stack.scoring_json(f"units/{PROVINCE}/progress")["counted"]
    education = stack.scoring_json(f"units/{EDUCATION}/progress")["counted"]
    page.evaluate("window.sameDocument = true")  # a reload would lose it

    with stack.submission_client() as client:
        _register(client, stack.campaign, SCHOOL, "Nhắc lịch bảo dưỡng thiết bị dạy học", None)

    counted = page.get_by_test_id("summary-counted")
    expect(counted).to_have_text(vn(before + 1), timeout=20_000)
    # The tree follows too: the stream's change makes the page read its lists again.
    expect(
        _node(page, EDUCATION).locator(':scope > .node-row [data-testid="node-counted"]')
    ).to_have_text(vn(education + 1))
    assert page.evaluate("window.sameDocument") is True

    # No token in this browser: the numbers are public, the initiatives behind them are not.
    counted.click()
    expect(page.get_by_test_id("drilldown-need-token")).to_be_visible()
    expect(page.get_by_test_id("initiative-row")).to_have_count(0)
    assert errors == []
