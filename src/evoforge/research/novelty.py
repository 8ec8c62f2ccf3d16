"""Offline novelty of an idea: MinHash similarity to the archive and to a local corpus.

No web API: the comparison set is the ideas already in the out folder's database and, when the
topic names one, a folder of the user's own text files (each paragraph of each .txt/.md file is
one document). The signatures are evoforge's own (`search.novelty.minhash_signature`) over word
shingles of the lower-cased text, so "Use a grid, then refine" and "use a GRID then refine!"
are the same idea.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..search.novelty import jaccard_estimate, minhash_signature

NUM_PERM = 128
SHINGLE = 3


def idea_text(record: dict[str, Any]) -> str:
    return " ".join(str(record.get(k, "")) for k in ("title", "hypothesis", "planned_change"))


def signature(text: str) -> list[int]:
    words = re.findall(r"[a-z0-9]+", text.lower())
    # identifier-shaped tokens: the tokenizer under minhash_signature then reads words, never prose syntax
    return minhash_signature(" ".join(f"w_{w}" for w in words) or "w_", num_perm=NUM_PERM, shingle=SHINGLE)


@dataclass
class Closest:
    similarity: float
    source: str   # "idea idea-3" or "corpus notes.md ¶2"

    def to_dict(self) -> dict[str, Any]:
        return {"similarity": round(self.similarity, 4), "source": self.source}


class NoveltyIndex:
    """Signatures of the archive's ideas and the corpus paragraphs."""

    def __init__(self, archive: list[dict[str, Any]], corpus: Path | None = None) -> None:
        self.items: list[tuple[str, list[int]]] = [
            (f"idea {i['id']}", signature(idea_text(i["record"]))) for i in archive]
        if corpus is not None:
            for file in sorted(corpus.rglob("*")):
                if file.suffix.lower() not in (".txt", ".md") or not file.is_file():
                    continue
                text = file.read_text(encoding="utf-8", errors="replace")
                for n, para in enumerate(p for p in re.split(r"\n\s*\n", text) if len(p.split()) >= 5):
                    self.items.append((f"corpus {file.relative_to(corpus)} paragraph {n + 1}", signature(para)))

    def closest(self, record: dict[str, Any]) -> Closest:
        sig = signature(idea_text(record))
        best = Closest(0.0, "")
        for source, other in self.items:
            sim = jaccard_estimate(sig, other)
            if sim > best.similarity:
                best = Closest(sim, source)
        return best

    def add(self, idea_id: str, record: dict[str, Any]) -> None:
        self.items.append((f"idea {idea_id}", signature(idea_text(record))))
