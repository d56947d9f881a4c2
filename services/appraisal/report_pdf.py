"""The appraisal report as PDF (reportlab), laid out from the same `Report` as the HTML
(services.appraisal.report.context) on landscape A4 pages. The same Report gives the same
bytes: the document is made invariant (no creation time, a fixed document id). Its text uses
reportlab's built-in Helvetica, so it holds Latin text only."""
import io
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (CondPageBreak, Image, KeepTogether, Paragraph,
                                SimpleDocTemplate, Table, TableStyle)

PAGE = landscape(A4)
MARGIN = 1.5 * cm
WIDTH = PAGE[0] - 2 * MARGIN
HEIGHT = PAGE[1] - 2 * MARGIN
PAIRS = 6  # officer/ratings pairs side by side in the insufficient-data table

_SHEET = getSampleStyleSheet()
_TITLE = _SHEET["Title"]
_HEADING = ParagraphStyle("heading", parent=_SHEET["Heading2"], spaceBefore=10)
_SUBHEADING = ParagraphStyle("subheading", parent=_SHEET["Heading4"], spaceBefore=4)
ROOM = 4 * cm  # a heading starts a new page unless this much is left under it
_BODY = _SHEET["BodyText"]
_NOTE = ParagraphStyle("note", parent=_BODY, textColor=colors.HexColor("#555555"))
_BULLET = ParagraphStyle("bullet", parent=_BODY, leftIndent=12, bulletIndent=2)
_CELL = ParagraphStyle("cell", parent=_BODY, fontSize=8, leading=10)
_HEAD = ParagraphStyle("head", parent=_CELL, fontName="Helvetica-Bold")
_GRID = TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.HexColor("#999999")),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 2)])


def render(report):
    """The PDF's bytes."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, title=report.title, subject=report.method_heading,
        author="Liaison platform: appraisal", creator="services.appraisal.report",
        invariant=1)

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(PAGE[0] - MARGIN, MARGIN / 2,
                               f"{report.title} - page {doc.page}")
        canvas.restoreState()

    document.build(_story(report), onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()


def _story(report):
    story = [Paragraph(_text(report.title), _TITLE),
             Paragraph(_text(report.method_heading), _HEADING)]
    story += [Paragraph(_text(sentence), _BULLET, bulletText="\u2022")
              for sentence in report.method]
    story.append(Paragraph(_text(report.summary), _BODY))
    for named in report.lists:
        story += [CondPageBreak(ROOM),
                  Paragraph(_text(f"{named.title} ({len(named.officers)})"), _HEADING)]
        if named.note:
            story.append(Paragraph(_text(named.note), _NOTE))
        story += [Paragraph("Score and its parts", _SUBHEADING), _table(named.parts),
                  CondPageBreak(ROOM), Paragraph("What the score rests on", _SUBHEADING),
                  _table(named.evidence)]
        if len(named.components.header) > 1:
            story += [CondPageBreak(ROOM), Paragraph(
                "The other components: observed (evidence) -> shrunk estimate", _SUBHEADING),
                _table(named.components)]
    for chart in report.charts:
        block = [Paragraph(_text(chart.title), _HEADING)]
        if chart.png is None:
            block.append(Paragraph("No officer is ranked: nothing to plot.", _NOTE))
        else:
            block.append(_image(chart.png, HEIGHT - 3 * cm))
        block += [Paragraph(_text(sentence), _NOTE) for sentence in chart.notes]
        story.append(KeepTogether(block))
    thin = report.insufficient
    story += [CondPageBreak(ROOM),
              Paragraph(_text(f"Insufficient data ({len(thin.rows)})"), _HEADING)]
    story.append(_table(_side_by_side(thin, _across(thin))) if thin.rows else
                 Paragraph("None.", _NOTE))
    return story


def _table(table):
    """A table as wide as the page, each column's share of it after its longest text; the
    header repeats on each page the table runs over."""
    if not table.rows:
        return Paragraph("None.", _NOTE)
    longest = [max([len(word) for word in heading.split()] + [len(heading) // 2, 4])
               for heading in table.header]
    for row in table.rows:
        longest = [max(width, len(cell)) for width, cell in zip(longest, row)]
    widths = [WIDTH * (width + 2) / sum(w + 2 for w in longest) for width in longest]
    rows = [[Paragraph(_text(cell), _HEAD) for cell in table.header]]
    rows += [[Paragraph(_text(cell), _CELL) for cell in row] for row in table.rows]
    flowable = Table(rows, colWidths=widths, repeatRows=1)
    flowable.setStyle(_GRID)
    return flowable


def _across(table):
    """How many of a narrow table's rows fit side by side (at most PAIRS) with no cell
    wrapping: each band as wide as its widest row's text and the cells' padding."""
    widest = max(sum(stringWidth(cell, _CELL.fontName, _CELL.fontSize) + 14 for cell in row)
                 for row in table.rows + (table.header,))
    return max(1, min(PAIRS, int(WIDTH // (widest * 1.2))))


def _side_by_side(table, times):
    """A narrow table laid out `times` across: row i of the result holds rows
    i, i + n, i + 2n, ... of `table`, so it reads down each band of columns."""
    per_band = -(-len(table.rows) // times)
    blank = ("",) * len(table.header)
    bands = [table.rows[i * per_band:(i + 1) * per_band] for i in range(times)]
    rows = tuple(sum((band[i] if i < len(band) else blank for band in bands), ())
                 for i in range(per_band))
    return type(table)(table.header * times, rows)


def _image(png, tallest):
    """The chart scaled to the page's width, and down to `tallest` points if it is taller."""
    pixels_wide, pixels_high = ImageReader(io.BytesIO(png)).getSize()
    scale = min(WIDTH / pixels_wide, tallest / pixels_high)
    return Image(io.BytesIO(png), width=pixels_wide * scale, height=pixels_high * scale)


def _text(value):
    return escape(str(value))
