"""An HTML page as text that keeps its structure: its headings (h1–h6, with their levels) and its
code blocks (`pre`, line breaks kept) as spans of the text, and the page's own metadata (title
without header-link glyphs or site suffix, publisher, date, address). The chunker cuts at those
headings rather than guessing them, and keeps a code block whole.

The page's main content is its `main`, `[role=main]` or `article` element, as documentation
generators (Sphinx, MkDocs, …) and most article pages mark it; a page without one is left to
trafilatura's content extraction (readers.py), with the same metadata rules."""

from __future__ import annotations

import json
import re
from typing import Any

from .metadata import iso_date
from .text_blocks import TextBlocks, clean_heading

# Never content, even inside the main content: scripts, navigation and forms, and the "¶" links
# Sphinx puts after every heading. (An article's own header, footnotes (aside) and footer stay:
# the page's chrome lies outside its main content.)
DROP = ("script", "style", "noscript", "template", "nav", "form", "button", "svg", "iframe",
        "object", "select", "textarea", "input", "label", "dialog")
HEADINGS = {f"h{i}": i for i in range(1, 7)}
BLOCKS = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd",
          "blockquote", "pre", "table", "thead", "tbody", "tfoot", "tr", "figure", "figcaption",
          "caption", "details", "summary", "address", "hr", "br", *HEADINGS}
# Separators before a site's name in a title.
_SITE_SEPARATOR = re.compile(r"\s+(?:—|–|-|\||·|::|»)\s+")
# Explicit publication dates, most specific first (meta names and properties, lower case).
DATE_META = ("article:published_time", "og:published_time", "datepublished", "dc.date.issued",
             "dc.date", "dcterms.issued", "dcterms.date", "citation_publication_date",
             "citation_date", "publication_date", "pubdate", "publish-date", "date")
PUBLISHER_META = ("og:site_name", "application-name", "dc.publisher", "publisher", "author")


def clean_title(title: str, h1: str = "", site: str = "") -> str:
    """The page's title without glyphs and without a site suffix (" — Python 3.11 documentation",
    " | Example News"): the part that is the page's first heading, else the parts that are not
    the site's name."""
    title = clean_heading(title)
    parts = [clean_heading(p) for p in _SITE_SEPARATOR.split(title) if clean_heading(p)]
    if len(parts) < 2:
        return title
    if h1 and clean_heading(h1) in parts:
        return clean_heading(h1)
    kept = [p for p in parts if not site or p.casefold() != site.casefold()]
    if len(kept) == len(parts):
        kept = parts[:-1]  # no site name known: a trailing part is the site's
    return " — ".join(kept) if kept else title


def _meta(doc: Any) -> dict[str, str]:
    """{lower-case name or property: content} of the page's meta tags (first of each)."""
    out: dict[str, str] = {}
    for m in doc.iter("meta"):
        key = (m.get("property") or m.get("name") or m.get("itemprop") or "").strip().lower()
        if key and key not in out and (m.get("content") or "").strip():
            out[key] = m.get("content").strip()
    return out


def _json_ld_date(doc: Any) -> str:
    for script in doc.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (ValueError, RecursionError):
            continue
        for item in data if isinstance(data, list) else [data]:
            if isinstance(item, dict) and isinstance(item.get("datePublished"), str):
                return item["datePublished"]
    return ""


def page_date(doc: Any, meta: dict[str, str]) -> str:
    """The page's own publication date as YYYY, YYYY-MM or YYYY-MM-DD, from its meta tags or
    JSON-LD; "" when it states none (a date is never guessed from the file)."""
    for raw in [*(meta.get(k, "") for k in DATE_META), _json_ld_date(doc)]:
        m = re.match(r"\s*(\d{4}(?:-\d{2}(?:-\d{2})?)?)", raw)
        if m and iso_date(m.group(1)):
            return m.group(1)
    return ""


def page_metadata(doc: Any) -> TextBlocks:
    """The page's title, publisher, date and address (and nothing of its text)."""
    meta = _meta(doc)
    site = meta.get("og:site_name", "")
    h1 = next((clean_heading(h.text_content()) for h in doc.iter("h1")), "")
    title_el = next(doc.iter("title"), None)
    raw = (title_el.text_content() if title_el is not None else "") or meta.get("og:title", "")
    canonical = next((link.get("href", "") for link in doc.iter("link")
                      if (link.get("rel") or "").lower() == "canonical"), "")
    return TextBlocks(title=clean_title(raw, h1, site) or h1,
                    publisher=next((meta[k] for k in PUBLISHER_META if meta.get(k)), ""),
                    date=page_date(doc, meta), url=canonical or meta.get("og:url", ""))


def main_content(doc: Any) -> Any:
    """The page's marked main content (None when it marks none)."""
    for path in ("//main", "//*[@role='main']", "//article"):
        found = doc.xpath(path)
        if found:
            return max(found, key=lambda el: len(el.text_content()))
    return None


def _strip_chrome(root: Any) -> None:
    for el in list(root.iter(*DROP)):
        if el is not root:
            el.drop_tree()
    for a in list(root.iter("a")):
        if "headerlink" in (a.get("class") or "").split():
            a.drop_tree()


def _inline(el: Any) -> str:
    return str(el.text_content())


def _walk(el: Any, out: TextBlocks, bullet: str = "") -> None:
    """Emit the element's blocks in order; inline content between blocks is a paragraph. A list
    item's bullet goes before its first paragraph."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in HEADINGS:
        out.heading(_inline(el), HEADINGS[tag])
        return
    if tag == "pre":
        out.code_block(_inline(el))
        return
    if tag == "tr":
        out.paragraph(" | ".join(" ".join(_inline(c).split()) for c in el if c.tag in ("td", "th")))
        return
    buffer = [el.text or ""]
    for child in el:
        ctag = child.tag if isinstance(child.tag, str) else ""
        if ctag in BLOCKS:
            text = "".join(buffer)
            if text.strip():
                out.paragraph(bullet + text)
                bullet = ""
            _walk(child, out, "• " if ctag == "li" else bullet)
            bullet = "" if ctag != "li" else bullet
            buffer = []
        elif ctag:
            buffer.append(_inline(child))
        buffer.append(child.tail or "")
    if "".join(buffer).strip():
        out.paragraph(bullet + "".join(buffer))


def structured_text(html: str) -> TextBlocks | None:
    """The page's main content with its structure, and its metadata; None when the page marks
    no main content (or cannot be parsed)."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        doc = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None
    info = page_metadata(doc)
    root = main_content(doc)
    if root is None:
        return None
    _strip_chrome(root)
    out = TextBlocks(title=info.title, publisher=info.publisher, date=info.date, url=info.url)
    _walk(root, out)
    return out if out.text.strip() else None


def _xml_walk(el: Any, out: TextBlocks, bullet: str = "") -> None:
    """trafilatura's XML (head, p, list/item, quote, table/row/cell, code) as blocks."""
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag == "head":
        level = int(((el.get("rend") or "h2").lstrip("h") or "2")[:1] or 2)
        out.heading("".join(el.itertext()), level if 1 <= level <= 6 else 2)
    elif tag == "code" and len(el) == 0 and "\n" in (el.text or ""):
        out.code_block(el.text or "")
    elif tag == "row":
        out.paragraph(" | ".join(" ".join("".join(c.itertext()).split()) for c in el))
    elif tag in ("p", "quote") and not any(c.tag in ("list", "p", "quote", "table") for c in el):
        out.paragraph(bullet + "".join(el.itertext()))
    elif tag == "item" and not any(c.tag in ("list", "p", "quote", "table") for c in el):
        out.paragraph("• " + "".join(el.itertext()))
    else:
        for child in el:
            _xml_walk(child, out, "• " if tag == "item" else "")


def from_trafilatura(xml: str, info: TextBlocks) -> TextBlocks | None:
    """The text trafilatura found in a page (its XML output), with its headings, and the
    page's metadata from `info`; None when it found none."""
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode("utf-8"))
    except (etree.XMLSyntaxError, ValueError):
        return None
    out = TextBlocks(title=info.title, publisher=info.publisher, date=info.date, url=info.url)
    main = root.find("main")
    _xml_walk(main if main is not None else root, out)
    return out if out.text.strip() else None


def page_metadata_of(html: str) -> TextBlocks:
    """The page's metadata (empty where lxml cannot read the page)."""
    from lxml import etree
    from lxml import html as lxml_html

    try:
        return page_metadata(lxml_html.document_fromstring(html))
    except (etree.ParserError, ValueError):
        return TextBlocks()
