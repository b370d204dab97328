"""A tiny PDF writer for tests: one Helvetica text line per paragraph, one page per item."""

from __future__ import annotations

import zlib


def _escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[list[str]], title: str = "", padding: int = 0, date: str = "") -> bytes:
    """`padding`: blank bytes added to each page's drawing instructions, which read as no text
    (the instructions are then compressed, as a real PDF's are, so the file stays small);
    `date`: the info dictionary's CreationDate, as written."""
    objects: list[bytes] = []
    n_pages = len(pages)
    # 1 catalog, 2 pages, 3 font, then (page, content) pairs, then info
    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i, lines in enumerate(pages):
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops.append(f"({_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << "
                       f"/Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>".encode())
        flate = b""
        if padding:
            stream, flate = zlib.compress(stream + b" " * padding), b" /Filter /FlateDecode"
        objects.append(b"<< /Length " + str(len(stream)).encode() + flate + b" >>\nstream\n"
                       + stream + b"\nendstream")
    created = f" /CreationDate ({_escape(date)})" if date else ""
    objects.append(f"<< /Title ({_escape(title)}) /Author (Test Author){created} >>".encode())
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)
