"""The click CLI in this process (CliRunner) with the fake model: exit codes and one-line errors,
what each command prints, and its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itsqa.cli import cli

from .helpers import ROOT, assert_one_line_error, invoke


@pytest.mark.parametrize("args,code,words", [
    (["ask", ""], 2, ["question is empty"]),
    (["ask", "   \t "], 2, ["question is empty"]),
    (["ask", "\udcff\udcfe"], 2, ["not readable text", "locale"]),
    (["ask", "quantum", "-k", "0"], 2, ["-k"]),
    (["ask", "quantum", "-k", "-3"], 2, ["-k"]),
    (["ask", "quantum", "-k", "many"], 2, ["-k"]),
    (["ask", "quantum", "--mode", "magic"], 2, ["--mode"]),
    (["ask"], 2, ["QUESTION"]),
    (["frobnicate"], 2, ["No such command"]),
    (["eval"], 2, ["question set"]),
    (["index", "--corpus", "does-not-exist"], 1, ["does not exist"]),
    (["index", "--corpus", ".", "--index", "."], 2, ["separate --index"]),
    (["ask", "quantum", "--reranker", "no-such-model"], 1, ["reranker:", "is not a folder"]),
    (["eval", "q.jsonl", "--reranker", "no-such-model"], 1, ["reranker:", "is not a folder"]),
])
def test_misuse_and_failures_give_one_line_and_exit_code(runner, tmp_path, monkeypatch, args,
                                                         code, words, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(runner, args), code, *words)


def test_ask_refuses_an_index_folder_that_holds_the_corpus_before_saying_it_builds(
        runner, tmp_path, monkeypatch, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("The quantum strategy.", encoding="utf-8")
    result = invoke(runner, ["ask", "quantum", "--corpus", ".", "--index", "."])
    assert_one_line_error(result, 2, "separate --index")
    assert "building" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_a_bad_reranker_in_the_environment_fails_before_any_work(runner, tmp_path, monkeypatch,
                                                                  fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model").mkdir()
    result = invoke(runner, ["ask", "quantum"], env={"ITSQA_RERANKER": "model"})
    assert_one_line_error(result, 1, "reranker:", "no config.json")
    assert not (tmp_path / "index").exists()


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf", "1e309"])
def test_a_bad_size_limit_in_the_environment_is_misuse(runner, tmp_path, monkeypatch, corpus_copy,
                                                       fake_encoder, value) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, ["index", "--corpus", str(corpus_copy)],
                    env={"ITSQA_MAX_SOURCE_MB": value})
    assert_one_line_error(result, 2, "ITSQA_MAX_SOURCE_MB must be a positive number", repr(value))
    assert not (tmp_path / "index" / "CURRENT").exists()
    assert invoke(runner, ["index", "--corpus", str(corpus_copy)],
                  env={"ITSQA_MAX_SOURCE_MB": " 0.5 "}).exit_code == 0


def test_a_line_break_in_a_path_or_file_name_keeps_errors_and_warnings_on_one_line(
        runner, tmp_path, monkeypatch, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke(runner, ["ask", "q", "--corpus", "two\nlines"]), 1,
                          "corpus folder two\\nlines does not exist")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Puffins nest on the cliffs.\n", encoding="utf-8")
    (corpus / "bad\nname.odt").write_bytes(b"PK")
    result = invoke(runner, ["index"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()  # stdout and stderr, as a terminal shows them
    assert ("warning: skipped bad\\nname.odt: not a supported format (.txt, .md, .rst, .html, "
            ".pdf, .docx or .pptx)") in lines


def test_escape_sequences_in_a_file_name_reach_the_terminal_as_text(runner, tmp_path,
                                                                     monkeypatch, fake_encoder):
    """A file name can hold what a terminal would act on (retitle the window, ring, clear the
    screen, turn the name round): warnings and errors show it as escapes instead."""
    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Puffins nest on the cliffs.\n", encoding="utf-8")
    (corpus / "a\x1b]0;pwned\x07\u202egpj.odt").write_bytes(b"PK")
    result = invoke(runner, ["index"], color=True)
    assert result.exit_code == 0, result.output
    assert not any(c in result.output for c in "\x1b\x07\u202e"), repr(result.output)
    assert ("warning: skipped a\\x1b]0;pwned\\x07\\u202egpj.odt: not a supported format"
            in result.output), result.output
    result = invoke(runner, ["ask", "q", "--corpus", "x\x1b[2J"], color=True)
    assert_one_line_error(result, 1, "corpus folder x\\x1b[2J does not exist")
    assert "\x1b" not in result.output


def test_thousands_of_skipped_files_give_a_short_list_of_warnings(runner, tmp_path, monkeypatch,
                                                                   fake_encoder) -> None:
    from itsqa.cli_common import WARNINGS_SHOWN

    monkeypatch.chdir(tmp_path)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text("Puffins nest on the cliffs.\n", encoding="utf-8")
    for i in range(WARNINGS_SHOWN + 30):
        (corpus / f"empty{i:03}.txt").write_text("", encoding="utf-8")
    result = invoke(runner, ["index"])
    assert result.exit_code == 0, result.output
    warned = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert len(warned) == WARNINGS_SHOWN + 1
    assert warned[-1].startswith("warning: … and 30 more")
    (corpus / "good.txt").write_text("Puffins and gannets nest on the cliffs.\n", encoding="utf-8")
    for i in range(WARNINGS_SHOWN + 30):
        (corpus / f"empty{i:03}.txt").write_text(" ", encoding="utf-8")  # changed: checked again
    result = invoke(runner, ["index", "--json"])
    assert len(json.loads(result.stdout)["warnings"]) == WARNINGS_SHOWN + 30
    rows = json.loads(invoke(runner, ["sources", "--json"]).stdout)
    assert sum(r["status"] == "skipped" for r in rows) == WARNINGS_SHOWN + 30


def test_corpus_that_is_a_file(runner, tmp_path, monkeypatch, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    result = invoke(runner, ["ask", "quantum", "--corpus", "notes.txt"])
    assert_one_line_error(result, 1, "is a file, not a folder")


@pytest.mark.parametrize("args", [["ask", "quantum"], ["index"], ["sources"]])
def test_index_that_is_a_file(runner, tmp_path, monkeypatch, corpus_copy, fake_encoder,
                              args: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    result = invoke(runner, [*args, "--corpus", str(corpus_copy), "--index", "notes.txt"])
    assert_one_line_error(result, 1, "notes.txt is a file, not a folder")
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "x"


def test_empty_corpus(runner, tmp_path, monkeypatch, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    assert_one_line_error(invoke(runner, ["index"]), 1, "no sources")


def test_env_vars_choose_paths(runner, tmp_path, monkeypatch, corpus_copy, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"ITSQA_CORPUS": str(corpus_copy), "ITSQA_INDEX": str(tmp_path / "elsewhere")}
    result = invoke(runner, ["index", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere" / "CURRENT").is_file()
    assert not (tmp_path / "index").exists()


def test_malformed_question_set(runner, tmp_path, monkeypatch, corpus_copy, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"id": "1", "question": "q", "evidence": ["x"]}\n{oops\n', encoding="utf-8")
    assert_one_line_error(invoke(runner, ["eval", str(bad)]), 1, "line 2")
    assert_one_line_error(invoke(runner, ["eval", str(tmp_path / "missing.jsonl")]), 1,
                          "does not exist")
    bad.write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    assert_one_line_error(invoke(runner, ["eval", str(bad)]), 1, "line 1: nested too deeply")


def test_ask_json_schema_and_k_larger_than_corpus(runner, tmp_path, monkeypatch, corpus_copy,
                                                  fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, ["ask", "quantum priorities", "--json", "-k", "10000"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output.splitlines()[-1])
    assert out["question"] == "quantum priorities"
    assert 0 < len(out["results"]) < 10000
    assert [r["rank"] for r in out["results"]] == list(range(1, len(out["results"]) + 1))
    r = out["results"][0]
    assert Path(r["source"]).read_text(encoding="utf-8")[r["start"] : r["end"]] == r["text"]
    docs = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    undocumented = [key for key in [*out, *r] if f"`{key}`" not in docs]
    assert not undocumented, f"docs/json.md does not document {undocumented}"


def test_question_unquoted_or_from_standard_input(runner, tmp_path, monkeypatch, corpus_copy,
                                                  fake_encoder) -> None:
    """`itsqa ask what are the quantum priorities` is the quoted question; `itsqa ask -` reads
    it from standard input (bytes that are not UTF-8 replaced, size capped)."""
    monkeypatch.chdir(tmp_path)
    quoted = json.loads(invoke(runner, ["ask", "what are the quantum priorities", "--json"])
                        .output.splitlines()[-1])
    words = invoke(runner, ["ask", "what", "are", "the", "quantum", "priorities", "--json"])
    assert words.exit_code == 0, words.output
    assert json.loads(words.output.splitlines()[-1]) == quoted
    piped = runner.invoke(cli, ["ask", "-", "--json"], input=b"what are the quantum priorities\n",
                          env={"ITSQA_DEBUG": ""}, catch_exceptions=False)
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.output.splitlines()[-1]) == quoted
    odd = runner.invoke(cli, ["ask", "-", "--json"], input=b"quantum \xff priorities",
                        env={"ITSQA_DEBUG": ""}, catch_exceptions=False)
    assert json.loads(odd.output.splitlines()[-1])["question"] == "quantum \ufffd priorities"
    for data, words_ in [(b"", ["empty"]), (b" \n\t", ["empty"]),
                         (b"x" * ((1 << 20) + 1), ["standard input", "MiB"])]:
        result = runner.invoke(cli, ["ask", "-"], input=data, env={"ITSQA_DEBUG": ""},
                               catch_exceptions=False)
        assert_one_line_error(result, 2, *words_)


def test_index_text_report(runner, tmp_path, monkeypatch, corpus_copy, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    first = invoke(runner, ["index"])
    assert first.exit_code == 0 and "5 added" in first.output and "embedded" in first.output
    second = invoke(runner, ["index"])
    assert second.exit_code == 0 and "up to date" in second.output


@pytest.mark.parametrize("question", ["🚀🚀🚀", "שלום עולם", "line\x00with\x07controls\x1b[31m",
                                      "\u202eevil rtl override", "a" * 20000, "\udcff\udcfe bytes"])
def test_any_unicode_question_works(runner, tmp_path, monkeypatch, corpus_copy, fake_encoder,
                                    question) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, ["ask", question])
    assert result.exit_code == 0, result.output
    assert "\x1b[31m" not in result.output


def test_json_is_valid_utf8_when_the_question_was_not(runner, tmp_path, monkeypatch, corpus_copy,
                                                        fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    # argv bytes that are not UTF-8 reach Python as lone surrogates (b"\xff" -> "\udcff")
    result = invoke(runner, ["ask", "--json", "quantum \udcff \ud800 priorities"])
    assert result.exit_code == 0, result.output
    line = result.stdout_bytes.decode("utf-8")  # strict: raises on any byte that is not UTF-8
    assert json.loads(line)["question"] == "quantum \ufffd \ufffd priorities"


def test_a_corpus_folder_whose_name_is_not_utf8(runner, tmp_path, monkeypatch, corpus_copy,
                                                fake_encoder) -> None:
    import os
    import shutil

    monkeypatch.chdir(tmp_path)
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xffcorpus"))  # "\udcffcorpus" in Python
    shutil.copytree(corpus_copy, odd)
    for args in (["index", "--json"], ["ask", "--json", "quantum"], ["sources", "--json"]):
        result = invoke(runner, [*args, "--corpus", str(odd)])
        assert result.exit_code == 0, result.output
        text = result.stdout_bytes.decode("utf-8")  # strict: no raw byte that is not UTF-8
        json.loads(text)
    assert json.loads(text)[0]["status"] == "indexed"


def test_sources_and_stale_status(runner, tmp_path, monkeypatch, corpus_copy, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    invoke(runner, ["index"])
    (corpus_copy / "2025-new.txt").write_text("New text about herons.\n", encoding="utf-8")
    result = invoke(runner, ["sources", "--json"])
    rows = {r["name"]: r for r in json.loads(result.output.splitlines()[-1])}
    assert rows["2025-new.txt"]["status"] == "new"
    assert rows["2025-new.txt"]["title"] == "New"
    assert rows["2023-03-22-hansard-written-statement-hcws660.txt"]["status"] == "indexed"
    stale = invoke(runner, ["ask", "herons", "--no-refresh"])
    assert stale.exit_code == 0 and "stale" in stale.output
    # On a terminal, the furniture left out is counted by the rule that found it.
    text = " ".join(invoke(runner, ["sources"]).output.split())
    assert "characters of page furniture left out (by rule: link 2, page chrome 2, stranded " \
           "fragment 2)" in text


def test_ask_that_refreshes_says_what_it_skipped_or_ignored(runner, tmp_path, monkeypatch,
                                                             corpus_copy, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    invoke(runner, ["index"])
    (corpus_copy / "blob.txt").write_bytes(bytes(range(256)) * 8)
    with (corpus_copy / "sources.toml").open("a", encoding="utf-8") as fh:
        fh.write("this is [not toml\n")
    result = invoke(runner, ["ask", "quantum"])
    assert result.exit_code == 0, result.output
    assert "warning: skipped blob.txt: binary data" in result.output
    assert "warning: ignored sources.toml" in result.output
    # once the index is up to date, an ask says nothing more (itsqa sources still lists them)
    again = invoke(runner, ["ask", "quantum"])
    assert "warning" not in again.output


def test_debug_shows_traceback(runner, tmp_path, monkeypatch, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(cli, ["--debug", "index", "--corpus", "nope"])
    assert result.exit_code == 1


def test_json_page_documents_every_json_field() -> None:
    readme = (ROOT / "docs" / "json.md").read_text(encoding="utf-8")
    for field in ("rank", "score", "text", "source", "title", "publisher", "date", "url", "start",
                  "end", "also_in", "highlights", "confident", "first_relevant_rank"):
        assert f"`{field}`" in readme, field


def test_no_refresh_answers_even_when_the_corpus_is_gone(runner, tmp_path, monkeypatch,
                                                          corpus_copy, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    assert invoke(runner, ["index"]).exit_code == 0
    import shutil

    shutil.rmtree(corpus_copy)
    result = invoke(runner, ["ask", "quantum", "--no-refresh"])
    assert result.exit_code == 0, result.output
    assert "cannot compare the index with its sources" in result.output
    assert_one_line_error(invoke(runner, ["ask", "quantum"]), 1, "does not exist")


def test_eval_compare_tests_each_row_against_the_first(runner, tmp_path, monkeypatch, corpus_copy,
                                                       fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q) for q in [
        {"id": "a", "question": "quantum priorities",
         "evidence": ["Implement the National Quantum Strategy"]},
        {"id": "b", "question": "who is the tech envoy to the US",
         "evidence": ["Joe White"]},
        {"id": "c", "question": "what did the Foreign Secretary say",
         "evidence": ["Now more than ever"]},
    ]), encoding="utf-8")
    result = invoke(runner, ["eval", str(questions), "--compare"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("mode"))
    assert lines[head].split()[-1] == "p"
    assert lines[head + 1].startswith("hybrid") and lines[head + 1].split()[-1] == "—"
    rows = lines[head + 2 : head + 7]  # dense, bm25, late and the two baselines
    assert len(rows) == 5
    for row in rows:
        p = row.split()[-1]
        assert p == "<0.001" or 0.0 <= float(p) <= 1.0
    assert any(line.startswith("p: MRR@10 of each row against the first") for line in lines)
    interval = next(line for line in lines if line.startswith("95% interval (hybrid"))
    assert "over the 3 questions" in interval and "hit@1" in interval and "MRR@10" in interval
    assert ": 3 answerable questions" in result.output
    one = tmp_path / "one.jsonl"
    one.write_text(questions.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    single = invoke(runner, ["eval", str(one)])
    assert single.exit_code == 0, single.output
    assert ": 1 answerable question\n" in single.output and "over the 1 question)" in single.output


def test_eval_beir_prints_ndcg_with_its_interval(runner, tmp_path, monkeypatch, fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    beir = tmp_path / "tiny"
    (beir / "qrels").mkdir(parents=True)
    docs = {"d1": "Quantum sensing and timing for navigation.",
            "d2": "Semiconductor design and compound chips.",
            "d3": "Data bridges between the UK and partner countries."}
    (beir / "corpus.jsonl").write_text("\n".join(
        json.dumps({"_id": d, "title": "", "text": t}) for d, t in docs.items()), encoding="utf-8")
    (beir / "queries.jsonl").write_text("\n".join(
        json.dumps({"_id": q, "text": t}) for q, t in [("q1", "quantum navigation"),
                                                        ("q2", "semiconductor chips")]),
        encoding="utf-8")
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n",
                                            encoding="utf-8")
    result = invoke(runner, ["eval", "--beir", str(beir), "--index", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    row = next(line for line in lines if line.startswith("hybrid"))
    ndcg = float(row.split()[1])
    interval = next(line for line in lines if line.startswith("95% interval (hybrid"))
    assert "over the 2 queries" in interval
    lo, hi = (float(x) for x in interval.split("nDCG@10 ")[1].split("–"))
    assert lo <= ndcg <= hi
    out = json.loads(invoke(runner, ["eval", "--beir", str(beir), "--index", str(tmp_path / "cache"),
                                     "--json"]).output)
    assert out["intervals"]["ndcg@10"] == pytest.approx([lo, hi], abs=5e-4)
    compared = invoke(runner, ["eval", "--beir", str(beir), "--index", str(tmp_path / "cache"),
                               "--compare"])
    assert compared.exit_code == 0, compared.output
    ratio = next(line for line in compared.output.splitlines()
                 if line.startswith("hybrid / bm25s, whole documents: nDCG@10"))
    assert "x (95% interval" in ratio


def test_ask_prints_and_reports_the_reading(runner, tmp_path, monkeypatch, corpus_copy,
                                            fake_encoder) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1"])
    assert result.exit_code == 0, result.output
    assert "Read “quantm” as “quantum”; “prorities” as “priorities”" in result.output
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1", "--json"])
    out = json.loads(result.output.splitlines()[-1])
    assert out["question"] == "quantm prorities"
    assert out["corrections"] == [{"typed": "quantm", "read_as": "quantum"},
                                  {"typed": "prorities", "read_as": "priorities"}]
    # --as-typed: the words are taken as they are, and listed as found in no source
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1", "--as-typed"])
    assert result.exit_code == 0, result.output
    assert "Read “" not in result.output
    assert "Not in any source: quantm, prorities" in result.output
    result = invoke(runner, ["ask", "quantm prorities", "-k", "1", "--json", "--as-typed"])
    out = json.loads(result.output.splitlines()[-1])
    assert out["corrections"] == [] and out["missing_words"] == ["quantm", "prorities"]
