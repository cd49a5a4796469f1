"""One valid event of every type, in Vietnamese, for tests that need realistic events."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from shared.events import (
    AlertChannel,
    AlertRule,
    AnyEvent,
    AuthorCategory,
    AuthorRef,
    CampaignDefined,
    CampaignDefinedData,
    CountedStatus,
    InitiativeReviewed,
    InitiativeReviewedData,
    InitiativeSubmitted,
    InitiativeSubmittedData,
    InitiativeWithdrawn,
    InitiativeWithdrawnData,
    LagAlertRaised,
    LagAlertRaisedData,
    LagAlertResolved,
    LagAlertResolvedData,
    PacePoint,
    RecognisedBy,
    ReviewDecision,
    TargetSet,
    TargetSetData,
    UnionHead,
    UnionLevel,
    UnionUpserted,
    UnionUpsertedData,
)

ICT = timezone(timedelta(hours=7))  # Asia/Ho_Chi_Minh has no daylight saving time
CAMPAIGN = "mot-trieu-sang-kien-2025"
ROOT = "tong-ldld-vn"
PROVINCE = "dak-lak"
UPPER = "dak-lak-giao-duc"
GRASSROOTS = "cdcs-thpt-buon-ma-thuot"
GRASSROOTS_PATH = [ROOT, PROVINCE, UPPER, GRASSROOTS]
INITIATIVE_ID = UUID("5b0e3c1e-8a4f-4c55-9d2b-6f1a2c3d4e5f")
ALERT_ID = UUID("9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f")
SUBMITTED_AT = datetime(2025, 5, 12, 9, 30, tzinfo=ICT)


def initiative_submitted() -> InitiativeSubmitted:
    """A grassroots union's initiative, just submitted."""
    return InitiativeSubmitted(
        event_id=UUID("00000000-0000-4000-8000-000000000001"),
        occurred_at=SUBMITTED_AT,
        campaign_id=CAMPAIGN,
        union_id=GRASSROOTS,
        union_path=GRASSROOTS_PATH,
        data=InitiativeSubmittedData(
            initiative_id=INITIATIVE_ID,
            title="Cải tiến quy trình tiếp nhận hồ sơ",
            field="Giáo dục và đào tạo",
            authors=[
                AuthorRef(person_key="p-7f3a9c", category=AuthorCategory.PUBLIC_SERVICE_STAFF),
                AuthorRef(person_key="p-1b2e4d", category=AuthorCategory.UNION_OFFICIAL),
            ],
            estimated_benefit_vnd=120_000_000,
            application_date=date(2025, 3, 1),
            recognised_by=RecognisedBy.INITIATIVE_COUNCIL,
            recognised_on=date(2025, 4, 20),
            entered_by="ho-tro-03",
        ),
    )


def initiative_reviewed() -> InitiativeReviewed:
    """The review that found the sample initiative valid."""
    return InitiativeReviewed(
        event_id=UUID("00000000-0000-4000-8000-000000000002"),
        occurred_at=datetime(2025, 5, 14, 15, 0, tzinfo=ICT),
        campaign_id=CAMPAIGN,
        union_id=GRASSROOTS,
        union_path=GRASSROOTS_PATH,
        data=InitiativeReviewedData(
            initiative_id=INITIATIVE_ID,
            decision=ReviewDecision.VALID,
            reviewer_id="can-bo-dak-lak-12",
            note="Đạt yêu cầu, đề nghị nhân rộng trong ngành giáo dục",
            submitted_at=SUBMITTED_AT,
        ),
    )


def initiative_withdrawn() -> InitiativeWithdrawn:
    """The sample initiative withdrawn by its author before review."""
    return InitiativeWithdrawn(
        event_id=UUID("00000000-0000-4000-8000-000000000003"),
        occurred_at=datetime(2025, 5, 13, 8, 0, tzinfo=ICT),
        campaign_id=CAMPAIGN,
        union_id=GRASSROOTS,
        union_path=GRASSROOTS_PATH,
        data=InitiativeWithdrawnData(
            initiative_id=INITIATIVE_ID,
            withdrawn_by="ho-tro-03",
            reason="Tác giả xin rút để hoàn thiện thêm số liệu",
            submitted_at=SUBMITTED_AT,
        ),
    )


def union_upserted() -> UnionUpserted:
    """The provincial education union, with a head who gets e-mail and webhook alerts."""
    return UnionUpserted(
        event_id=UUID("00000000-0000-4000-8000-000000000004"),
        occurred_at=datetime(2025, 4, 1, 8, 0, tzinfo=ICT),
        union_id=UPPER,
        union_path=[ROOT, PROVINCE, UPPER],
        data=UnionUpsertedData(
            name="Công đoàn ngành Giáo dục tỉnh Đắk Lắk",
            level=UnionLevel.UPPER_LEVEL,
            parent_id=PROVINCE,
            sector="Giáo dục",
            emulation_cluster="Cụm thi đua số 3",
            members=24_500,
            head=UnionHead(
                name="Chủ tịch Công đoàn ngành",
                email="chutich@congdoan-giaoduc.daklak.vn",
                webhook_url="https://hooks.daklak.congdoan.vn/alerts",
                alert_channels=[AlertChannel.EMAIL, AlertChannel.WEBHOOK],
            ),
        ),
    )


def campaign_defined() -> CampaignDefined:
    """The national campaign, 35 days, with a slow-start pace curve."""
    return CampaignDefined(
        event_id=UUID("00000000-0000-4000-8000-000000000005"),
        occurred_at=datetime(2025, 4, 1, 7, 0, tzinfo=ICT),
        campaign_id=CAMPAIGN,
        union_id=ROOT,
        union_path=[ROOT],
        data=CampaignDefinedData(
            name="Phong trào “01 triệu sáng kiến” năm 2025",
            starts_on=date(2025, 5, 1),
            ends_on=date(2025, 6, 4),
            eligible_from=date(2024, 1, 1),
            eligible_to=date(2025, 6, 4),
            pace_curve=[
                PacePoint(elapsed=0.0, expected=0.0),
                PacePoint(elapsed=0.5, expected=0.4),
                PacePoint(elapsed=1.0, expected=1.0),
            ],
        ),
    )


def target_set() -> TargetSet:
    """Đắk Lắk's target, raised from the assigned figure."""
    return TargetSet(
        event_id=UUID("00000000-0000-4000-8000-000000000006"),
        occurred_at=datetime(2025, 4, 2, 10, 0, tzinfo=ICT),
        campaign_id=CAMPAIGN,
        union_id=PROVINCE,
        union_path=[ROOT, PROVINCE],
        data=TargetSetData(
            assigned_target=12_000,
            own_target=15_000,
            previous_own_target=13_000,
            changed_by="quan-tri-01",
            reason="Tỉnh đăng ký vượt chỉ tiêu được giao",
        ),
    )


def lag_alert_raised() -> LagAlertRaised:
    """The education union is behind; Đắk Lắk's head is told."""
    return LagAlertRaised(
        event_id=UUID("00000000-0000-4000-8000-000000000007"),
        occurred_at=datetime(2025, 5, 20, 6, 0, tzinfo=ICT),
        campaign_id=CAMPAIGN,
        union_id=UPPER,
        union_path=[ROOT, PROVINCE, UPPER],
        data=LagAlertRaisedData(
            alert_id=ALERT_ID,
            rule=AlertRule.BEHIND,
            counted=610,
            expected=900.0,
            target=2_000,
            gap=290.0,
            recipient_union_id=PROVINCE,
            message="Công đoàn ngành Giáo dục đạt 610/900 sáng kiến dự kiến (68%), chậm tiến độ.",
        ),
    )


def lag_alert_resolved() -> LagAlertResolved:
    """The education union caught up."""
    return LagAlertResolved(
        event_id=UUID("00000000-0000-4000-8000-000000000008"),
        occurred_at=datetime(2025, 5, 27, 6, 0, tzinfo=ICT),
        campaign_id=CAMPAIGN,
        union_id=UPPER,
        union_path=[ROOT, PROVINCE, UPPER],
        data=LagAlertResolvedData(
            alert_id=ALERT_ID,
            rule=AlertRule.BEHIND,
            counted=1_350,
            expected=1_300.0,
            target=2_000,
            recipient_union_id=PROVINCE,
            message="Công đoàn ngành Giáo dục đã bắt kịp tiến độ: 1350/1300 sáng kiến dự kiến.",
        ),
    )


def sample_events() -> list[AnyEvent]:
    """One valid event of every type; the first is an InitiativeSubmitted."""
    return [
        initiative_submitted(),
        initiative_reviewed(),
        initiative_withdrawn(),
        union_upserted(),
        campaign_defined(),
        target_set(),
        lag_alert_raised(),
        lag_alert_resolved(),
    ]


def union_event(
    path: list[str],
    level: UnionLevel,
    *,
    members: int = 100,
    cluster: str | None = None,
    head: UnionHead | None = None,
) -> UnionUpserted:
    """A unit at the end of ``path``, as the registry topic carries it."""
    data = UnionUpsertedData(
        name=f"Đơn vị {path[-1]}",
        level=level,
        parent_id=path[-2] if len(path) > 1 else None,
        members=members,
        emulation_cluster=cluster,
        head=head,
    )
    return UnionUpserted(
        occurred_at=datetime(2022, 4, 27, 8, tzinfo=ICT),
        campaign_id=None,
        union_id=path[-1],
        union_path=path,
        data=data,
    )


def dak_lak_campaign(campaign_id: str, organiser_path: list[str]) -> CampaignDefined:
    """The 40-day peak campaign of 27 April–31 May 2022, counting registered initiatives."""
    data = CampaignDefinedData(
        name="Đợt cao điểm 40 ngày",
        starts_on=date(2022, 4, 27),
        ends_on=date(2022, 5, 31),
        eligible_from=date(2022, 1, 8),
        eligible_to=date(2022, 5, 31),
        counts=CountedStatus.REGISTERED,
    )
    return CampaignDefined(
        occurred_at=datetime(2022, 4, 27, 8, tzinfo=ICT),
        campaign_id=campaign_id,
        union_id=organiser_path[-1],
        union_path=organiser_path,
        data=data,
    )


def target_event(
    campaign_id: str, path: list[str], *, own: int | None = None, assigned: int | None = None
) -> TargetSet:
    """A unit's target in a campaign."""
    data = TargetSetData(assigned_target=assigned, own_target=own, changed_by="lanh-dao-tinh")
    return TargetSet(
        occurred_at=datetime(2022, 4, 27, 8, tzinfo=ICT),
        campaign_id=campaign_id,
        union_id=path[-1],
        union_path=path,
        data=data,
    )
