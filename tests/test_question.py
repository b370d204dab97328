"""Reading a question before it is ranked: typing errors read as meant (spelling.py with the
index's words), the words no source holds, and which words expansion looks at."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from itsqa import spelling
from itsqa.build import update_index
from itsqa.config import Settings
from itsqa.service import open_index
from itsqa.spelling import Correction

from .helpers import make_settings


def test_missing_words_are_the_question_words_no_source_has(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    # stems count ("priorities" is there as "priority"); function words and numbers never count
    assert r.reader.missing_words("What are the quantum priorities in 2023?") == ()
    assert r.reader.missing_words("Who is the tech envoy to Brazil, and does brazil have one?") == ("Brazil",)
    assert r.reader.missing_words("zebra quantum Xylophones") == ("zebra", "Xylophones")
    assert r.reader.missing_words("?! what how") == ()
    ans = r.ask("Is there a tech envoy to Brazil?", k=2)
    assert ans.missing_words == ("Brazil",) and ans.as_json()["missing_words"] == ["Brazil"]
    # adding a source that names it makes it findable, and no longer missing
    (corpus_copy / "brazil.txt").write_text("The UK and Brazil signed a technology partnership.\n",
                                            encoding="utf-8")
    update_index(s)
    r = open_index(s, refresh=False).retriever
    assert r.reader.missing_words("Is there a tech envoy to Brazil?") == ()


def test_expansion_is_told_which_question_words_no_source_has(corpus_copy, tmp_path,
                                                              fake_encoder, monkeypatch):
    from dataclasses import replace

    from itsqa import expansion

    seen: list[frozenset[str]] = []
    real = expansion.related_terms

    def spy(*args: object) -> dict[str, float]:
        seen.append(args[4])  # type: ignore[arg-type]
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(expansion, "related_terms", spy)
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    open_index(s, refresh=False).retriever.ask("Which Xylophones are quantum priorities?")
    assert seen[-1] == frozenset({"xylophones"})
    off = replace(s, absent_expansion=False)
    open_index(off, refresh=False).retriever.ask("Which Xylophones are quantum priorities?")
    assert seen[-1] == frozenset()


def test_a_pasted_page_expands_only_its_first_words(corpus_copy, tmp_path, fake_encoder):
    from itsqa.expansion import MAX_QUESTION_WORDS, question_words

    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    words = [f"word{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(300)]
    stops = r.index.bm25.stopwords
    expanded = question_words(" ".join(words + ["quantum"]), stops)
    assert expanded == sorted(words[:MAX_QUESTION_WORDS])
    assert question_words("quantum priorities for quantum", stops) == ["priorities", "quantum"]
    assert r.ask(" ".join(words), k=2).hits  # still answered


def test_a_correction_keeps_the_case_it_was_typed_in(tmp_path, corpus_copy,
                                                     fake_encoder) -> None:
    r = _retriever(tmp_path)
    assert r.reader.corrected("What did Michelle Donnelan say?") == (
        "What did Michelle Donelan say?", (Correction("Donnelan", "Donelan"),))
    assert r.reader.corrected("DONNELAN QUANTM") == (
        "DONELAN QUANTUM", (Correction("DONNELAN", "DONELAN"), Correction("QUANTM", "QUANTUM")))


def _retriever(root: Path, **changes):
    s = replace(Settings(corpus_dir=root / "corpus", index_dir=root / "index"), **changes)
    return open_index(s).retriever


def test_a_mistyped_question_is_read_as_meant_and_says_so(tmp_path, corpus_copy,
                                                          fake_encoder) -> None:
    r = _retriever(tmp_path)
    right = r.ask("semiconductor supply chains", k=3)
    typed = r.ask("semicondutor suply chains", k=3)
    assert [(c.typed, c.read_as) for c in typed.corrections] == [
        ("semicondutor", "semiconductor"), ("suply", "supply")]
    assert typed.question == "semicondutor suply chains"
    assert [h.row for h in typed.hits] == [h.row for h in right.hits]
    assert "semicondutor" not in typed.missing_words
    # switched off, the typed words match nothing and are listed as missing
    off = _retriever(tmp_path, spelling=False).ask("semicondutor suply chains", k=3)
    assert off.corrections == () and "semicondutor" in off.missing_words
    assert [h.row for h in off.hits] != [h.row for h in right.hits]


def test_words_the_corpus_or_the_dictionary_holds_are_never_changed(tmp_path, corpus_copy,
                                                                    fake_encoder) -> None:
    r = _retriever(tmp_path)
    # "Donelan" is in the corpus, "Brazil" and "restate" in the dictionary, "TikTok" is a name
    # two edits from any word; "6G" and "R&D" are not words of letters only
    question = "Did Donelan restate the TikTok plans for Brazil, 6G and R&D?"
    assert r.reader.corrected(question) == (question, ())
    assert r.ask(question).corrections == ()


def test_a_pasted_page_has_only_its_first_words_looked_up(tmp_path, corpus_copy, fake_encoder,
                                                          monkeypatch) -> None:
    import itsqa.spelling

    looked: list[str] = []
    real = itsqa.spelling.suggest
    monkeypatch.setattr(itsqa.spelling, "suggest",
                        lambda w, *a, **k: looked.append(w) or real(w, *a, **k))
    r = _retriever(tmp_path)
    page = " ".join(f"qzxv{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676)}"
                    for i in range(3000))
    answer = r.ask(page, k=1)
    assert len(looked) == spelling.MOST_WORDS and answer.hits
    assert len(answer.missing_words) == 3000
