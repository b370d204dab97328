"""What lets an index grow: product-quantised token vectors, the columnar passage table, the
build's journal (an interrupted build resumes), the HNSW graph past the exact-search limit, and
progress lines with a rate and the time left."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from itsqa import build, dense, journal, store, tokens
from itsqa.build import update_index
from itsqa.scope import scope_from
from itsqa.service import open_index
from itsqa.tables import ChunkRecord, ChunkTable

from .helpers import make_settings


def _clustered(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 centres, like a corpus's token vectors."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(40, dim))
    x = centres[rng.integers(0, 40, n)] + 0.3 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_product_quantisation_keeps_token_similarities(tmp_path: Path) -> None:
    x = _clustered(4096)
    book = tokens.Codebook.train(x)
    codes = book.encode(x)
    assert codes.dtype == np.uint8 and codes.shape == (4096, tokens.SUBVECTORS)
    book.save(tmp_path / "book.npy")
    again = tokens.Codebook.load(tmp_path / "book.npy")
    decoded = again.decode(codes)
    assert decoded.shape == x.shape
    # token vectors are unit length, and so are their decoded stand-ins
    assert np.allclose(np.linalg.norm(decoded, axis=1), 1.0, atol=1e-5)
    # late interaction sums each question token's best match: that must barely move
    q, passage = x[4000:], x[:500]
    exact, approx = q @ passage.T, q @ decoded[:500].T
    assert np.abs(exact - approx).mean() < 0.015
    # ... moved by one shift for every question token (late scores are compared among passages)
    assert (exact.max(axis=1) - approx.max(axis=1)).std() < 0.008
    # where centroids of the right scale but not learnt move them far more
    noise = tokens.Codebook(np.random.default_rng(2).normal(size=book.centroids.shape)
                            .astype(np.float32) * 0.1)
    guessed = q @ noise.decode(noise.encode(passage)).T
    assert (exact.max(axis=1) - guessed.max(axis=1)).std() > 0.012


def test_each_code_names_the_nearest_centroid_of_its_slice() -> None:
    x = _clustered(512, seed=3)
    book = tokens.Codebook.train(_clustered(4096))
    parts = x.reshape(len(x), tokens.SUBVECTORS, -1)
    c = book.centroids
    distances = (c * c).sum(axis=2)[None] - 2 * np.einsum("nmd,mkd->nmk", parts, c)
    assert np.array_equal(book.encode(x), distances.argmin(axis=2))


def test_passage_table_round_trip(tmp_path: Path) -> None:
    records = [ChunkRecord("a.txt", 0, 0, 11, "Héllo world", "Intro", "0" * 32),
               ChunkRecord("b.pdf", 3, 40, 52, "Second text.", "", "1" * 32, page=7)]
    ChunkTable.of(records).save(tmp_path)
    back = ChunkTable.load(tmp_path)
    assert list(back) == records
    assert back[-1] == records[-1] and back[0:1] == records[:1]


def test_an_interrupted_build_resumes_from_its_journal(corpus_copy, tmp_path, fake_encoder,
                                                       monkeypatch) -> None:
    # Token codes are journalled once a codebook is learnt: let this small corpus learn one.
    monkeypatch.setattr(build, "TRAIN_TOKENS", 1024)
    monkeypatch.setattr(tokens, "TRAIN_TOKENS", 1024)
    monkeypatch.setattr(tokens, "MIN_TRAIN", 1024)
    monkeypatch.setattr(journal, "FLUSH_SECONDS", 0.0)  # a shard after every batch
    monkeypatch.setattr(build, "BATCH", 8)
    s = make_settings(corpus_copy, tmp_path)
    real = build.encode_each_with_tokens
    batches: list[int] = []

    def dies_on_the_fourth_batch(enc, texts):
        batches.append(len(texts))
        if len(batches) == 4:
            raise KeyboardInterrupt
        return real(enc, texts)

    monkeypatch.setattr(build, "encode_each_with_tokens", dies_on_the_fourth_batch)
    with pytest.raises(KeyboardInterrupt):
        update_index(s)
    assert store.current_generation(s.index_dir) is None
    assert list((s.index_dir / journal.FOLDER).glob("*.keys.json"))
    monkeypatch.setattr(build, "encode_each_with_tokens", real)
    report = update_index(s)
    assert 0 < report.embedded < report.total  # the batches done before the kill are reused
    assert not (s.index_dir / journal.FOLDER).exists()  # the commit clears the journal
    fresh = make_settings(corpus_copy, tmp_path / "fresh")
    update_index(fresh)
    a, b = store.load(s.index_dir), store.load(fresh.index_dir)
    assert a is not None and b is not None and a.tokens.codebook is not None
    assert np.array_equal(np.asarray(a.embeddings()), np.asarray(b.embeddings()))
    question = "Which house received the strategy?"
    assert ([h.text for h in open_index(s).retriever.ask(question).hits]
            == [h.text for h in open_index(fresh).retriever.ask(question).hits])


def test_an_update_reuses_the_previous_index_s_vectors_and_codes_as_they_were(
        corpus_copy, tmp_path, fake_encoder, monkeypatch) -> None:
    # The previous index's vectors and codes are read from its files as the new one is written.
    monkeypatch.setattr(tokens, "TRAIN_TOKENS", 1024)
    monkeypatch.setattr(tokens, "MIN_TRAIN", 1024)
    monkeypatch.setattr(build, "TRAIN_TOKENS", 1024)
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    before = store.load(s.index_dir)
    assert before is not None and before.tokens.codebook is not None
    embeddings = np.asarray(before.embeddings())
    old = {h: (embeddings[row].copy(), before.tokens.rows[
               int(before.tokens.offsets[row]):int(before.tokens.offsets[row + 1])].copy())
           for row, h in enumerate(before.chunks.embed_hashes())}
    source = next(corpus_copy.glob("*hansard*.txt"))
    source.write_text(source.read_text(encoding="utf-8")
                      + "\n\nA closing paragraph on undersea cables, new to this source.\n",
                      encoding="utf-8")
    report = update_index(s)
    assert 0 < report.embedded < report.total
    after = store.load(s.index_dir)
    assert after is not None and after.tokens.codebook.same_as(before.tokens.codebook)
    reused = 0
    for row, h in enumerate(after.chunks.embed_hashes()):
        if h in old:
            reused += 1
            t = after.tokens
            assert np.array_equal(np.asarray(after.embeddings()[row]), old[h][0])
            assert np.array_equal(t.rows[int(t.offsets[row]):int(t.offsets[row + 1])], old[h][1])
    assert reused == report.total - report.embedded


def test_an_update_counts_word_pieces_as_a_fresh_count_would(corpus_copy, tmp_path,
                                                                fake_encoder, monkeypatch) -> None:
    # An update tokenizes only the passages that changed; the counts must be a fresh count's.
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    sources = sorted(corpus_copy.glob("*.txt"))
    edited, removed, copied = sources[0], sources[1], sources[2]
    edited.write_text(edited.read_text(encoding="utf-8").replace("the", "a", 3)
                      + "\n\nA closing paragraph on undersea cables and quantum sensors.\n",
                      encoding="utf-8")
    removed.unlink()
    (corpus_copy / "copy.txt").write_text(copied.read_text(encoding="utf-8"), encoding="utf-8")
    counted: list[int] = []
    fresh_count = build.wordpiece_df
    monkeypatch.setattr(build, "wordpiece_df",
                        lambda spec, texts: counted.append(len(texts)) or fresh_count(spec, texts))
    report = update_index(s)
    after = store.load(s.index_dir)
    assert after is not None
    expected = fresh_count(build.model_spec(s), [c.text for c in after.chunks])
    assert np.array_equal(np.asarray(after.wordpiece_df), expected)
    assert 0 < sum(counted) < report.total  # not every passage tokenized again


def test_a_journal_shard_cut_short_or_of_another_model_is_passed_over(tmp_path: Path) -> None:
    j = journal.Journal(tmp_path, "model-a")
    j.add({"k1": np.ones(4, dtype=np.float32)})
    j.flush()
    j.add({"k2": np.zeros(4, dtype=np.float32)})
    j.flush()
    (tmp_path / journal.FOLDER / "000001.keys.json").unlink()  # killed before its keys
    again = journal.Journal(tmp_path, "model-a")
    again.load()
    assert again.has_vector("k1") and not again.has_vector("k2")
    assert np.array_equal(again.vectors(["k1"], 4), np.ones((1, 4)))
    other = journal.Journal(tmp_path, "model-b")
    other.load()
    assert not other.has_vector("k1")


def test_journalled_codes_without_their_codebook_are_passed_over(tmp_path: Path) -> None:
    j = journal.Journal(tmp_path, "model-a")
    j.use_codebook(tokens.Codebook(np.zeros((tokens.SUBVECTORS, tokens.CENTROIDS, 1), np.float32)))
    j.add({"k1": np.ones(4, dtype=np.float32)}, {"k1": np.zeros((3, tokens.SUBVECTORS), np.uint8)})
    j.flush()
    again = journal.Journal(tmp_path, "model-a")
    assert again.load() is not None and again.has_tokens("k1") and again.token_count("k1") == 3
    next((tmp_path / journal.FOLDER).glob("codebook-*")).unlink()  # lost, or an older name
    again = journal.Journal(tmp_path, "model-a")
    assert again.load() is None and again.has_vector("k1") and not again.has_tokens("k1")


def test_the_journal_reads_back_what_it_let_go_of(tmp_path: Path) -> None:
    # A written shard leaves memory; reads mix it with what is not written yet, in key order.
    j = journal.Journal(tmp_path, "model-a")
    rng = np.random.default_rng(0)
    first = {f"a{i}": rng.random(4, dtype=np.float32) for i in range(3)}
    codes = {f"a{i}": rng.integers(0, 255, (i + 1, 2), dtype=np.uint8) for i in range(3)}
    j.add(first, codes)
    j.flush()
    j.add({"b": np.full(4, 7, np.float32)}, {"b": np.full((2, 2), 9, np.uint8)})
    assert j._vectors.keys() == {"b"}  # the shard's arrays are no longer held
    keys = ["b", "a2", "a0", "a2"]
    want = np.stack([np.full(4, 7, np.float32), first["a2"], first["a0"], first["a2"]])
    assert np.array_equal(j.vectors(keys, 4), want)
    got = j.token_rows(keys)
    assert [g.tolist() for g in got] == [np.full((2, 2), 9).tolist(), codes["a2"].tolist(),
                                         codes["a0"].tolist(), codes["a2"].tolist()]
    assert [j.token_count(k) for k in keys] == [2, 3, 1, 3]


def test_a_journal_that_cannot_write_holds_what_it_records(tmp_path: Path, monkeypatch) -> None:
    j = journal.Journal(tmp_path, "model-a")

    def full_disk(shard: int) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(j, "_write_shard", full_disk)
    j.add({"k": np.ones(4, dtype=np.float32)}, {"k": np.ones((2, 2), np.uint8)})
    j.flush()
    assert np.array_equal(j.vectors(["k"], 4), np.ones((1, 4)))
    assert j.token_rows(["k"])[0].tolist() == [[1, 1], [1, 1]]


def test_past_the_exact_limit_an_hnsw_graph_answers(corpus_copy, tmp_path, fake_encoder,
                                                    monkeypatch) -> None:
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    exact = open_index(s).retriever
    question = "What does the strategy say about semiconductors?"
    top = [h.text for h in exact.ask(question).hits[:3]]
    source = exact.index.chunks[0].source
    monkeypatch.setattr(dense, "EXACT_SEARCH_MAX", 50)
    update_index(s, rebuild=True)
    loaded = store.load(s.index_dir)
    assert loaded is not None and (loaded.path / store.VECTORS).is_file()
    assert loaded.manifest["index_type"] == "hnsw"
    graph = open_index(s).retriever
    assert [h.text for h in graph.ask(question).hits[:3]] == top
    # a filter searches only its sources through the graph
    hits = graph.ask(question, scope=scope_from([source])).hits
    assert hits and all(h.citation.name == source for h in hits)


def test_a_kept_graph_s_nodes_map_to_their_new_rows_or_to_none() -> None:
    held = [f"k{i}" for i in range(30)]
    rows = dense.kept_graph_rows(["a", "b", None, "c", *held], ["c", "a", "d", "a", *held])
    assert rows.tolist() == [1, -1, -1, 0, *range(4, 34)]  # "d", the second "a": beside it
    copies = dense.kept_graph_rows(["a", "a", "b", *held], ["a", "b", "a", *held])
    assert copies.tolist() == [0, 2, 1, *range(3, 33)]  # each copy keeps its own node
    assert dense.kept_graph_rows(["a", "b", "c"], ["a"]) is None  # two thirds of it gone


def test_an_update_keeps_the_previous_graph_and_finds_what_it_lacks(
        corpus_copy, tmp_path, fake_encoder, monkeypatch) -> None:
    monkeypatch.setattr(dense, "EXACT_SEARCH_MAX", 50)
    monkeypatch.setattr(dense, "HNSW_DEPTH", 20)  # the graph returns a head, not every node
    monkeypatch.setattr(dense, "GRAPH_KEPT_GONE_MAX", 0.5)  # a fifth of this corpus is removed
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    first = store.load(s.index_dir)
    assert first is not None and not (first.path / store.GRAPH_ROWS).exists()
    graph_bytes = (first.path / store.VECTORS).read_bytes()
    sources = sorted(corpus_copy.glob("*.txt"))
    sources[0].write_text(sources[0].read_text(encoding="utf-8") + "\n\nA closing paragraph "
                          "on undersea cables and the lighthouse programme.\n", encoding="utf-8")
    sources[1].unlink()
    update_index(s)
    kept = store.load(s.index_dir)
    assert kept is not None and (kept.path / store.VECTORS).read_bytes() == graph_bytes
    nodes = np.load(kept.path / store.GRAPH_ROWS)
    assert (nodes == -1).any() and len(set(nodes[nodes >= 0])) < len(kept.vector_hashes)
    a = open_index(s).retriever
    assert "lighthouse programme" in a.ask("the lighthouse programme").hits[0].text  # outside it
    held = np.isin(np.arange(kept.dense.ntotal), nodes)
    vectors = np.asarray(kept.dense.embeddings)
    outside = np.flatnonzero(~held)
    assert len(outside)
    some = np.flatnonzero(held)[:: max(1, int(held.sum()) // 25)]
    for row in [*outside, *some]:  # each vector is found: through its node, or beside the graph
        cosines, ids = kept.dense.search(vectors[row][None, :])
        assert np.isclose(cosines.max(), 1.0, atol=1e-5)
        assert np.allclose(vectors[ids[np.argmax(cosines)]], vectors[row])
    gone = {c.source for c in first.chunks} - {c.source for c in kept.chunks}
    assert gone and not any(h.citation.name in gone for h in a.ask("the strategy", k=20).hits)
    one_source = scope_from([kept.chunks[0].source])
    hits = a.ask("undersea cables", scope=one_source).hits
    assert hits and all(h.citation.name == kept.chunks[0].source for h in hits)


def test_a_graph_with_too_much_outside_it_is_built_afresh(corpus_copy, tmp_path, fake_encoder,
                                                         monkeypatch) -> None:
    monkeypatch.setattr(dense, "EXACT_SEARCH_MAX", 50)
    monkeypatch.setattr(dense, "GRAPH_KEPT_NEW_MAX", 0)
    s = make_settings(corpus_copy, tmp_path)
    update_index(s)
    source = sorted(corpus_copy.glob("*.txt"))[0]
    source.write_text(source.read_text(encoding="utf-8") + "\n\nOne more paragraph.\n",
                      encoding="utf-8")
    update_index(s)
    loaded = store.load(s.index_dir)
    assert loaded is not None and (loaded.path / store.VECTORS).is_file()
    assert not (loaded.path / store.GRAPH_ROWS).exists()


def test_progress_lines_say_rate_and_time_left(monkeypatch, capsys) -> None:
    from itsqa import cli_common

    clock = iter([0.0, 12.0, 30.0])
    monkeypatch.setattr(cli_common.time, "monotonic", lambda: next(clock))
    tick = cli_common.progress_lines()("embedding", 300)
    tick(100)  # 12 s in: a line
    tick(200)  # done, 30 s in: the last line
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("embedding: 100 of 300 (8.3/s), about 24 s left")
    assert lines[1] == "embedding: 300 of 300 done in 30 s"


def test_streamed_rows_are_saved_as_the_array_they_stand_for(tmp_path: Path) -> None:
    x = _clustered(1000, dim=8)
    rows = store.StreamedRows(x.shape, np.float32, lambda: iter([x[:300], x[300:]]))
    store._save_rows(tmp_path / "x.npy", rows)
    assert np.array_equal(np.load(tmp_path / "x.npy"), x)
    blocks = list(dense.npy_blocks(tmp_path / "x.npy", rows=400))
    assert [len(b) for b in blocks] == [400, 400, 200] and np.array_equal(np.concatenate(blocks), x)
    short = store.StreamedRows(x.shape, np.float32, lambda: iter([x[:300]]))
    with pytest.raises(ValueError, match="300 rows written where 1000"):
        store._save_rows(tmp_path / "y.npy", short)


def test_the_graph_finds_vectors_and_they_are_scored_exactly(tmp_path: Path) -> None:
    x = _clustered(3000)
    np.save(tmp_path / "e.npy", x)
    dense.build_hnsw(tmp_path / "e.npy", tmp_path / "g.faiss")
    vectors = dense.DenseVectors(np.load(tmp_path / "e.npy", mmap_mode="r"),
                                 np.arange(3000), tmp_path / "g.faiss")
    query = x[7:8]
    scores, ids = vectors.search(query)
    assert 7 in ids
    # the 8-bit codes only find the head: its cosines are the float32 vectors' own
    assert np.allclose(scores, x[ids] @ query[0], atol=1e-6)
    assert set(np.argsort(-(x @ query[0]))[:10]) <= set(ids)
