"""Batching of texts for the ONNX encoder (the vectors themselves are checked against
sentence-transformers in test_e2e_real.py, on texts of very different lengths)."""

from __future__ import annotations

import pytest

from itsqa.embedding import length_batches


def test_a_question_is_not_padded_into_its_one_word_expansion_terms() -> None:
    # "how", "chip", "industry", then the question itself (sorted by length, as encode does)
    lengths = [3, 4, 8, 64]
    assert length_batches(lengths, 32) == [range(0, 3), range(3, 4)]


@pytest.mark.parametrize("lengths, size, expected", [
    ([], 32, []),
    ([5], 32, [range(0, 1)]),
    ([10, 20, 30, 40], 32, [range(0, 4)]),  # never 32 characters longer than the first
    ([100, 150, 200, 201, 402, 403], 32, [range(0, 3), range(3, 5), range(5, 6)]),  # doubling
    ([7] * 5, 2, [range(0, 2), range(2, 4), range(4, 5)]),
])
def test_batches_cover_every_text_in_order(lengths: list[int], size: int,
                                           expected: list[range]) -> None:
    batches = length_batches(lengths, size)
    assert batches == expected
    assert [i for b in batches for i in b] == list(range(len(lengths)))
