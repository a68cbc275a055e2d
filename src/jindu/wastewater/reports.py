"""The quarterly report (污水毒情监测季度报告) of an org unit as a PDF.

What it holds, for one org unit and one quarter (every figure from ``aggregates.py``, with its 95 % interval):

1. per drug analyte: the population-weighted load per 1000 and the consumption under the chosen factor set, the
   quantified and below-LOQ days and the year-on-year label;
2. the office's own index (本地测算指数), labelled as such, with its formula;
3. the ranking of the unit's children by the lead analyte's load per 1000, with rank intervals and a note when
   neighbouring intervals overlap;
4. each site serving the unit: population, days, the lead analyte's value and its year-on-year change;
5. the number of anomaly flags raised in the quarter on those sites (read from ``WastewaterAnomaly``);
6. the method: the factor set and settings version used, the EUDA weekday/weekend split, how below-LOQ days are
   handled, the Monte Carlo intervals and the index formula.

Rendered with reportlab and its built-in CID font ``STSong-Light`` (no font file, works offline), like the case
documents of the people app: a footer with generation time, user and page x of y, and a faint watermark. The
report is an export: its purpose is required and an EXPORT audit record is written with the read.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from typing import Any
from xml.sax.saxutils import escape

from django.db import transaction
from django.utils import timezone
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas as pdf_canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from jindu.core.audit import audit_write
from jindu.core.models import AuditAction, OrgUnit
from jindu.wastewater.aggregates import (
    ALL_DAYS,
    ORG_UNIT,
    Context,
    PeriodValue,
    Subject,
    aggregate_series,
    load_rows,
    load_window,
    served_shares,
)
from jindu.wastewater.exports import ExportFile, check_purpose
from jindu.wastewater.local_index import index_definition, index_value
from jindu.wastewater.models import Analyte, AnalyteKind, WastewaterAnomaly
from jindu.wastewater.periods import Change, Period
from jindu.wastewater.rankings import LOAD, ranking
from jindu.wastewater.uncertainty import interval_of

PLATFORM_NAME = "禁毒综合治理平台"
FONT = "STSong-Light"  # reportlab's built-in Adobe CID font for simplified Chinese
WEEKDAY_NAMES = "一二三四五六日"
YOY_LABELS = {
    Change.INCREASE: "上升",
    Change.DECREASE: "下降",
    Change.STABLE: "持平",
    Change.NO_PREVIOUS: "无上年数据",
}
LEVEL_LABELS = {"notice": "提示", "warning": "警示", "alert": "预警"}


def quarter_title(period: Period) -> str:
    return f"{period.start.year}年第{(period.start.month - 1) // 3 + 1}季度"


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def _with_interval(value: PeriodValue | None) -> str:
    if value is None or value.point is None:
        return "—"
    interval = value.interval
    if interval is None:
        return _number(value.point)
    return f"{_number(value.point)}（{_number(interval.p2_5)}–{_number(interval.p97_5)}）"


def _draws_text(point: float | None, draws: Any) -> str:
    if point is None or draws is None:
        return "—"
    interval = interval_of(draws)
    return f"{_number(point)}（{_number(interval.p2_5)}–{_number(interval.p97_5)}）"


def _yoy(value: Any) -> str:
    yoy = getattr(value, "yoy", None)
    if yoy is None:
        return "—"
    label = YOY_LABELS.get(yoy.label, yoy.label)
    return f"{yoy.percent:+.1f}% {label}" if yoy.percent is not None else label


def _site_population(rows: dict, site_id: int) -> float | None:
    """The site's population on its latest day with one (any analyte)."""
    latest: tuple[int, float] | None = None
    for (found, _analyte), series in rows.items():
        if found != site_id:
            continue
        for ordinal, population in zip(series.ordinals, series.population, strict=True):
            if not math.isnan(population) and (latest is None or ordinal > latest[0]):
                latest = (int(ordinal), float(population))
    return latest[1] if latest else None


# --- Rendering ------------------------------------------------------------------------------------------------------


class Styles:
    def __init__(self) -> None:
        self.title = ParagraphStyle(
            "title", fontName=FONT, fontSize=16, leading=22, alignment=1, spaceAfter=4
        )
        self.heading = ParagraphStyle("heading", fontName=FONT, fontSize=12, leading=18, spaceBefore=8)
        self.body = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=14)
        self.small = ParagraphStyle("small", fontName=FONT, fontSize=8, leading=11)
        self.cell = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10)


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _canvas_class(footer: str, watermark: str) -> type[pdf_canvas.Canvas]:
    """A canvas that keeps its pages until the end, so that each footer says "page x of y", with a watermark."""

    class ReportCanvas(pdf_canvas.Canvas):
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
            self.setFont(FONT, 26)
            self.setFillColor(colors.Color(0.6, 0.6, 0.6, alpha=0.15))
            self.translate(width / 2, _height / 2)
            self.rotate(35)
            for offset in (-90 * mm, 0, 90 * mm):
                self.drawCentredString(0, offset, watermark)
            self.restoreState()
            self.saveState()
            self.setFont(FONT, 8)
            self.setFillColor(colors.HexColor("#555555"))
            self.line(18 * mm, 15 * mm, width - 18 * mm, 15 * mm)
            self.drawString(18 * mm, 10 * mm, footer)
            self.drawRightString(width - 18 * mm, 10 * mm, f"第 {number} 页 / 共 {total} 页")
            self.restoreState()

    return ReportCanvas


def _table(rows: list[list[str]], styles: Styles, widths: list[float]) -> Table:
    data = [[Paragraph(escape(str(cell)), styles.cell) for cell in row] for row in rows]
    table = Table(data, colWidths=[width * mm for width in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


# --- The report -----------------------------------------------------------------------------------------------------


def quarterly_report(
    *,
    user: Any,
    context: Context,
    unit: OrgUnit,
    quarter: Period,
    lead: Analyte,
    purpose: str,
) -> ExportFile:
    """Render the quarterly report of ``unit`` (read by the caller through ``readable_org_unit``) and audit it as
    an export."""
    purpose = check_purpose(purpose)
    _register_font()
    styles = Styles()
    aggregator = context.aggregator
    subject = Subject(ORG_UNIT, unit.code, unit.name, unit, served_shares([unit])[unit.pk])
    drugs = list(Analyte.objects.filter(kind=AnalyteKind.DRUG_MARKER).order_by("sort_order"))
    definition = index_definition(context)
    analyte_ids = sorted({analyte.pk for analyte in drugs} | set(definition.analyte_ids) | {lead.pk})
    with transaction.atomic():
        rows = load_rows(subject.site_ids, analyte_ids, *load_window([quarter])) if subject.sites else {}
        present = {analyte_id for (_site, analyte_id) in rows}
        summary = []
        for analyte in drugs:
            if analyte.pk not in present:
                continue
            [value] = aggregate_series(
                aggregator,
                subject,
                analyte,
                [quarter],
                ALL_DAYS,
                rows=rows,
                factor=context.factors.get(analyte.pk),
                factor_set_label=context.factor_set_label,
            ).values
            if value.quantified_days + value.below_loq_days:
                summary.append((analyte, value))
        index = (
            index_value(context, definition, subject, rows, quarter, ALL_DAYS) if definition.usable else None
        )
        ranked = ranking(context, unit, quarter, LOAD, ALL_DAYS, lead)
        sites = []
        for site in subject.sites:
            one = Subject("site", site.code, site.name, unit, (site,))
            [value] = aggregate_series(aggregator, one, lead, [quarter], ALL_DAYS, rows=rows).values
            population = _site_population(rows, site.site_id)
            sites.append((site, value, population))
        anomalies = Counter(
            WastewaterAnomaly.objects.filter(
                site_id__any=subject.site_ids, day__gte=quarter.start, day__lte=quarter.end
            ).values_list("level", flat=True)
        )
        story = _story(
            styles,
            context=context,
            unit=unit,
            quarter=quarter,
            lead=lead,
            subject=subject,
            summary=summary,
            index=index,
            definition=definition,
            ranked=ranked,
            sites=sites,
            anomalies=anomalies,
            user=user,
        )
        title = f"{unit.name}污水毒情监测季度报告（{quarter_title(quarter)}）"
        stamp = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        footer = f"{PLATFORM_NAME} · 生成时间 {stamp} · 生成人 {user.get_username()} · 仅限工作使用，不得外传"
        buffer = io.BytesIO()
        document = SimpleDocTemplate(
            buffer,
            pagesize=A4,
            leftMargin=16 * mm,
            rightMargin=16 * mm,
            topMargin=18 * mm,
            bottomMargin=22 * mm,
            title=title,
            author=PLATFORM_NAME,
            creator=PLATFORM_NAME,
            subject=f"wastewater quarterly report {unit.code} {quarter.label}",
        )
        document.build(
            [Paragraph(escape(title), styles.title), *story],
            canvasmaker=_canvas_class(footer, f"{PLATFORM_NAME} {user.get_username()} {stamp[:10]}"),
        )
        filename = f"wastewater-report-{unit.code}-{quarter.label}.pdf"
        audit_write(
            action=AuditAction.EXPORT,
            actor=user,
            object_type="wastewater.report",
            object_repr=filename,
            org_unit_code=unit.code,
            detail={
                "purpose": purpose,
                "filters": {
                    "org_unit": unit.code,
                    "quarter": quarter.label,
                    "analyte": lead.code,
                    "cf_set": context.factor_set_label,
                },
                "analytes": [analyte.code for analyte, _value in summary],
                "sites": len(subject.sites),
            },
        )
    return ExportFile(filename=filename, content=buffer.getvalue(), rows=len(summary))


def _story(
    styles: Styles,
    *,
    context: Context,
    unit: OrgUnit,
    quarter: Period,
    lead: Analyte,
    subject: Subject,
    summary: list[tuple[Analyte, PeriodValue]],
    index: Any,
    definition: Any,
    ranked: Any,
    sites: list[tuple[Any, PeriodValue, float | None]],
    anomalies: Counter,
    user: Any,
) -> list[Flowable]:
    version = context.settings.version
    settings_text = (
        f"{version.label}（{version.effective_from:%Y-%m-%d} 起施行）"
        if version is not None
        else "平台默认配置"
    )
    story: list[Flowable] = [
        Paragraph(
            escape(
                f"报告期：{quarter.start:%Y-%m-%d} 至 {quarter.end:%Y-%m-%d} · 地区：{unit.code} {unit.name} · "
                f"监测点：{len(subject.sites)} 个 · 校正因子集：{context.factor_set_label} · 配置版本：{settings_text}"
            ),
            styles.small,
        ),
        Spacer(1, 3 * mm),
        Paragraph("一、各物质监测结果（人口加权）", styles.heading),
    ]
    if summary:
        rows = [
            [
                "物质",
                "人均负荷量 mg/天/千人（95%区间）",
                f"消费量 mg/天/千人（95%区间，{context.factor_set_label}）",
                "定量天数",
                "低于定量限天数",
                "同比",
            ]
        ]
        for analyte, value in summary:
            consumption = value.consumption
            rows.append(
                [
                    f"{analyte.name_zh}（{analyte.code}）",
                    _with_interval(value),
                    _draws_text(consumption.point, consumption.draws) if consumption else "—",
                    str(value.quantified_days),
                    str(value.below_loq_days),
                    _yoy(value),
                ]
            )
        story.append(_table(rows, styles, [38, 38, 42, 16, 20, 24]))
    else:
        story.append(Paragraph("本季度无监测数据。", styles.body))

    story.append(Paragraph("二、本地测算指数（本办自定公式，非官方指标）", styles.heading))
    if index is not None and index.point is not None:
        story.append(
            Paragraph(
                escape(
                    f"本地测算指数：{_draws_text(index.point, index.draws)} 加权剂量/天/千人；同比：{_yoy(index)}"
                ),
                styles.body,
            )
        )
    elif index is not None and index.missing:
        story.append(
            Paragraph(escape(f"本季度无法计算：{'、'.join(index.missing)} 无监测数据。"), styles.body)
        )
    else:
        story.append(Paragraph(escape("无法计算：" + "；".join(definition.problems)), styles.body))
    terms = " + ".join(
        f"{component.weight:g}×{component.analyte.name_zh}消费量÷{component.dose_mg:g}mg"
        for component in definition.usable
    )
    story.append(
        Paragraph(
            escape(
                f"公式：指数 = Σ 权重 × 消费量 ÷ 常用剂量 = {terms or '—'}（本办自定，不是国家或省级评价结果）"
            ),
            styles.small,
        )
    )

    story.append(Paragraph(f"三、下辖地区排名（{escape(lead.name_zh)}人均负荷量）", styles.heading))
    if ranked.items:
        rows = [["名次", "名次区间", "地区", "人均负荷量 mg/天/千人（95%区间）", "定量天数", "同比"]]
        for item in ranked.items:
            rows.append(
                [
                    str(item.rank) if item.rank else "—",
                    f"{item.rank_interval[0]}–{item.rank_interval[1]}" if item.rank_interval else "—",
                    f"{item.unit.name}（{item.unit.code}）",
                    _draws_text(item.point, item.draws),
                    str(item.quantified_days),
                    _yoy(item),
                ]
            )
        story.append(_table(rows, styles, [14, 20, 44, 52, 18, 30]))
        if ranked.any_overlap:
            story.append(
                Paragraph(
                    "注：相邻地区的95%区间重叠，其先后次序不具有统计学意义，请参考名次区间。", styles.small
                )
            )
    else:
        story.append(Paragraph("无下辖地区。", styles.body))

    story.append(Paragraph(f"四、监测点明细（{escape(lead.name_zh)}）", styles.heading))
    if sites:
        rows = [
            [
                "监测点",
                "服务人口",
                "定量天数",
                "低于定量限",
                "受阻（质控/无人口）",
                "人均负荷量（95%区间）",
                "同比",
            ]
        ]
        for site, value, population in sites:
            rows.append(
                [
                    f"{site.name}（{site.code}）" + (f" 占比{site.share:g}" if site.share < 1 else ""),
                    _number(population, 0),
                    str(value.quantified_days),
                    str(value.below_loq_days),
                    str(value.blocked_days),
                    _with_interval(value),
                    _yoy(value),
                ]
            )
        story.append(_table(rows, styles, [44, 20, 16, 18, 24, 36, 20]))
    else:
        story.append(Paragraph("无服务本地区的监测点。", styles.body))

    story.append(Paragraph("五、异常提示", styles.heading))
    total = sum(anomalies.values())
    if total:
        detail = "、".join(
            f"{LEVEL_LABELS.get(level, level)} {count} 条" for level, count in sorted(anomalies.items())
        )
        story.append(
            Paragraph(escape(f"本季度异常标记共 {total} 条（{detail}），详见平台异常页面。"), styles.body)
        )
    else:
        story.append(Paragraph("本季度无异常标记。", styles.body))

    split = context.aggregator.split
    weekday = "、".join(f"周{WEEKDAY_NAMES[day]}" for day in sorted(split.weekday))
    weekend = "、".join(
        f"周{WEEKDAY_NAMES[day]}" for day in sorted(split.weekend, key=lambda day: (day + 3) % 7)
    )
    story.append(Paragraph("六、方法说明", styles.heading))
    for text in (
        "人均负荷量 = 浓度(ng/L) × 流量(m³/天) × 10⁻³ × 1000 ÷ 服务人口；地区值按各监测点服务人口占比加权："
        "1000 × Σ占比×日均负荷 ÷ Σ占比×服务人口。",
        f"消费量 = 人均负荷量 × 校正因子（因子集 {context.factor_set_label}）。",
        f"95%区间为蒙特卡罗模拟（{context.aggregator.draws} 次，固定种子）：采样、流量、分析误差按日抽取，"
        "服务人口与排泄率在每次迭代中只抽取一次。",
        f"工作日/周末按采样结束日划分（EUDA 惯例）：工作日 {weekday}，周末 {weekend}。",
        "低于定量限（LOQ）的结果不作为数值参与平均：只计天数，并给出按 0 和按定量限计算的上下界。",
        f"同比与上年同期比较，变化在 ±{context.aggregator.band:g}% 以内为持平。",
        f"{definition.label()}",
    ):
        story.append(Paragraph(escape(text), styles.small))
    return story
