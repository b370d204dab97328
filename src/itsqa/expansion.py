"""Query expansion: every word of the corpus is embedded once at build time, and a question word
also counts, in BM25, the corpus words the model places nearest it ("young companies" finds
"startups", "ambassadors" finds "envoys"), which BM25 alone cannot match. A question word that no
passage holds at all ("chips" where the sources say "semiconductors") adds nothing to BM25 by
itself, so it may borrow less close words, though never function words ("them", "our") at that
distance. Pure: the vectors come in as arrays.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from .lexical import content_words, stemmer

# Up to PER_WORD corpus words with cosine >= THRESHOLD to a question word, each adding
# WEIGHT x cosine x its BM25 column (chosen on both corpora: benchmarks/ABLATION.md).
THRESHOLD = 0.6
PER_WORD = 3
WEIGHT = 0.75
# A question word that no passage holds takes related terms down to this cosine.
ABSENT_THRESHOLD = 0.35
# The most frequent corpus words are embedded; beyond this the rarest go unexpanded.
MAX_TERMS = 50_000
# At most this many distinct words of a question are expanded (each is embedded per question).
MAX_QUESTION_WORDS = 64


def corpus_terms(texts: Sequence[str], stopwords: frozenset[str], limit: int = MAX_TERMS
                 ) -> tuple[list[str], list[str]]:
    """The corpus's words (the `limit` most frequent) and their stems, sorted by word."""
    counts: Counter[str] = Counter()
    for t in texts:
        counts.update(content_words(t, stopwords))
    words = sorted(w for w, _ in counts.most_common(limit))
    return words, list(stemmer().stemWords(words)) if words else []


def question_words(question: str, stopwords: frozenset[str]) -> list[str]:
    """The question's words to expand, sorted: a pasted page (thousands of words) keeps only
    its first MAX_QUESTION_WORDS distinct ones."""
    found = content_words(question, stopwords)
    return sorted(list(dict.fromkeys(found))[:MAX_QUESTION_WORDS])


def _best(row: Any, k: int) -> Any:
    """The indices of the `k` highest values, best first, ties in index order (as a stable
    sort of the whole row would give them, without sorting it)."""
    import numpy as np

    if len(row) <= k:
        return np.argsort(-row, kind="stable")
    cut = np.partition(row, len(row) - k)[len(row) - k]
    candidates = np.flatnonzero(row >= cut)
    return candidates[np.argsort(-row[candidates], kind="stable")][:k]


def related_terms(words: Sequence[str], word_vectors: Any, term_vectors: Any,
                  term_stems: Sequence[str], absent: frozenset[str] = frozenset(),
                  function_stems: frozenset[str] = frozenset()) -> dict[str, float]:
    """{stem: weight} to add to a question made of `words`: for each word its nearest corpus
    words (by the model's vectors) above the threshold, leaving out stems the question already
    has. Words in `absent` (held by no passage) go down to ABSENT_THRESHOLD, but not to
    `function_stems` below the usual threshold."""
    import numpy as np

    if not len(words) or not len(term_stems):
        return {}
    own = set(stemmer().stemWords(list(words)))
    sims = np.asarray(word_vectors, dtype=np.float32) @ np.asarray(term_vectors, dtype=np.float32).T
    extra: dict[str, float] = {}
    for word, row in zip(words, sims, strict=True):
        taken = 0
        low = word in absent
        floor = ABSENT_THRESHOLD if low else THRESHOLD
        for j in _best(row, PER_WORD * 4):
            if row[j] < floor or taken >= PER_WORD:
                break
            stem = term_stems[j]
            if stem in own or (low and row[j] < THRESHOLD and stem in function_stems):
                continue
            extra[stem] = max(extra.get(stem, 0.0), float(row[j]))
            taken += 1
    return {s: WEIGHT * w for s, w in extra.items()}
