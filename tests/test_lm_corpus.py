"""Corpora of the language-model family (docs/theory.md §11.1): the pydoc corpus and its
deterministic split, text files, the wikitext-2 raw layout, word and character tokenizers saved
as dicts, blocks, and clear errors for bad input; hypothesis fuzzing of the tokenizer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from collapse_theory._validate import InputError, InputTypeError
from collapse_theory.lm.corpus import (
    UNK,
    WIKITEXT_FILES,
    Corpus,
    Tokenizer,
    load_corpus,
    tokenize,
)

TEXT = (
    "The cat sat on the mat. The dog sat on the log! A cat and a dog -- friends?\n"
    "Then the cat ran away, and the dog ran after it.\n" * 8
)


@pytest.fixture(scope="module")
def pydoc() -> Corpus:
    return load_corpus("pydoc")


def test_pydoc_split_is_deterministic_and_complete(pydoc: Corpus) -> None:
    again = load_corpus("pydoc")
    for split in ("pretrain", "train", "validation", "test"):
        assert np.array_equal(pydoc.split(split), again.split(split))
        assert pydoc.split(split).dtype == np.int32 and pydoc.split(split).size > 1000
    sizes = {s: pydoc.split(s).size for s in ("pretrain", "train", "validation", "test")}
    total = sum(sizes.values())
    from pydoc_data.topics import topics

    lengths = [len(tokenize(v)) for v in topics.values()]
    assert total == sum(lengths)  # the whole text of pydoc_data.topics is in the four splits
    # topics dealt greedily to 40 / 48 / 6 / 6 %: a share is off by at most the largest topic
    largest = max(lengths) / total
    for split, share in {"pretrain": 0.4, "train": 0.48, "validation": 0.06, "test": 0.06}.items():
        assert abs(sizes[split] / total - share) <= largest, (split, sizes[split] / total)
    assert pydoc.tokenizer.vocabulary[0] == UNK
    assert pydoc.tokenizer.size <= 5000


def test_vocabulary_cap_and_order(pydoc: Corpus) -> None:
    small = load_corpus("pydoc", max_vocab=50)
    assert small.tokenizer.size == 50
    counts = np.bincount(np.concatenate([small.pretrain, small.train]), minlength=50)
    assert np.all(np.diff(counts[1:]) <= 0)  # by decreasing count
    # tokens outside the cap are <unk>; the big vocabulary agrees on the head
    assert small.tokenizer.vocabulary == pydoc.tokenizer.vocabulary[:50]
    assert np.count_nonzero(small.test == 0) > np.count_nonzero(pydoc.test == 0)


def test_tokenizer_round_trip(pydoc: Corpus) -> None:
    tok = pydoc.tokenizer
    same = Tokenizer.from_dict(tok.to_dict())
    assert same == tok and same.size == tok.size
    text = "the return statement leaves the current function call"
    ids = tok.encode(text)
    assert ids.dtype == np.int32 and np.all(ids > 0)
    assert tok.decode(ids) == text
    assert tok.encode("zzqqxx the")[0] == 0


def test_char_level(tmp_path) -> None:
    path = tmp_path / "t.txt"
    path.write_text(TEXT)
    corpus = load_corpus(path, level="char", max_vocab=None)
    tok = corpus.tokenizer
    assert tok.level == "char" and all(len(t) == 1 for t in tok.vocabulary[1:])
    assert tok.decode(tok.encode("the cat")) == "the cat"
    assert Tokenizer.from_dict(tok.to_dict()) == tok
    assert load_corpus(path, level="char", lowercase=False).tokenizer.encode("T")[0] > 0


def test_text_file_split(tmp_path) -> None:
    path = tmp_path / "t.txt"
    path.write_text(TEXT)
    corpus = load_corpus(path, max_vocab=None)
    tokens = tokenize(TEXT)
    n = len(tokens)
    assert corpus.pretrain.size == 0
    assert corpus.train.size == round(0.8 * n)
    assert corpus.train.size + corpus.validation.size + corpus.test.size == n
    assert corpus.tokenizer.decode(corpus.train) == " ".join(tokens[: corpus.train.size])
    held = load_corpus(str(path), pretrain_fraction=0.5, max_vocab=None)
    assert held.pretrain.size == round(0.5 * n)


def test_wikitext_directory(tmp_path) -> None:
    for i, name in enumerate(WIKITEXT_FILES.values()):
        (tmp_path / name).write_text(f" = Title {i} = \n" + TEXT + " <unk> @-@ x \n")
    corpus = load_corpus(tmp_path)
    assert corpus.name == str(tmp_path)
    assert corpus.train.size == corpus.test.size  # the same text but for one digit
    assert np.count_nonzero(corpus.train == 0) >= 1  # wikitext's <unk> marker is id 0
    assert "<unk>" not in corpus.tokenizer.vocabulary[1:]


def test_blocks(pydoc: Corpus) -> None:
    blocks = pydoc.blocks("test", 64)
    assert blocks.shape == (pydoc.test.size // 64, 64) and blocks.dtype == np.int32
    assert np.array_equal(blocks.ravel(), pydoc.test[: blocks.size])
    assert pydoc.blocks("train", pydoc.train.size).shape == (1, pydoc.train.size)


def test_errors(tmp_path, pydoc: Corpus) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("   \n\n")
    with pytest.raises(InputError, match="empty"):
        load_corpus(empty)
    short = tmp_path / "short.txt"
    short.write_text("one two three")
    with pytest.raises(InputError, match="too short"):
        load_corpus(short)
    (tmp_path / "wiki").mkdir()
    (tmp_path / "wiki" / "wiki.train.raw").write_text(TEXT)
    with pytest.raises(InputError, match=r"wiki\.valid\.raw, wiki\.test\.raw"):
        load_corpus(tmp_path / "wiki")
    with pytest.raises(InputError, match="neither"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(InputTypeError, match="source"):
        load_corpus(3)
    with pytest.raises(InputError, match="max_vocab"):
        load_corpus("pydoc", max_vocab=1)
    with pytest.raises(InputError, match="level"):
        load_corpus("pydoc", level="byte")
    with pytest.raises(InputError, match="pretrain_fraction"):
        load_corpus("pydoc", pretrain_fraction=0.95)
    with pytest.raises(InputError, match="longer than the test split"):
        pydoc.blocks("test", pydoc.test.size + 1)
    with pytest.raises(InputError, match="length"):
        pydoc.blocks("test", 0)
    with pytest.raises(InputError, match="split"):
        pydoc.blocks("dev", 8)
    with pytest.raises(InputError, match="<unk>"):
        Tokenizer("word", ("a", "b"))
    with pytest.raises(InputError, match="duplicate"):
        Tokenizer("word", (UNK, "a", "a"))
    with pytest.raises(InputError, match="ids"):
        pydoc.tokenizer.decode([pydoc.tokenizer.size])


@settings(max_examples=40, deadline=None)
@given(hs.text(max_size=80), hs.sampled_from(["word", "char"]))
def test_fuzz_tokenizer(text: str, level: str) -> None:
    tok = Tokenizer(level, (UNK, "a", "the", "x", " ", "."))
    ids = tok.encode(text)
    assert ids.dtype == np.int32 and ids.size == len(tokenize(text, level))
    assert np.all((ids >= 0) & (ids < tok.size))
    decoded = tok.decode(ids)
    assert isinstance(decoded, str)
    assert np.array_equal(tok.encode(tok.decode(ids[ids > 0])), ids[ids > 0]) or level == "char"
