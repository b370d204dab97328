"""Word .docx sources: text in order with headings from the heading styles, list items and table
rows, the document's own metadata, and files that are not Word packages skipped saying why."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest

from itsqa import store
from itsqa.build import update_index
from itsqa.readers import Unreadable, read_docx

from .helpers import make_settings


def _docx(title: str = "", author: str = "") -> bytes:
    import docx

    d = docx.Document()
    d.core_properties.title = title
    d.core_properties.author = author
    d.core_properties.created = datetime.datetime(2023, 3, 22, 9, 30)
    d.add_heading("Technology envoys", 1)
    d.add_paragraph("The UK will expand its network of technology envoys.")
    d.add_heading("Where they serve", 2)
    d.add_paragraph("San Francisco", style="List Bullet")
    d.add_paragraph("Nairobi", style="List Bullet")
    table = d.add_table(rows=2, cols=3)
    for row, cells in zip(table.rows, (("Post", "Since", "Remit"), ("Nairobi", "2023", "Cyber")),
                          strict=True):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    table.rows[1].cells[1].merge(table.rows[1].cells[2])  # one cell across two columns
    d.add_paragraph("A closing line after the table.")
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def test_a_word_document_reads_in_order_with_its_headings_lists_and_tables() -> None:
    parsed = read_docx(_docx(title="Envoys report", author="DSIT"))
    assert parsed.text.split("\n\n") == [
        "Technology envoys", "The UK will expand its network of technology envoys.",
        "Where they serve", "• San Francisco", "• Nairobi", "Post | Since | Remit",
        "Nairobi | 2023 Cyber", "A closing line after the table."]
    assert [(parsed.text[s:e], level) for s, e, level in parsed.headings] == [
        ("Technology envoys", 1), ("Where they serve", 2)]
    assert parsed.explicit
    assert (parsed.meta.title, parsed.meta.publisher, parsed.meta.date) == (
        "Envoys report", "DSIT", "2023-03-22")


def test_tracked_changes_content_controls_and_fields_read_as_word_shows_them() -> None:
    import docx
    from lxml import etree

    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    d = docx.Document()
    p = d.add_paragraph("The strategy names ")
    for xml in (f'<w:ins xmlns:w="{w}" w:id="1" w:author="A"><w:r><w:t>five</w:t></w:r></w:ins>',
                f'<w:del xmlns:w="{w}" w:id="2" w:author="A"><w:r><w:delText>four</w:delText>'
                "</w:r></w:del>",
                f'<w:fldSimple xmlns:w="{w}" w:instr="NUMPAGES"><w:r><w:t> priority</w:t></w:r>'
                "</w:fldSimple>",
                f'<w:r xmlns:w="{w}"><w:instrText>PAGE</w:instrText><w:t> technologies.</w:t></w:r>'):
        p._p.append(etree.fromstring(xml))
    box = f'<w:p xmlns:w="{w}"><w:r><w:t>Boxed text.</w:t></w:r></w:p>'
    d.add_paragraph("Before the box.")._p.append(etree.fromstring(
        f'<w:r xmlns:w="{w}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
        f"<mc:AlternateContent><mc:Choice><w:drawing><w:txbxContent>{box}</w:txbxContent>"
        f"</w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>{box}</w:txbxContent>"
        "</w:pict></mc:Fallback></mc:AlternateContent></w:r>"))
    d.element.body.insert(0, etree.fromstring(
        f'<w:sdt xmlns:w="{w}"><w:sdtPr/><w:sdtContent><w:p><w:r><w:t>Inside a content control.'
        "</w:t></w:r></w:p></w:sdtContent></w:sdt>"))
    out = io.BytesIO()
    d.save(out)
    assert read_docx(out.getvalue()).text.split("\n\n") == [
        "Inside a content control.", "The strategy names five priority technologies.",
        "Before the box.", "Boxed text."]  # a text box once, though Word writes it twice


def test_without_a_title_in_its_properties_its_first_top_heading_is_the_title() -> None:
    assert read_docx(_docx()).meta.title == "Technology envoys"


_SHEET = _zip({  # a spreadsheet's package, renamed .docx
    "[Content_Types].xml": b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>',
    "_rels/.rels": b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'relationships"><Relationship Id="r1" Type="http://schemas.openxmlformats.org/'
    b'officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": b"<workbook/>"})


@pytest.mark.parametrize("data,reason", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "protected by a password"),
    (b"plain text named .docx", "not a Word .docx file"),
    (_SHEET, "the package holds no Word text"),
])
def test_what_is_not_a_readable_word_package_is_unreadable_saying_why(data: bytes, reason: str) -> None:
    with pytest.raises(Unreadable, match=reason):
        read_docx(data)


def test_a_package_that_unpacks_past_the_limit_is_not_unpacked(monkeypatch) -> None:
    monkeypatch.setenv("ITSQA_MAX_SOURCE_MB", "0.1")  # 0.1 MB of text: 4 MB unpacked
    bomb = _zip({"word/document.xml": b"\x00" * (5 * 2**20)})  # 5 KB zipped
    with pytest.raises(Unreadable, match="it unpacks to 5 MB, over the 4 MB allowed"):
        read_docx(bomb)


def test_word_documents_are_indexed_and_cited_and_broken_ones_skipped(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "envoys.docx").write_bytes(_docx(title="Envoys report", author="DSIT"))
    (corpus / "spreadsheet.docx").write_bytes(_zip({"xl/workbook.xml": b"<workbook/>"}))
    report = update_index(make_settings(corpus, tmp_path))
    assert list(report.warnings) == ["skipped spreadsheet.docx: it is not a Word document: the "
                                     "package holds no Word text (another Office file renamed .docx?)"]
    loaded = store.load(tmp_path / "index")
    assert loaded is not None
    assert loaded.sources["envoys.docx"]["title"] == "Envoys report"
    text = loaded.texts["envoys.docx"]
    envoys = [c for c in loaded.chunks if "network of technology envoys" in c.text]
    assert envoys and text[envoys[0].start:envoys[0].end] == envoys[0].text
    assert envoys[0].heading.startswith("Technology envoys")
