"""What a question asks about: the words that only frame it, and the names it asks about; a
question whose every name no source holds is flagged as not answered."""

from __future__ import annotations

from dataclasses import replace

from itsqa.build import update_index
from itsqa.service import open_index
from itsqa.subjects import has_near_form, names

from .helpers import make_settings


def test_names_are_capitalised_words_inside_a_sentence_codes_and_long_acronyms():
    assert names("Does the strategy name Huawei?") == ["Huawei"]
    assert names("working with the G7 on 5G") == ["G7", "5G"]
    assert names("cooperation through the Quad or AUKUS") == ["Quad", "AUKUS"]
    # a sentence's first word, "I" and short acronyms (often spelt out in the sources) are not
    assert names("Huawei. Who decides? Labour said so") == []
    assert names("What did I say about the EU and IP?") == []
    assert names("Is the whole of Whitehall signed up? Ask the Foreign Office") == [
        "Whitehall", "Foreign", "Office"]
    assert names("") == [] and names("  ?! ") == []


def test_a_corpus_word_sharing_the_first_letters_is_a_near_form():
    vocab = sorted(["british", "govern", "quantum"])
    assert has_near_form("britain", vocab)
    assert not has_near_form("huawei", vocab) and not has_near_form("quad", ["quantum"])
    assert not has_near_form("g7", vocab)


def test_framing_words_are_not_listed_as_missing(corpus_copy, tmp_path, fake_encoder):
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    reader = open_index(s, refresh=False).retriever.reader
    question = "I was wondering whether the strategy covers Huawei"
    assert reader.missing_words(question) == ("Huawei",)
    assert "wondering" in reader.missing_words(question, framing=True)


def test_a_question_whose_every_name_is_absent_is_not_confident(corpus_copy, tmp_path,
                                                                 fake_encoder):
    s = replace(make_settings(corpus_copy, tmp_path), confidence_threshold=-1.0)
    update_index(s)
    r = open_index(s, refresh=False).retriever
    ans = r.ask("Does the strategy name Huawei?", k=2)
    assert not ans.confident and ans.missing_words == ("Huawei",) and ans.hits
    assert r.ask("Does it name Huawei or the Foreign Office?", k=2).confident  # one is there
    assert r.ask("What does it say about Britain?", k=2).confident  # "British" is
    assert r.ask("what does it say about huawei", k=2).confident  # no name as typed
    off = open_index(replace(s, absent_names=False), refresh=False).retriever
    assert off.ask("Does the strategy name Huawei?", k=2).confident
