"""Position selectors on hand-made token sequences: what each matches, per example, and zero matches."""

import pytest
import torch

from interp import positions as P
from interp.models.protocol import Batch


def batch(*rows: list[str]) -> Batch:
    """A right-padded batch whose pieces are the given token strings (ids are dummies)."""
    T = max(len(r) for r in rows)
    mask = torch.zeros(len(rows), T, dtype=torch.bool)
    for i, r in enumerate(rows):
        mask[i, : len(r)] = True
    return Batch(tokens=torch.zeros(len(rows), T, dtype=torch.long), mask=mask, texts=["".join(r) for r in rows],
                 pieces=[list(r) for r in rows], has_bos=True)


BPE = batch(
    ["<s>", "Good", ",", " fun", " and", " sweet", "."],
    ["<s>", "It", " was", " unw", "atch", "able", "!", " Really", "..."],
    ["<s>", "plain", " words"],
)


def cols(mask, row):
    return torch.nonzero(mask[row]).flatten().tolist()


def test_all_tokens_skip_the_first_and_count_per_example():
    sel = P.AllTokens()
    m = sel.mask(BPE)
    assert cols(m, 0) == [1, 2, 3, 4, 5, 6] and cols(m, 2) == [1, 2]
    assert sel.counts(BPE).tolist() == [6, 8, 2]
    assert P.AllTokens(skip_first=False).counts(BPE).tolist() == [7, 9, 3]


def test_commas_full_stops_punctuation():
    assert cols(P.Commas().mask(BPE), 0) == [2]
    fs = P.FullStops().mask(BPE)
    assert cols(fs, 0) == [6] and cols(fs, 1) == [6, 8]  # "!" and "..." are full stops
    punct = P.Punctuation()
    assert punct.counts(BPE).tolist() == [2, 2, 0]
    assert cols(punct.mask(BPE), 1) == [6, 8]


def test_last_token_follows_the_mask_not_padding():
    m = P.LastToken().mask(BPE)
    assert [cols(m, r) for r in range(3)] == [[6], [8], [2]]


def test_token_lexicon_and_predicate():
    assert P.Lexicon(words=frozenset({"good", "sweet"})).counts(BPE).tolist() == [2, 0, 0]
    caps = P.Predicate(fn=lambda piece, i, pieces: piece.strip()[:1].isupper(), name="caps")
    assert caps.counts(BPE).tolist() == [1, 2, 0]


def test_sentiment_words_match_whole_words_across_tokens():
    sel = P.SentimentWords()
    m = sel.mask(BPE)
    assert cols(m, 0) == [1, 3, 5]  # Good, fun, sweet
    assert cols(m, 1) == [3, 4, 5]  # un|watch|able is one word, three tokens
    assert cols(P.SentimentWords(part="last").mask(BPE), 1) == [5]
    assert cols(P.SentimentWords(part="first").mask(BPE), 1) == [3]
    assert P.get("sentiment_words").name == "sentiment_words"
    own = P.SentimentWords(words={"plain"})
    assert own.counts(BPE).tolist() == [0, 0, 1]


def test_sentiment_words_on_bytes():
    chars = ["\n", " ", *"A great, dull film.", " "]
    b = batch(chars)
    m = P.SentimentWords().mask(b)
    assert "".join(chars[i] for i in cols(m, 0)) == "greatdull"
    last = P.SentimentWords(part="last").mask(b)
    assert [chars[i] for i in cols(last, 0)] == ["t", "l"]
    assert "grate" not in "".join(chars[i] for i in cols(m, 0))


def test_zero_matches_raise_or_are_reported():
    b = batch(["<s>", "no", " punctuation", " here"])
    with pytest.raises(P.NoPositionsError, match="commas"):
        P.Commas().mask(b)
    with pytest.raises(P.NoPositionsError, match="sentiment_words"):
        P.SentimentWords().mask(b)
    sel = P.Commas(allow_empty=True)
    assert not sel.mask(b).any()
    rep = sel.report(BPE)
    assert rep.per_example == [1, 0, 0] and rep.total == 1 and rep.zero == 2 and rep.n == 3
    assert "2 with none" in str(rep)
    # counts never raise, even for a selector that would
    assert P.Commas().counts(b).tolist() == [0]


def test_first_token_is_excluded_even_when_it_matches():
    b = batch([",", "a", ","])
    assert cols(P.Commas().mask(b), 0) == [2]
    assert cols(P.Commas(skip_first=False).mask(b), 0) == [0, 2]


def test_unknown_selector_names_the_choices():
    with pytest.raises(ValueError, match="sentiment_words"):
        P.get("elbows")
