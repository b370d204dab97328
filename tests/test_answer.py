"""Finding, cutting and marking the answer: copies folded into one result, the sentence that
answers marked, and the one-line answer."""

from __future__ import annotations

from pathlib import Path

from itsqa.answer import Answer
from itsqa.build import update_index
from itsqa.service import open_index

from .helpers import make_settings


def test_a_passage_of_one_sentence_is_marked_whole_and_is_the_answer(tmp_path, fake_encoder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    sentence = "Quantum sensing matters."
    (corpus / "short.txt").write_text(f"  {sentence}\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    ans = open_index(s, refresh=False).retriever.ask("quantum sensing", k=1)
    hit = ans.hits[0]
    assert [hit.text[a:b] for a, b in hit.highlights] == [sentence]
    assert ans.best_answer == sentence


def test_neighbouring_passages_are_not_folded_as_copies(tmp_path, fake_encoder):
    """Two passages of one source share the sentence the chunker repeats between them; when
    that sentence is most of one of them they look like copies, but each has text of its own.
    A copy in another source still folds."""
    from dataclasses import replace

    from itsqa.retrieval import Retriever
    from itsqa.store import ChunkRecord

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Placeholder text about engineering biology.\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    shared = ("Engineering biology applies engineering principles to the design of biological "
              "systems, building on synthetic biology and the making of new components.")
    first = f"The priorities include quantum. {shared}"
    second = f"{shared} It raises legal questions."
    rows = [ChunkRecord("a.txt", 0, 0, len(first), first, "", ""),
            ChunkRecord("a.txt", 1, len(first) - len(shared), len(first) - len(shared) + len(second),
                        second, "", ""),
            ChunkRecord("b.txt", 0, 0, len(second), second, "", "")]
    r = Retriever(s, replace(r.index, chunks=rows), lambda: fake_encoder)
    chosen = r.answers.distinct([(1, 3.0), (0, 2.0), (2, 1.0)], k=5)
    assert [row for row, _, _ in chosen] == [1, 0]  # both neighbours shown
    assert chosen[0][2] == [2]  # the copy in b.txt folds into the passage it copies


def test_copies_filling_the_head_of_the_ranking_still_leave_k_distinct_passages(tmp_path,
                                                                                fake_encoder):
    """A source that repeats one paragraph hundreds of times puts its copies first for a question
    in its words; they fold into one result, and the other k - 1 come from further down."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    para = ("Quantum sensing programmes in the strategy. Partners will share quantum sensing work. "
            "Quantum sensing trials will follow.")
    (corpus / "copies.txt").write_text("\n\n".join([para] * 800) + "\n", encoding="utf-8")
    (corpus / "other.txt").write_text("Semiconductor supply chains matter for partners.\n",
                                      encoding="utf-8")
    (corpus / "third.txt").write_text("Telecoms diversification is a priority.\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    assert len(r.index.chunks) > 100  # more copies than the first look at the ranking takes
    answer = r.ask("quantum sensing trials with partners", k=3)
    assert len(answer.hits) == 3
    assert [Path(h.citation.source).name for h in answer.hits].count("copies.txt") == 1
    # The same at the level of one ranked list: 40 copies, then a passage of its own.
    ranked = [(row, 10.0 - 0.1 * i) for i, row in enumerate(
        [c for c, rec in enumerate(r.index.chunks) if rec.source == "copies.txt"][:40:2])]
    other = next(c for c, rec in enumerate(r.index.chunks) if rec.source == "other.txt")
    chosen = r.answers.distinct([*ranked, (other, 0.5)], k=2)
    assert [row for row, _, _ in chosen] == [ranked[0][0], other]


def answer_in(tmp_path: Path, files: dict[str, str], question: str) -> Answer:
    """Index a small corpus of `files` (name: text) and ask it `question` for one passage."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in files.items():
        (corpus / name).write_text(text + "\n", encoding="utf-8")
    s = make_settings(corpus, tmp_path)
    update_index(s)
    return open_index(s, refresh=False).retriever.ask(question, k=1)


def test_the_answer_sentence_weighs_the_questions_rare_words_with_its_meaning(tmp_path,
                                                                            fake_encoder):
    """Within a passage, sentences are scored as passages are: cosine fused with the idf of the
    question's words each holds. The sentence holding the rare word the question asks about
    is the answer although another sentence, full of the question's common words, is nearer
    it by cosine; that one is marked as well."""
    # says a little more than the question (so it is no mere restatement), with its words
    near = "The strategy says what it is about plainly."
    rare = "The strategy bans zeppelins over cities."
    question = "What does the strategy say about zeppelins?"
    q, a, b = fake_encoder.encode([question, near, rare])
    assert q @ a > q @ b  # by cosine alone the other sentence would be the answer
    ans = answer_in(tmp_path, {
        "a.txt": f"{near} {rare} Farmers grow wheat in the spring. Rivers flow to the sea in winter.",
        "b.txt": "The strategy says little about farming or rivers today.",
        "c.txt": "Another strategy says much about the railways of the north."}, question)
    hit = ans.hits[0]
    assert hit.citation.source.endswith("a.txt")
    assert ans.best_answer == rare
    assert sorted(hit.text[x:y] for x, y in hit.highlights) == sorted([near, rare])


def test_a_sentence_that_only_restates_the_question_is_not_the_answer(tmp_path, fake_encoder):
    """A label that repeats the question's words ("Protecting our security interests.") is
    nearest it by cosine and by the words it holds, but says nothing more: the sentence after
    it, which does, is the answer and is marked."""
    label = "Protecting our security interests."
    meaning = "Ensuring that sensitive technology does not fall into hostile hands."
    question = "What does protecting our security interests mean?"
    q, a, b = fake_encoder.encode([question, label, meaning])
    assert q @ a > q @ b  # by cosine alone the label would be the answer
    ans = answer_in(tmp_path, {
        "a.txt": f"{label} {meaning} Farmers grow wheat in the spring and sell it in autumn.",
        "b.txt": "Rivers flow to the sea in winter and in summer."}, question)
    hit = ans.hits[0]
    assert ans.best_answer == meaning
    assert label not in [hit.text[x:y] for x, y in hit.highlights]


def test_a_sentence_that_restates_the_question_is_the_answer_when_nothing_says_more(
        tmp_path, fake_encoder):
    ans = answer_in(tmp_path, {"a.txt": "Quantum sensing priorities matter. Sensing quantum priorities."},
                    "quantum sensing priorities matter")
    assert ans.best_answer == "Quantum sensing priorities matter."


def test_a_lead_in_answers_with_what_it_introduces(tmp_path, fake_encoder):
    """A sentence ending in a colon introduces the answer: the one-line answer and the marks
    carry on to the item after it."""
    lead = "The government will deliver its diplomatic levers by engaging in:"
    item = "• Cyber work: growing its network of cyber officers and dialogues."
    ans = answer_in(tmp_path, {
        "a.txt": f"Farmers grow wheat in the spring and sell it in autumn.\n\n{lead}\n\n{item}\n\n"
                 "• Trade work: supporting exports and attracting foreign investment.",
        "b.txt": "Rivers flow to the sea in winter and in summer."},
        "Which diplomatic levers will the government use?")
    hit = ans.hits[0]
    marked = [hit.text[x:y] for x, y in hit.highlights]
    assert lead in marked and item in marked
    assert ans.best_answer == f"{lead} {item}"
