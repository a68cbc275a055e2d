"""一人一档: the documents of a person's case file.

Three parts:

* **Kinds and templates.** ``KINDS`` lists the 27 documents of the case file. Five of them can be
  generated as printable PDFs from versioned templates (``TEMPLATES``); any kind can be uploaded as a
  scan (PDF, JPEG or PNG).
* **Rendering** with reportlab and its built-in CID font ``STSong-Light``, so Chinese prints without
  a font file and offline. Every page carries a footer (platform, generation time, generating user,
  page x of y) and a faint diagonal watermark.
* **Services and selectors**: ``document_generate``, ``document_upload``, ``document_content`` (the
  audited download, checked against the stored SM3 digest), ``person_archive`` and the
  ``archive_checklist`` selector.

The documents are served to the person, so the PDF holds their full name and ID number. Those values
never go into audit details, file names or titles.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Flowable, HRFlowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from jindu.core.audit import audit_write
from jindu.core.errors import NotFound, ServiceError, join_problems
from jindu.core.models import AuditAction, OrgUnit
from jindu.core.scoping import READ, WRITE, access_object, capture_root_ids, in_roots, user_may
from jindu.core.storedfiles import UploadError, check_upload, encode_content, read_content, stored_text
from jindu.people.models import (
    ACTIVE_STATUSES,
    TREATMENT_MEASURES,
    CaseDocument,
    Enrollment,
    EnrollmentStatus,
    HelpMeasure,
    Person,
)

PLATFORM_NAME = "禁毒综合治理平台"
FONT = "STSong-Light"  # reportlab's built-in Adobe CID font for simplified Chinese: no font file needed


# Kinds ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentKind:
    """One document of the 一人一档 case file: a code, an English label for the UI (translated through the
    catalogue) and the official Chinese name, which is printed on documents and used as the stored title."""

    code: str
    label: Promise
    official_name: str


# The 27 documents of 一人一档 (casemgmt.md §1.7), in the order of the case file.
KINDS: tuple[DocumentKind, ...] = (
    DocumentKind("decision_notice", gettext_lazy("Decision notice"), "决定书"),  # 责令社区戒毒/康复决定书
    DocumentKind("information_notice", gettext_lazy("Notice of rights and duties"), "告知书"),  # 告知书
    DocumentKind("work_group_register", gettext_lazy("Work group register"), "工作小组登记表"),
    DocumentKind("agreement", gettext_lazy("Agreement"), "协议书"),  # 社区戒毒/社区康复协议书
    DocumentKind("code_of_conduct", gettext_lazy("Code of conduct"), "人员守则"),
    DocumentKind("rehabilitation_plan", gettext_lazy("Rehabilitation plan"), "帮教计划书"),  # 康复计划
    DocumentKind("residence_map", gettext_lazy("Residence location map"), "居住位置图"),
    DocumentKind("admonition_notice", gettext_lazy("Admonition notice"), "劝诫通知书"),
    DocumentKind("warning_notice", gettext_lazy("Warning notice"), "告诫通知书"),
    DocumentKind("test_notice", gettext_lazy("Drug test notice"), "尿检通知书"),
    DocumentKind("test_records", gettext_lazy("Record of regular tests"), "定期尿检记录"),
    DocumentKind("report_records", gettext_lazy("Record of regular reports"), "定期报告记录"),
    DocumentKind("interview_records", gettext_lazy("Record of regular interviews"), "定期访谈记录"),
    DocumentKind("service_records", gettext_lazy("Record of services and aid"), "接受服务救助情况记录"),
    DocumentKind("violation_records", gettext_lazy("Record of violations"), "违反协议记录"),
    DocumentKind("activity_records", gettext_lazy("Record of activities"), "参加活动情况记录"),
    DocumentKind("violation_report", gettext_lazy("Violation report"), "违反协议情况报告"),
    DocumentKind("transfer_approval", gettext_lazy("Change of place approval"), "变更执行地点审批表"),
    DocumentKind("leave_approval", gettext_lazy("Leave approval"), "外出请假审批表"),
    DocumentKind("assessment_report", gettext_lazy("Periodic assessment report"), "定期评估报告"),
    DocumentKind("suspension_statement", gettext_lazy("Suspension statement"), "中止情况说明"),
    DocumentKind("termination_statement", gettext_lazy("Termination statement"), "终止情况说明"),
    DocumentKind("continuation_statement", gettext_lazy("Continuation statement"), "继续情况说明"),
    DocumentKind("release_notice", gettext_lazy("Release notice"), "解除通知书"),
    DocumentKind("family_situation", gettext_lazy("Family situation"), "家庭情况"),
    DocumentKind("control_situation", gettext_lazy("Control situation"), "管控情况"),
    DocumentKind("dynamic_situation", gettext_lazy("Dynamic situation"), "动态情况"),
)
KIND_BY_CODE: dict[str, DocumentKind] = {kind.code: kind for kind in KINDS}

# Needed for every enrollment of a treatment measure that reached 报到 before the file can be archived.
ARCHIVE_REQUIRED_KINDS = ("decision_notice", "agreement")


def kind_label(code: str) -> str:
    kind = KIND_BY_CODE.get(code)
    return str(kind.label) if kind else code


# Chinese wording printed on documents (the UI's gettext labels are English until translated).
MEASURE_CN = {
    "community_treatment": "社区戒毒",
    "community_rehabilitation": "社区康复",
    "social_control": "社会面管控",
}
STATUS_CN = {
    "decided": "决定已送达",
    "reported": "已报到",
    "in_progress": "执行中",
    "transferring": "变更执行地中",
    "suspended": "中止",
    "not_reported": "未报到，已移交公安机关",
    "referred": "已移交公安机关",
    "released": "期满解除",
    "terminated": "终止",
}
SEX_CN = {"male": "男", "female": "女"}
HELP_CN = {
    "vocational_training": "职业技能培训",
    "job_placement": "就业安置",
    "legal_aid": "法律援助",
    "counselling": "心理咨询",
    "medical_aid": "医疗救助",
    "subsistence": "低保",
    "welfare_post": "公益性岗位",
}
HELP_OUTCOME_CN = {"pending": "办理中", "succeeded": "已落实", "failed": "未获得", "declined": "本人拒绝"}
BLANK = "＿＿＿＿＿＿＿＿"


# Errors -----------------------------------------------------------------------------------------------


class DocumentNotApplicable(ServiceError):
    """The person's case does not (yet) call for this document, e.g. a release notice before release."""

    status = 409


class CaseFileClosed(ServiceError):
    """The case file is archived, or cannot be archived while a measure is in progress."""

    status = 409


# Templates --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateField:
    """A value the user may fill in when generating (free text, or an ISO date); empty prints a blank.
    ``official_label`` is its name on the printed document."""

    name: str
    label: Promise
    official_label: str
    max_length: int = 500
    is_date: bool = False
    multiline: bool = False


@dataclass
class DocumentContext:
    """Everything a template may print: the person (decrypted), their measures, values filled in by the
    user, and who generated the document when."""

    person: Person
    enrollment: Enrollment | None
    enrollments: list[Enrollment]
    help_measures: list[HelpMeasure]
    values: dict[str, str]
    generated_at: dt.datetime
    generated_by: str
    unit_names: dict[int, str] = field(default_factory=dict)

    def unit_name(self, unit: OrgUnit | None) -> str:
        """The full name of an org unit from the top of the tree down (宁波市海曙区南门街道)."""
        if unit is None:
            return BLANK
        if unit.pk not in self.unit_names:
            names = dict(OrgUnit.objects.filter(code__in=unit.ancestor_codes()).values_list("code", "name"))
            self.unit_names[unit.pk] = "".join(names.get(code, "") for code in unit.ancestor_codes())
        return self.unit_names[unit.pk] or unit.name

    def value(self, name: str) -> str:
        return self.values.get(name, "")


@dataclass(frozen=True)
class DocumentTemplate:
    """A versioned document template. ``select`` picks the enrollment the document is about (or says why
    the document does not apply); ``build`` turns the context into reportlab flowables. A change of
    wording is a new ``version``: the stored documents record the version they were made from."""

    kind: str
    version: str
    title: Callable[[DocumentContext], str]
    select: Callable[[list[Enrollment]], Enrollment]
    build: Callable[[DocumentContext, Styles], list[Flowable]]
    fields: tuple[TemplateField, ...] = ()


class Styles:
    """Paragraph styles of the printed documents (A4, 宋体-like CID font, CJK line breaking)."""

    def __init__(self) -> None:
        base = {"fontName": FONT, "wordWrap": "CJK"}
        self.title = ParagraphStyle(
            "title", fontSize=18, leading=28, alignment=TA_CENTER, spaceAfter=4, **base
        )
        self.subtitle = ParagraphStyle("subtitle", fontSize=10.5, leading=16, alignment=TA_CENTER, **base)
        self.heading = ParagraphStyle(
            "heading", fontSize=12.5, leading=22, spaceBefore=8, spaceAfter=2, **base
        )
        self.body = ParagraphStyle("body", fontSize=11.5, leading=21, firstLineIndent=23, **base)
        self.plain = ParagraphStyle("plain", fontSize=11.5, leading=21, **base)
        self.item = ParagraphStyle("item", fontSize=11.5, leading=21, leftIndent=23, **base)
        self.cell = ParagraphStyle("cell", fontSize=10.5, leading=16, **base)
        self.right = ParagraphStyle("right", fontSize=11.5, leading=24, alignment=TA_RIGHT, **base)


def _text(value: Any) -> str:
    """Escape a value for reportlab's paragraph markup (names and user input may contain < or &)."""
    return escape(str(value)) if value not in (None, "") else BLANK


def _date(day: dt.date | None) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if day else "＿＿年＿＿月＿＿日"


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(text, style)


def _identity_table(ctx: DocumentContext, styles: Styles) -> Table:
    person = ctx.person
    rows = [
        ("姓名", person.name, "性别", SEX_CN.get(person.sex, person.sex)),
        ("公民身份号码", person.id_number, "出生日期", _date(person.birth_date)),
        (
            "户籍地",
            ctx.unit_name(person.household_registration) if person.household_registration_id else "",
            "",
            "",
        ),
        ("现居住地", ctx.unit_name(person.org_unit), "", ""),
    ]
    data = [[_p(_text(cell) if cell else "", styles.cell) for cell in row] for row in rows]
    table = Table(data, colWidths=[28 * mm, 62 * mm, 24 * mm, 46 * mm])
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
                ("BACKGROUND", (2, 0), (2, 1), colors.HexColor("#f2f2f2")),
                ("SPAN", (1, 2), (3, 2)),
                ("SPAN", (1, 3), (3, 3)),
            ]
        )
    )
    return table


def _ruled_lines(count: int) -> list[Flowable]:
    """Empty ruled lines to fill in by hand."""
    return [
        HRFlowable(width="100%", thickness=0.4, color=colors.grey, spaceBefore=7 * mm, spaceAfter=0)
        for _ in range(count)
    ]


def _signatures(lines: Iterable[str], styles: Styles) -> list[Flowable]:
    return [Spacer(1, 8 * mm), *(_p(line, styles.right) for line in lines)]


def _measure(enrollment: Enrollment | None) -> str:
    return MEASURE_CN.get(enrollment.measure, "") if enrollment else ""


def _latest_treatment(enrollments: list[Enrollment], *, condition: str = "") -> Enrollment:
    candidates = [e for e in enrollments if e.measure in TREATMENT_MEASURES]
    if not candidates:
        raise DocumentNotApplicable(
            _("The person has no community treatment or rehabilitation measure."), code="not_applicable"
        )
    latest = candidates[-1]
    if condition == "reported" and latest.reported_on is None:
        raise DocumentNotApplicable(
            _("The agreement is signed after the person reports (报到): record the report first."),
            code="not_applicable",
        )
    if condition == "released" and latest.status != EnrollmentStatus.RELEASED:
        raise DocumentNotApplicable(
            _("A release notice is issued when the measure is released at the end of its term."),
            code="not_applicable",
        )
    return latest


def _latest_active(enrollments: list[Enrollment]) -> Enrollment:
    active = [e for e in enrollments if e.status in ACTIVE_STATUSES]
    if not active:
        raise DocumentNotApplicable(_("The person has no measure in progress."), code="not_applicable")
    return active[-1]


# 责令社区戒毒/社区康复决定书 (送达告知联) ---------------------------------------------------------------


def _decision_notice(ctx: DocumentContext, styles: Styles) -> list[Flowable]:
    enrollment = ctx.enrollment
    assert enrollment is not None
    measure = _measure(enrollment)
    authority = _text(ctx.value("issuing_authority") or "公安机关")
    term = "三年" if enrollment.measure == "community_treatment" else "不超过三年"
    story: list[Flowable] = [
        _p(f"文号：{_text(ctx.value('decision_number'))}", styles.subtitle),
        Spacer(1, 4 * mm),
        _identity_table(ctx, styles),
        Spacer(1, 5 * mm),
        _p(
            f"{_text(ctx.person.name)}：{authority}已于{_date(enrollment.decision_date)}依法决定责令你接受"
            f"{measure}，期限{term}，自报到之日起计算。执行地为{_text(ctx.unit_name(enrollment.org_unit))}。",
            styles.body,
        ),
        _p(
            f"根据《戒毒条例》第十四条，你应当自收到本决定书之日起十五日内，即{_date(enrollment.report_deadline)}"
            f"以前，到执行地乡镇人民政府（街道办事处）报到。无正当理由逾期不报到的，视为拒绝接受{measure}，"
            "依照《中华人民共和国禁毒法》第三十八条，公安机关可以决定对你强制隔离戒毒。",
            styles.body,
        ),
        _p(
            "报到后，你应当与执行地签订协议，遵守协议，根据公安机关的要求定期接受检测。你的戒毒情况依法予以保密"
            "（《戒毒条例》第七条）。",
            styles.body,
        ),
        _p("对本决定不服的，可以依法申请行政复议或者提起行政诉讼。", styles.body),
    ]
    story += _signatures(
        [
            f"决定机关：{authority}",
            f"送达日期：{_date(enrollment.decision_date)}",
            "被决定人（签名）：＿＿＿＿＿＿＿＿　家属（签名）：＿＿＿＿＿＿＿＿",
        ],
        styles,
    )
    return story


# 社区戒毒/社区康复协议书 (戒毒条例 art. 16, 18–22) -------------------------------------------------------


def _agreement(ctx: DocumentContext, styles: Styles) -> list[Flowable]:
    enrollment = ctx.enrollment
    assert enrollment is not None
    measure = _measure(enrollment)
    unit = _text(ctx.unit_name(enrollment.org_unit))
    testing = _text(ctx.value("test_requirement") or "按照公安机关的要求")
    story: list[Flowable] = [
        _p(f"甲方：{unit}{measure}工作小组", styles.plain),
        _p(f"乙方：{_text(ctx.person.name)}（公民身份号码：{_text(ctx.person.id_number)}）", styles.plain),
        _p(
            f"乙方于{_date(enrollment.reported_on)}报到接受{measure}，期限至{_date(enrollment.term_end)}"
            f"（自报到之日起计算）。依照《中华人民共和国禁毒法》第三十四条和《戒毒条例》第十六条，双方签订本协议。",
            styles.body,
        ),
        _p("一、甲方的责任", styles.heading),
        _p("1. 组成工作小组，为乙方制定帮教（康复）计划，落实戒毒措施；", styles.item),
        _p("2. 对乙方进行戒毒知识辅导和教育、劝诫；", styles.item),
        _p("3. 根据需要为乙方提供职业技能培训、职业指导以及就学、就业、就医援助；", styles.item),
        _p("4. 对乙方的个人信息和戒毒情况予以保密（《戒毒条例》第七条）。", styles.item),
        _p("二、乙方的义务（《戒毒条例》第十九条）", styles.heading),
        _p("1. 履行本协议，遵守法律法规和工作小组的管理规定；", styles.item),
        _p(f"2. {testing}定期接受检测，按时参加尿检，不得逃避或者拒绝；", styles.item),
        _p("3. 离开执行地所在县（市、区）3日以上的，须事先书面报告；", styles.item),
        _p("4. 按照要求定期报告戒毒情况，接受工作小组的走访和谈话；", styles.item),
        _p(
            "5. 变更执行地的，自到达新执行地之日起15日内到新执行地报到（《戒毒条例》第二十二条）。",
            styles.item,
        ),
        _p("三、违反协议的处理", styles.heading),
        _p(
            "乙方违反本协议的，甲方给予批评、教育（《中华人民共和国禁毒法》第三十五条）。有下列情形之一的，"
            "属于严重违反协议（《戒毒条例》第二十条）：",
            styles.body,
        ),
        _p("（一）逃避或者拒绝接受检测3次以上；", styles.item),
        _p("（二）擅自离开执行地所在县（市、区）3次以上或者累计超过30日。", styles.item),
        _p(
            f"乙方拒绝接受{measure}、严重违反协议或者在{measure}期间吸食、注射毒品的，甲方专职工作人员应当及时"
            "报告当地公安机关（《戒毒条例》第二十一条），公安机关可以依法决定对乙方强制隔离戒毒。",
            styles.body,
        ),
    ]
    if ctx.value("other_terms"):
        story += [_p("四、其他约定", styles.heading), _p(_text(ctx.value("other_terms")), styles.body)]
    story.append(_p("本协议一式三份，甲方、乙方和公安机关各执一份，自双方签字之日起生效。", styles.body))
    story += _signatures(
        [
            "甲方（盖章）：＿＿＿＿＿＿＿＿　代表（签名）：＿＿＿＿＿＿＿＿",
            "乙方（签名）：＿＿＿＿＿＿＿＿　家属（签名）：＿＿＿＿＿＿＿＿",
            f"签订日期：{_date(enrollment.agreement_signed_on or enrollment.reported_on)}",
        ],
        styles,
    )
    return story


# 帮教计划书 / 康复计划 (fields per casemgmt.md §1.7) -----------------------------------------------------


def _drug_history(ctx: DocumentContext) -> str:
    person = ctx.person
    parts = [f"首次发现日期：{_date(person.first_found_date) if person.first_found_date else BLANK}"]
    if person.substances:
        parts.append("滥用物质：" + "、".join(escape(str(s)) for s in person.substances))
    for enrollment in ctx.enrollments:
        ended = f"至{_date(enrollment.ended_on)}" if enrollment.ended_on else ""
        parts.append(
            f"{_date(enrollment.decision_date)}起{_measure(enrollment)}{ended}"
            f"（{STATUS_CN.get(enrollment.status, enrollment.status)}）"
        )
    return "；".join(parts)


def _current_situation(ctx: DocumentContext) -> str:
    enrollment = ctx.enrollment
    assert enrollment is not None
    text = f"正在执行{_measure(enrollment)}（{STATUS_CN.get(enrollment.status, enrollment.status)}）"
    if enrollment.reported_on:
        text += f"，{_date(enrollment.reported_on)}报到，期限至{_date(enrollment.term_end)}"
    return text


def _help_measures(ctx: DocumentContext) -> str:
    return "；".join(
        f"{HELP_CN.get(m.kind, m.kind)}（{_date(m.referred_on)}转介，{HELP_OUTCOME_CN.get(m.outcome, m.outcome)}）"
        for m in ctx.help_measures
    )


# The 康复计划 fields (casemgmt.md §1.7) that the platform can partly fill from the records; the rest
# come from the user or are left as ruled lines to fill in by hand.
PLAN_PREFILL: dict[str, Callable[[DocumentContext], str]] = {
    "drug_history": _drug_history,
    "current_situation": _current_situation,
    "help_measures": _help_measures,
}
CHINESE_NUMERALS = "一二三四五六七八九十"


def _rehabilitation_plan(ctx: DocumentContext, styles: Styles) -> list[Flowable]:
    enrollment = ctx.enrollment
    assert enrollment is not None
    story: list[Flowable] = [
        _p(
            f"执行地：{_text(ctx.unit_name(enrollment.org_unit))}　措施：{_measure(enrollment)}",
            styles.subtitle,
        ),
        Spacer(1, 4 * mm),
        _identity_table(ctx, styles),
    ]
    for number, spec in enumerate(TEMPLATES["rehabilitation_plan"].fields):
        story.append(_p(f"{CHINESE_NUMERALS[number]}、{spec.official_label}", styles.heading))
        prefill = PLAN_PREFILL.get(spec.name)
        known = prefill(ctx) if prefill else ""
        entered = _text(ctx.value(spec.name)) if ctx.value(spec.name) else ""
        if known:
            story.append(_p(known, styles.body))
        if entered:
            story.append(_p(entered.replace("\n", "<br/>"), styles.body))
        if not known and not entered:
            story += _ruled_lines(3)
    story += _signatures(
        [
            "工作小组成员（签名）：＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿",
            "本人（签名）：＿＿＿＿＿＿＿＿　家属（签名）：＿＿＿＿＿＿＿＿",
            f"制定日期：{_date(ctx.generated_at.date())}",
        ],
        styles,
    )
    return story


# 解除社区戒毒/社区康复通知书 (戒毒条例 art. 23) ----------------------------------------------------------


def _release_notice(ctx: DocumentContext, styles: Styles) -> list[Flowable]:
    enrollment = ctx.enrollment
    assert enrollment is not None
    measure = _measure(enrollment)
    authority = _text(ctx.value("issuing_authority") or "公安机关")
    story: list[Flowable] = [
        _p(f"文号：{_text(ctx.value('notice_number'))}", styles.subtitle),
        Spacer(1, 4 * mm),
        _identity_table(ctx, styles),
        Spacer(1, 5 * mm),
        _p(
            f"{_text(ctx.person.name)}：你于{_date(enrollment.reported_on)}到{_text(ctx.unit_name(enrollment.org_unit))}"
            f"报到接受{measure}，期限于{_date(enrollment.term_end)}届满。根据《戒毒条例》第二十三条，"
            f"自{_date(enrollment.ended_on)}起解除{measure}。",
            styles.body,
        ),
        _p(
            "解除后，请继续远离毒品。依照《戒毒条例》第七条，戒断3年未复吸的，不再实行动态管控。"
            "你在入学、就业、享受社会保障等方面依法不受歧视（《中华人民共和国禁毒法》第五十二条）。",
            styles.body,
        ),
    ]
    story += _signatures(
        [
            f"发出机关：{authority}",
            f"日期：{_date(ctx.generated_at.date())}",
            "抄送：执行地乡镇人民政府（街道办事处）",
        ],
        styles,
    )
    return story


# 尿检通知书 ------------------------------------------------------------------------------------------------


def _test_notice(ctx: DocumentContext, styles: Styles) -> list[Flowable]:
    enrollment = ctx.enrollment
    assert enrollment is not None
    day = ctx.value("test_date")
    when = _date(dt.date.fromisoformat(day)) if day else "＿＿年＿＿月＿＿日"
    hour = _text(ctx.value("test_time")) if ctx.value("test_time") else "＿＿时＿＿分"
    place = _text(ctx.value("place") or ctx.unit_name(enrollment.org_unit))
    story: list[Flowable] = [
        _p(f"{_text(ctx.person.name)}（公民身份号码：{_text(ctx.person.id_number)}）：", styles.plain),
        _p(
            f"根据《戒毒条例》第十九条和你的{_measure(enrollment)}安排，请于{when}{hour}到{place}接受尿液检测，"
            "并携带本人身份证件。",
            styles.body,
        ),
    ]
    if enrollment.measure in TREATMENT_MEASURES:
        story.append(
            _p(
                "无正当理由逃避或者拒绝接受检测的，按违反协议处理；逃避或者拒绝接受检测3次以上的，属于严重违反"
                "协议（《戒毒条例》第二十条），将报告公安机关依法处理。",
                styles.body,
            )
        )
    story += _signatures(
        [f"通知单位：{_text(ctx.unit_name(enrollment.org_unit))}", f"日期：{_date(ctx.generated_at.date())}"],
        styles,
    )
    story += [
        Spacer(1, 6 * mm),
        _p(
            "－－－－－－－－－－－－－－－－（回执，沿此线剪下）－－－－－－－－－－－－－－－－",
            styles.subtitle,
        ),
        _p("本人已收到尿检通知，将按时接受检测。", styles.body),
        _p("签名：＿＿＿＿＿＿＿＿　日期：＿＿年＿＿月＿＿日", styles.right),
    ]
    return story


TEMPLATES: dict[str, DocumentTemplate] = {
    template.kind: template
    for template in (
        DocumentTemplate(
            kind="decision_notice",
            version="1",
            title=lambda ctx: f"责令{_measure(ctx.enrollment)}决定书（送达告知联）",
            select=_latest_treatment,
            build=_decision_notice,
            fields=(
                TemplateField("issuing_authority", gettext_lazy("Issuing authority"), "决定机关", 100),
                TemplateField("decision_number", gettext_lazy("Decision number"), "文号", 60),
            ),
        ),
        DocumentTemplate(
            kind="agreement",
            version="1",
            title=lambda ctx: f"{_measure(ctx.enrollment)}协议书",
            select=lambda enrollments: _latest_treatment(enrollments, condition="reported"),
            build=_agreement,
            fields=(
                TemplateField(
                    "test_requirement", gettext_lazy("Testing as required by the police"), "检测要求", 200
                ),
                TemplateField("other_terms", gettext_lazy("Other terms"), "其他约定", 2000, multiline=True),
            ),
        ),
        DocumentTemplate(
            kind="rehabilitation_plan",
            version="1",
            title=lambda ctx: f"{_measure(ctx.enrollment)}帮教计划书（康复计划）",
            select=_latest_active,
            build=_rehabilitation_plan,
            fields=(
                TemplateField(
                    "family_members", gettext_lazy("Family members"), "家庭成员", 2000, multiline=True
                ),
                TemplateField(
                    "drug_history",
                    gettext_lazy("Drug use and treatment history"),
                    "吸毒史及治疗情况",
                    2000,
                    multiline=True,
                ),
                TemplateField(
                    "current_situation", gettext_lazy("Current situation"), "当前情况", 2000, multiline=True
                ),
                TemplateField(
                    "treatment_measures",
                    gettext_lazy("Treatment measures"),
                    "戒毒治疗措施",
                    2000,
                    multiline=True,
                ),
                TemplateField(
                    "maintenance_treatment",
                    gettext_lazy("Encouraged to join maintenance treatment?"),
                    "是否动员参加药物维持治疗",
                    500,
                    multiline=True,
                ),
                TemplateField(
                    "counselling_plan",
                    gettext_lazy("Counselling plan"),
                    "心理咨询疏导计划",
                    2000,
                    multiline=True,
                ),
                TemplateField(
                    "help_measures",
                    gettext_lazy("Planned help and aid"),
                    "拟采取帮扶救助措施",
                    2000,
                    multiline=True,
                ),
            ),
        ),
        DocumentTemplate(
            kind="release_notice",
            version="1",
            title=lambda ctx: f"解除{_measure(ctx.enrollment)}通知书",
            select=lambda enrollments: _latest_treatment(enrollments, condition="released"),
            build=_release_notice,
            fields=(
                TemplateField("issuing_authority", gettext_lazy("Issuing authority"), "发出机关", 100),
                TemplateField("notice_number", gettext_lazy("Notice number"), "文号", 60),
            ),
        ),
        DocumentTemplate(
            kind="test_notice",
            version="1",
            title=lambda ctx: "尿检通知书",
            select=_latest_active,
            build=_test_notice,
            fields=(
                TemplateField("test_date", gettext_lazy("Test date"), "检测日期", 10, is_date=True),
                TemplateField("test_time", gettext_lazy("Time"), "时间", 20),
                TemplateField("place", gettext_lazy("Place"), "地点", 100),
            ),
        ),
    )
}


# Rendering --------------------------------------------------------------------------------------------


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _canvas_class(footer: str, watermark: str) -> type[pdf_canvas.Canvas]:
    """A canvas that holds its pages until the end, so each footer can say "page x of y"."""

    class FooterCanvas(pdf_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                self._decorate(number, total)
                super().showPage()
            super().save()

        def _decorate(self, number: int, total: int) -> None:
            width, _height = self._pagesize
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(colors.HexColor("#555555"))
            self.setStrokeColor(colors.HexColor("#999999"))
            self.line(18 * mm, 15 * mm, width - 18 * mm, 15 * mm)
            self.drawString(18 * mm, 10 * mm, footer)
            self.drawRightString(width - 18 * mm, 10 * mm, f"第 {number} 页 / 共 {total} 页")
            self.restoreState()

    def draw_watermark(canvas: pdf_canvas.Canvas, doc: Any) -> None:
        # Drawn when the page begins, so the text of the document prints over it.
        width, height = doc.pagesize
        canvas.saveState()
        canvas.setFont(FONT, 26)
        canvas.setFillColor(colors.Color(0.6, 0.6, 0.6, alpha=0.18))
        canvas.translate(width / 2, height / 2)
        canvas.rotate(35)
        for offset in (-90 * mm, 0, 90 * mm):
            canvas.drawCentredString(0, offset, watermark)
        canvas.restoreState()

    FooterCanvas.draw_watermark = staticmethod(draw_watermark)  # type: ignore[attr-defined]
    return FooterCanvas


def render_pdf(template: DocumentTemplate, ctx: DocumentContext) -> tuple[str, bytes]:
    """Render the template to PDF bytes; returns (title, bytes). The title never names the person."""
    _register_font()
    styles = Styles()
    title = template.title(ctx)
    stamp = timezone.localtime(ctx.generated_at).strftime("%Y-%m-%d %H:%M")
    footer = f"{PLATFORM_NAME} · 生成时间 {stamp} · 生成人 {ctx.generated_by} · 仅限工作使用，不得外传"
    canvas_class = _canvas_class(footer, f"{PLATFORM_NAME} {ctx.generated_by} {stamp[:10]}")
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=22 * mm,
        rightMargin=22 * mm,
        topMargin=22 * mm,
        bottomMargin=24 * mm,
        title=title,
        author=PLATFORM_NAME,
        creator=PLATFORM_NAME,
        subject=f"{template.kind} v{template.version}",
    )
    story = [_p(escape(title), styles.title), Spacer(1, 2 * mm), *template.build(ctx, styles)]
    watermark = canvas_class.draw_watermark  # type: ignore[attr-defined]
    document.build(story, onFirstPage=watermark, onLaterPages=watermark, canvasmaker=canvas_class)
    return title, buffer.getvalue()


# Selectors --------------------------------------------------------------------------------------------


def documents_of(user: Any, person: Person) -> QuerySet[CaseDocument]:
    """The person's documents the user may list (capture scope, not sealed), without their content."""
    return (
        CaseDocument.objects.for_user(user)
        .filter(person=person)
        .defer("content")
        .select_related("created_by")
        .order_by("kind", "id")
    )


def access_document(user: Any, pk: Any) -> CaseDocument:
    """One document (metadata only; its content is read by ``document_content``, which audits it)."""
    return access_object(
        user, CaseDocument.objects.defer("content").select_related("person"), pk, action=READ
    )


@dataclass(frozen=True)
class ChecklistItem:
    kind: str
    label: str
    required: int
    present: int

    @property
    def missing(self) -> int:
        return max(0, self.required - self.present)


@dataclass(frozen=True)
class ArchiveChecklist:
    """What archiving the case file needs: no measure in progress, and the required documents."""

    items: list[ChecklistItem]
    active_enrollments: int
    archived_on: dt.date | None

    @property
    def complete(self) -> bool:
        return all(item.missing == 0 for item in self.items)

    @property
    def may_archive(self) -> bool:
        return self.archived_on is None and self.active_enrollments == 0 and self.complete


def archive_checklist(person: Person) -> ArchiveChecklist:
    """Required document kinds, present and missing. Each enrollment of a treatment measure that reached
    报到 needs its own decision notice and agreement; documents are not linked to enrollments, so the
    check counts: n such enrollments need n documents of each kind."""
    enrollments = list(
        Enrollment.objects.filter(person=person, sealed=False).values_list("measure", "status", "reported_on")
    )
    reported = sum(
        1 for measure, _status, reported_on in enrollments if measure in TREATMENT_MEASURES and reported_on
    )
    active = sum(1 for _measure_, status, _reported in enrollments if status in ACTIVE_STATUSES)
    present = dict(
        CaseDocument.objects.filter(person=person, sealed=False, kind__in=ARCHIVE_REQUIRED_KINDS)
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    items = [
        ChecklistItem(kind=kind, label=kind_label(kind), required=reported, present=present.get(kind, 0))
        for kind in ARCHIVE_REQUIRED_KINDS
    ]
    return ArchiveChecklist(items=items, active_enrollments=active, archived_on=person.archived_on)


# Services ---------------------------------------------------------------------------------------------


def _require_writable(actor: Any, person: Person) -> None:
    """The actor may write the person's file (the CLI, ``actor`` None, may always), and the file is open:
    an archived file takes no new documents unless a new measure has started since."""
    if actor is not None and (
        not user_may(actor, CaseDocument, WRITE) or not in_roots(person.org_unit_id, capture_root_ids(actor))
    ):
        raise NotFound()
    if (
        person.archived_on is not None
        and not Enrollment.objects.filter(person=person, status__in=ACTIVE_STATUSES).exists()
    ):
        raise CaseFileClosed(
            _("The case file was archived on %(date)s and takes no new documents.")
            % {"date": person.archived_on.isoformat()},
            code="case_file_archived",
        )


def _actor_name(actor: Any) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "cli"
    full_name = getattr(actor, "full_name", "")
    return f"{full_name}（{actor.get_username()}）" if full_name else actor.get_username()


def _clean_values(template: DocumentTemplate, values: dict[str, Any]) -> dict[str, str]:
    known = {f.name: f for f in template.fields}
    problems: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for name, raw in values.items():
        spec = known.get(name)
        if spec is None:
            problems[name] = _("not a field of this document")
            continue
        value = str(raw or "").strip() if spec.multiline else " ".join(str(raw or "").split())
        # Control characters would print as boxes or break the PDF text; keep newlines in long texts.
        value = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", "", value)
        if len(value) > spec.max_length:
            problems[name] = _("at most %(n)s characters") % {"n": spec.max_length}
        elif value and spec.is_date:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                problems[name] = _("a date as YYYY-MM-DD")
        if value and name not in problems:
            cleaned[name] = value
    if problems:
        raise ServiceError(
            _("The document cannot be generated: %(problems)s")
            % {"problems": join_problems(problems.values())},
            code="invalid",
            fields=problems,
        )
    return cleaned


def _store(
    *,
    actor: Any,
    person: Person,
    kind: str,
    title: str,
    data: bytes,
    file_name: str,
    content_type: str,
    version: str,
) -> CaseDocument:
    """Save the document encrypted (base64 inside the SM4-GCM envelope) with its SM3 digest, and audit it,
    in one transaction."""
    content, digest = encode_content(data)
    generated = bool(version)
    with transaction.atomic():
        document = CaseDocument.objects.create(
            person=person,
            org_unit=person.org_unit,
            kind=kind,
            title=title[:200],
            generated=generated,
            template_version=version,
            file_name=file_name,
            content_type=content_type,
            size=len(data),
            digest=digest,
            content=content,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        audit_write(
            action=AuditAction.CREATE,
            actor=actor,
            obj=document,
            detail={
                "person": person.pk,
                "kind": kind,
                "generated": generated,
                **({"template_version": version} if generated else {}),
                "content_type": content_type,
                "size": len(data),
                "digest": digest,
            },
        )
    return document


def document_generate(
    *, actor: Any, person: Person, kind: str, fields: dict[str, Any] | None = None
) -> CaseDocument:
    """Generate a document of the case file from its template, as PDF, and store it encrypted.

    The context is the person and the enrollment the template is about (the latest treatment measure,
    or the measure in progress); ``fields`` fills the template's optional values (an issuing authority,
    a test date, the parts of a rehabilitation plan). Refused (409) when the case does not call for the
    document yet."""
    template = TEMPLATES.get(kind)
    if template is None:
        raise ServiceError(
            _("Documents of kind %(kind)s cannot be generated.") % {"kind": kind},
            code="invalid",
            fields={"kind": _("choose one of: %(kinds)s") % {"kinds": ", ".join(TEMPLATES)}},
        )
    _require_writable(actor, person)
    values = _clean_values(template, fields or {})
    enrollments = list(
        Enrollment.objects.filter(person=person, sealed=False)
        .select_related("org_unit")
        .order_by("decision_date", "id")
    )
    enrollment = template.select(enrollments)
    help_measures = list(
        HelpMeasure.objects.filter(person=person, sealed=False)
        .exclude(outcome__in=["failed", "declined"])  # planned help only
        .order_by("referred_on", "id")
    )
    now = timezone.now()
    ctx = DocumentContext(
        person=person,
        enrollment=enrollment,
        enrollments=enrollments,
        help_measures=help_measures,
        values=values,
        generated_at=now,
        generated_by=_actor_name(actor),
    )
    title, data = render_pdf(template, ctx)
    file_name = f"{kind}-{person.pk}-{timezone.localtime(now):%Y%m%d%H%M%S}.pdf"
    return _store(
        actor=actor,
        person=person,
        kind=kind,
        title=title,
        data=data,
        file_name=file_name,
        content_type="application/pdf",
        version=template.version,
    )


def document_upload(
    *, actor: Any, person: Person, kind: str, file_name: str, content_type: str, data: bytes
) -> CaseDocument:
    """Add a scanned or received document (PDF, JPEG or PNG, at most 10 MB) of a known kind to the case
    file, stored encrypted. The declared type must match the file's own signature."""
    problems: dict[str, str] = {}
    if kind not in KIND_BY_CODE:
        problems["kind"] = _("unknown document kind")
    checked = None
    try:
        checked = check_upload(file_name, content_type, data, default_stem=kind)
    except UploadError as error:
        problems["file"] = str(error)
    if problems:
        raise ServiceError(
            _("The document cannot be uploaded: %(problems)s")
            % {"problems": join_problems(problems.values())},
            code="invalid",
            fields=problems,
        )
    assert checked is not None
    _require_writable(actor, person)
    return _store(
        actor=actor,
        person=person,
        kind=kind,
        title=KIND_BY_CODE[kind].official_name,
        data=data,
        file_name=checked.file_name,
        content_type=checked.content_type,
        version="",
    )


def document_content(user: Any, document: CaseDocument) -> bytes:
    """The document's bytes, for a download: audited as EXPORT. The content is decrypted and checked
    against its SM3 digest; a row that fails either check raises ``CorruptContent`` and leaves a FAILURE
    audit record (damaged storage or tampering must be visible)."""
    return read_content(
        user=user,
        obj=document,
        encoded=stored_text(CaseDocument, document.pk),
        digest=document.digest,
        detail={"person": document.person_id, "kind": document.kind, "digest": document.digest},
    )


def person_archive(*, actor: Any, person: Person, date: dt.date) -> ArchiveChecklist:
    """归档: close the case file. Only when no measure is in progress and the required documents exist
    (a decision notice and an agreement for each treatment measure that reached 报到)."""
    if actor is not None and (
        not user_may(actor, Person, WRITE) or not in_roots(person.org_unit_id, capture_root_ids(actor))
    ):
        raise NotFound()
    if date is None:
        raise ServiceError(_("A date is required."), code="invalid", fields={"date": _("required")})
    if date > timezone.localdate():
        raise ServiceError(
            _("The date lies in the future."), code="invalid", fields={"date": _("a date in the future")}
        )
    if person.archived_on is not None:
        raise CaseFileClosed(
            _("The case file was already archived on %(date)s.") % {"date": person.archived_on.isoformat()},
            code="already_archived",
        )
    checklist = archive_checklist(person)
    if checklist.active_enrollments:
        raise CaseFileClosed(
            _("A measure is still in progress: the case file can be archived once it has ended."),
            code="active_measure",
        )
    last_end = (
        Enrollment.objects.filter(person=person, sealed=False, ended_on__isnull=False)
        .order_by("-ended_on")
        .values_list("ended_on", flat=True)
        .first()
    )
    if last_end is not None and date < last_end:
        raise ServiceError(
            _("The case file cannot be archived before its last measure ended (%(date)s).")
            % {"date": last_end.isoformat()},
            code="invalid",
            fields={"date": _("before the end of the last measure")},
        )
    if not checklist.complete:
        missing = {
            item.kind: _("%(n)s missing") % {"n": item.missing} for item in checklist.items if item.missing
        }
        raise ServiceError(
            _("Documents are missing: %(missing)s")
            % {
                "missing": join_problems(
                    f"{item.label} ({item.missing})" for item in checklist.items if item.missing
                )
            },
            code="documents_missing",
            fields=missing,
        )
    with transaction.atomic():
        person.archived_on = date
        person.archived_by = actor if getattr(actor, "is_authenticated", False) else None
        person.save(update_fields=["archived_on", "archived_by", "last_updated"])
        audit_write(
            action=AuditAction.UPDATE,
            actor=actor,
            obj=person,
            detail={
                "transition": "archive",
                "date": date.isoformat(),
                "documents": {item.kind: item.present for item in checklist.items},
            },
        )
    return archive_checklist(person)
