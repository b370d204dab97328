"""`itsqa serve`'s API and pages, in process with the fake model: the API gives what the CLI
gives, errors are one-line JSON with the right status, and the guards hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from itsqa.config import Settings
from itsqa.server import host_allowed

from .helpers import BS, PORT, WIGGIN, client_for, invoke

BASE = f"http://127.0.0.1:{PORT}"


def _serve(folder: Path, mp: pytest.MonkeyPatch):
    import shutil

    import itsqa.build
    import itsqa.live
    import itsqa.service

    from .helpers import CORPUS, FakeEncoder

    encoder = FakeEncoder()

    def load(spec, *args, **kwargs):
        encoder.spec = spec
        return encoder

    for module in (itsqa.build, itsqa.service, itsqa.live):
        mp.setattr(module, "load_encoder", load)
    shutil.copytree(CORPUS, folder / "corpus")
    mp.chdir(folder)
    client, live = client_for(Settings(corpus_dir=Path("corpus"), index_dir=Path("index")))
    return client, live, folder / "corpus"


@pytest.fixture(scope="module")
def reading(tmp_path_factory):
    """A server that no test changes (built once for the module's read-only tests)."""
    with pytest.MonkeyPatch.context() as mp:
        yield _serve(tmp_path_factory.mktemp("served"), mp)


@pytest.fixture
def served(tmp_path: Path, monkeypatch):
    """A server of the test's own, for tests that change the corpus."""
    yield _serve(tmp_path, monkeypatch)


def one_line_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    message = response.json()["error"]
    assert message and "\n" not in message and "Traceback" not in message
    return message


@pytest.mark.parametrize("args", [
    ["what are the quantum priorities"],
    ["tech envoy", "-k", "3", "--mode", "bm25"],
    ["quantm", "--publisher", "burges"],
    ["semiconductors", "--since", "2023-04", "--source", BS],
])
def test_api_ask_answers_exactly_as_ask_json(reading, runner, args) -> None:
    client, _live, _corpus = reading
    cli = invoke(runner, ["ask", *args, "--json"])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.output.splitlines()[-1])
    options = dict(zip(args[1::2], args[2::2], strict=True))
    params = {"q": args[0], "k": options.get("-k", "5"), "mode": options.get("--mode"),
              "publisher": options.get("--publisher"), "since": options.get("--since"),
              "source": options.get("--source")}
    got = client.get("/api/ask", params={k: v for k, v in params.items() if v})
    assert got.status_code == 200, got.text
    assert got.json() == expected


def test_api_sources_equals_sources_json(reading, runner) -> None:
    client, _live, _corpus = reading
    expected = json.loads(invoke(runner, ["sources", "--json"]).output.splitlines()[-1])
    assert client.get("/api/sources").json() == expected


def test_passage_and_source_views_give_the_cited_text(reading) -> None:
    client, _live, corpus = reading
    hit = client.get("/api/ask", params={"q": "quantum priorities", "k": 1}).json()["results"][0]
    got = client.get("/api/passage", params={"source": hit["name"], "start": hit["start"],
                                             "end": hit["end"], "context": 50}).json()
    text = (corpus / hit["name"]).read_text(encoding="utf-8")
    assert got["text"] == hit["text"] == text[hit["start"]:hit["end"]]
    assert got["before"] == text[max(0, hit["start"] - 50):hit["start"]]
    assert got["title"] == hit["title"] and got["publisher"] == hit["publisher"]
    whole = client.get("/api/source", params={"name": hit["name"]}).json()
    assert whole["text"] == text and any(p["start"] == hit["start"] for p in whole["passages"])
    page = client.get(f"/source/{hit['name']}")
    assert page.status_code == 200 and "source.js" in page.text


@pytest.mark.parametrize("path, status", [
    ("/api/ask?q=x&k=0", 400), ("/api/ask?q=x&k=51", 400), ("/api/ask?q=", 400),
    ("/api/ask?k=3", 400), ("/api/ask?q=x&mode=nope", 400), ("/api/ask?q=x&since=2023-13", 400),
    ("/api/ask?q=x&since=2024&until=2023", 400), ("/api/ask?q=%00%01", 400),
    ("/api/ask?q=x&source=nope.txt", 404), ("/api/ask?q=x&publisher=nobody", 400),
    (f"/api/passage?source={BS}&start=10&end=5", 400),
    (f"/api/passage?source={BS}&start=0&end=99999999", 400),
    (f"/api/passage?source={BS}&start=0&end=10&context=999999", 400),
    ("/api/passage?source=nope.txt&start=0&end=10", 404),
    ("/api/source?name=../../etc/passwd", 404), ("/api/source?name=/etc/passwd", 404),
    ("/source/../../etc/passwd", 404), ("/source/..%2F..%2Fetc%2Fpasswd", 404),
    ("/source/%2Fetc%2Fpasswd", 404), ("/source/corpus%2F..%2F..%2Fsecret.txt", 404),
])
def test_bad_requests_are_one_line_json_errors(reading, path, status) -> None:
    client, _live, _corpus = reading
    response = client.get(path)
    if path.startswith("/source/"):
        assert response.status_code == status
        assert "<script" not in response.text
    else:
        one_line_error(response, status)


def test_a_link_out_of_the_corpus_is_never_served(served, tmp_path) -> None:
    client, live, corpus = served
    secret = tmp_path / "secret.txt"
    secret.write_text("The launch codes are 0000.", encoding="utf-8")
    os.symlink(secret, corpus / "link.txt")
    live.refresh()
    assert client.get("/api/source", params={"name": "link.txt"}).status_code == 404
    hits = client.get("/api/ask", params={"q": "launch codes"}).json()["results"]
    assert hits and all("launch codes" not in h["text"] for h in hits)


def test_foreign_hosts_and_origins_are_refused(reading) -> None:
    client, _live, _corpus = reading
    one_line_error(client.get("/api/ask?q=x", headers={"Host": f"evil.example:{PORT}"}), 403)
    one_line_error(client.get("/api/ask?q=x", headers={"Origin": "http://evil.example"}), 403)
    one_line_error(client.get("/", headers={"Host": f"localhost:{PORT + 1}"}), 403)
    assert client.get("/healthz", headers={"Origin": BASE}).status_code == 200
    assert client.get("/healthz", headers={"Host": f"localhost:{PORT}"}).status_code == 200


def test_host_rule() -> None:
    assert host_allowed(f"127.0.0.1:{PORT}", PORT, ["localhost"])
    assert host_allowed(f"[::1]:{PORT}", PORT, ["localhost"])
    assert host_allowed(f"10.0.0.7:{PORT}", PORT, ["localhost"])
    assert not host_allowed(f"attacker.example:{PORT}", PORT, ["localhost"])
    assert not host_allowed("127.0.0.1:1", PORT, ["localhost"])
    assert not host_allowed("", PORT, ["localhost"])
    assert host_allowed(f"docs.lan:{PORT}", PORT, ["localhost", "docs.lan"])


def test_oversized_queries_and_bodies_are_refused(reading) -> None:
    client, _live, _corpus = reading
    one_line_error(client.get("/api/ask", params={"q": "x" * 9000}), 414)
    one_line_error(client.get("/api/ask", params={"q": "x" * 4001}), 400)
    one_line_error(client.post("/api/ask", content=b"x" * (2 * 1024 * 1024)), 413)


def test_pages_carry_security_headers_and_no_outside_assets(reading) -> None:
    client, _live, _corpus = reading
    response = client.get("/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    web = Path(__file__).resolve().parent.parent / "src" / "itsqa" / "web"
    for asset in web.iterdir():
        text = asset.read_text(encoding="utf-8")
        assert "http://" not in text.replace("http:\" ||", "") and "https://" not in text, asset
        assert client.get(f"/static/{asset.name}").status_code == 200 or asset.suffix == ".html"
    assert "innerHTML" not in (web / "app.js").read_text(encoding="utf-8")


def test_openapi_describes_the_api(reading) -> None:
    client, _live, _corpus = reading
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/sources", "/api/passage", "/healthz"} <= set(paths)
    params = {p["name"] for p in paths["/api/ask"]["get"]["parameters"]}
    assert {"q", "k", "mode", "source", "publisher", "since", "until"} <= params


def test_filters_narrow_before_ranking_and_still_fill_k(reading) -> None:
    client, _live, _corpus = reading
    got = client.get("/api/ask", params={"q": "technology", "k": 5, "publisher": "wiggin"}).json()
    assert len(got["results"]) == 5
    assert {r["name"] for r in got["results"]} == {WIGGIN}
    dated = client.get("/api/ask", params={"q": "technology", "k": 8, "until": "2023-03"}).json()
    assert dated["results"] and all(r["date"] <= "2023-03-31" for r in dated["results"])
    assert dated["scope"] == {"source": [], "publisher": [], "since": None, "until": "2023-03"}


def test_edits_are_followed_and_a_removed_source_never_cited(served) -> None:
    client, live, corpus = served
    (corpus / "2025-okapi.txt").write_text("Okapi diplomacy is the newest lever of the strategy.\n",
                                           encoding="utf-8")
    assert live.refresh()
    names = [r["name"] for r in client.get("/api/ask", params={"q": "okapi diplomacy"}).json()["results"]]
    assert names[0] == "2025-okapi.txt"
    (corpus / BS).unlink()
    assert live.refresh()
    cited = client.get("/api/ask", params={"q": "quantum priorities", "k": 10}).json()["results"]
    assert all(r["name"] != BS and all(a["name"] != BS for a in r["also_in"]) for r in cited)
    assert client.get("/healthz").json()["index"]["sources"] == 5
    assert not live.refresh()


def test_no_index_yet_is_503_until_a_source_arrives(tmp_path, monkeypatch, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    client, live = client_for(Settings(corpus_dir=Path("corpus"), index_dir=Path("index")))
    assert "no sources" in one_line_error(client.get("/api/ask", params={"q": "x"}), 503)
    assert client.get("/healthz").json()["status"] == "no index"
    (tmp_path / "corpus" / "a.txt").write_text("Glaciers retreat every year.", encoding="utf-8")
    assert live.refresh()
    assert client.get("/api/ask", params={"q": "glaciers"}).json()["results"][0]["name"] == "a.txt"

