"""The work report as PDF (reportlab) on portrait A4 pages, laid out from the same
`Printable` as the HTML (services.fieldwork.report_html.printable). Its text is set in
reportlab's built-in CID font STSong-Light, which holds Chinese and Latin alike and is named,
not embedded (a reader supplies it, as Acrobat's Asian font packs and pdf.js do). The same
Printable gives the same bytes: the document is made invariant (no creation time, a fixed
document id)."""
import io
from functools import cache
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (CondPageBreak, KeepTogether, Paragraph, SimpleDocTemplate,
                                Table, TableStyle)

from .report_html import printable

FONT = "STSong-Light"
PAGE = A4
MARGIN = 1.8 * cm
WIDTH = PAGE[0] - 2 * MARGIN
ROOM = 4 * cm  # a table's heading starts a new page unless this much is left under it
_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2)])


@cache
def _styles(lang):
    """The paragraph styles, the font registered on first use (not at import)."""
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    wrap = "CJK" if lang == "zh" else None  # Chinese breaks between any two characters
    body = ParagraphStyle("body", fontName=FONT, fontSize=10, leading=14, wordWrap=wrap)
    return {"title": ParagraphStyle("title", parent=body, fontSize=18, leading=24,
                                    alignment=1, spaceAfter=10),
            "heading": ParagraphStyle("heading", parent=body, fontSize=13, leading=18,
                                      spaceBefore=10, spaceAfter=4),
            "body": body,
            "note": ParagraphStyle("note", parent=body, fontSize=9,
                                   textColor=colors.HexColor("#555555")),
            "cell": ParagraphStyle("cell", parent=body, fontSize=9, leading=12),
            "number": ParagraphStyle("number", parent=body, fontSize=9, leading=12,
                                     alignment=2),
            "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=10)}


def render_pdf(report, lang="zh"):
    """The report as PDF bytes in `lang`'s labels; the same report gives the same bytes."""
    return render(printable(report, lang))


def render(page):
    """A laid-out report (report_html.printable) as PDF bytes."""
    styles = _styles(page.lang)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, title=page.title, author="Liaison platform: field work",
        creator="services.fieldwork.report_pdf", invariant=1)

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2, f"{page.title} - {doc.page}")
        canvas.restoreState()

    document.build(_story(page, styles), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _story(page, styles):
    story = [Paragraph(_text(page.title), styles["title"])]
    story += [Paragraph(f"{_text(label)}: {_text(value)}", styles["body"])
              for label, value in page.facts]
    for block in page.blocks:
        story.append(KeepTogether([Paragraph(_text(block.heading), styles["heading"]),
                                   _figures(block.table, styles)]))
    if page.coverage_rows.rows:
        story += [CondPageBreak(ROOM), _rows(page.coverage_rows, styles)]
    story += [Paragraph(_text(sentence), styles["note"]) for sentence in page.notes]
    return story


def _figures(table, styles):
    """A two-column table: each figure's label and its value, right-aligned."""
    rows = [[Paragraph(_text(cell), styles["cell"]) for cell in table.header]]
    rows += [[Paragraph(_text(label), styles["cell"]), Paragraph(_text(value),
                                                                 styles["number"])]
             for label, value in table.rows]
    flowable = Table(rows, colWidths=[WIDTH * 0.72, WIDTH * 0.28], repeatRows=1)
    flowable.setStyle(_GRID)
    return flowable


def _rows(table, styles):
    """The coverage rows: the enterprise's column wider than each seat's."""
    widths = [WIDTH * 0.22, WIDTH * 0.12] + [WIDTH * 0.132] * (len(table.header) - 2)
    rows = [[Paragraph(_text(cell), styles["small"]) for cell in table.header]]
    rows += [[Paragraph(_text(cell), styles["small"]) for cell in row] for row in table.rows]
    flowable = Table(rows, colWidths=widths, repeatRows=1)
    flowable.setStyle(_GRID)
    return flowable


def _text(value):
    return escape(str(value))
