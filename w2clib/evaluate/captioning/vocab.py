"""Word vocabulary of a captioner, built from the training captions.

Captions are tokenised the way the caption metrics see them: lower case, punctuation dropped, split
on white space (:func:`tokenize`).  The vocabulary keeps every word seen at least ``min_count``
times in the training captions; any other word (a test-time miss) maps to ``<unk>``, which the
decoder is never allowed to emit.  Ids 0-3 are the special tokens ``<pad> <bos> <eos> <unk>``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["PAD", "BOS", "EOS", "UNK", "SPECIALS", "tokenize", "clean_caption", "Vocabulary"]

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")  # letters/digits of any script, in-word apostrophes


def clean_caption(text: object) -> str:
    """A caption as one line of text: Unicode NFKC, white space collapsed; ``""`` for None/NaN/blank."""
    if text is None or (isinstance(text, float) and text != text):
        return ""
    if not isinstance(text, str):
        raise TypeError(f"a caption must be a string, got {type(text).__name__}: {text!r}")
    return " ".join(unicodedata.normalize("NFKC", text).split())


def tokenize(text: str) -> list[str]:
    """Lower-case words of ``text`` (letters and digits of any script, in-word apostrophes); punctuation is dropped.

    >>> tokenize("A dog barks, loudly!")
    ['a', 'dog', 'barks', 'loudly']
    """
    return _WORD.findall(clean_caption(text).lower())


@dataclass(frozen=True)
class Vocabulary:
    """Words of the training captions, by id (ids 0-3: ``<pad> <bos> <eos> <unk>``)."""

    words: tuple[str, ...]

    def __post_init__(self) -> None:
        if tuple(self.words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with the special tokens {SPECIALS}")
        if len(set(self.words)) != len(self.words):
            raise ValueError("vocabulary words must be unique")

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Every word of ``captions`` seen at least ``min_count`` times, most frequent first (ties: a-z)."""
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts = Counter(w for c in captions for w in tokenize(c))
        kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        if not kept:
            raise ValueError("no word occurs in the training captions often enough: the captions are empty "
                             f"or min_count={min_count} is too high")
        return cls((*SPECIALS, *kept))

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, text: str, max_words: int | None = None) -> list[int]:
        """``[BOS, word ids..., EOS]``; words outside the vocabulary become ``UNK``; at most ``max_words`` words."""
        index = self.index
        ids = [index.get(w, UNK) for w in tokenize(text)]
        if max_words is not None:
            ids = ids[:max_words]
        return [BOS, *ids, EOS]

    def decode(self, ids: Sequence[int]) -> str:
        """Words of ``ids`` up to the first ``EOS``, special tokens dropped, joined by spaces."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.words[i])
        return " ".join(out)

    def unknown_share(self, captions: Iterable[str]) -> float:
        """Share of the words of ``captions`` outside the vocabulary (0 when there are no words)."""
        index = self.index
        words = [w for c in captions for w in tokenize(c)]
        return sum(w not in index for w in words) / len(words) if words else 0.0
