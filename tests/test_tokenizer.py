"""The mLSTM over byte-level BPE tokens: tokenizer, hooks, selectors, save/load, training."""

import html
import json

import numpy as np
import pytest
import torch

from interp.models.mlstm import MLSTM, CheckpointMismatchError
from interp.positions import Commas, FullStops, SentimentWords
from interp.experiments.probe import byte_trace
from interp.models.mlstm.adapter import MLSTMModel
from interp.models.mlstm.tokenizer import BPETokenizer, ByteTokenizer, byte_pieces, train_bpe
from interp.models.mlstm.train import evaluate_bpc, train_mlstm

REVIEWS = [
    "This movie was great, truly great. The acting was superb, the plot was tight.",
    "An awful film. Boring, slow, and badly acted; I wanted my money back!",
    "The plot was thin, but the music was lovely. I'd watch it again, maybe.",
    "Terrible. Just terrible. The worst film of the year, and the longest.",
    "A wonderful, moving story &amp; a great cast. Highly recommended.",
    "Meh. It was fine, I guess. Nothing special, nothing awful.",
] * 20


@pytest.fixture(scope="module")
def bpe():
    return train_bpe(REVIEWS, 320)


def test_bpe_round_trips_text_and_its_pieces_join_to_the_text(bpe):
    assert bpe.vocab_size == 320 and bpe.kind == "bpe"
    for text in ["The plot was great, and the acting superb.", "Café — naïve 😀 <br />ok", "  spaced\nlines "]:
        ids = bpe.encode(text, preprocess_text=False)
        assert ids.dtype == torch.long and ids.dim() == 1
        assert bpe.decode(ids) == text  # byte-level: exact, unicode included
        pieces = bpe.pieces(ids)
        assert len(pieces) == len(ids) and "".join(pieces) == text
        assert sum(len(bpe.token_bytes(int(i))) for i in ids) == len(text.encode("utf-8"))
    # preprocessing as the byte model: '\n ' + text + ' ', HTML unescaped
    ids = bpe.encode("a great &amp; good film")
    assert bpe.decode(ids) == "\n a great & good film "
    assert len(ids) < len("\n a great & good film ")  # merges happened: fewer tokens than bytes
    # the bytes each token stands for
    nb = bpe.n_bytes()
    assert nb.shape == (320,) and nb[:256].min() >= 1 and nb.max() > 1
    with pytest.raises(ValueError, match="empty text"):
        bpe.encode("   ")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        bpe.decode([320])
    with pytest.raises(ValueError, match="not valid UTF-8"):
        bpe.encode(b"\xff\xfe bad", preprocess_text=False)


def test_byte_tokenizer_is_the_byte_model_encoding():
    from interp.models.mlstm import encode

    t = ByteTokenizer()
    text = "naïve, café."
    assert torch.equal(t.encode(text), encode(text))
    assert t.pieces(encode(text)) == byte_pieces(bytes(encode(text).tolist()))
    assert t.decode(encode(text, preprocess_text=False)) == text


def test_bpe_tokenizer_saves_and_loads_with_the_same_hash(bpe, tmp_path):
    p = bpe.save(tmp_path / "tok.json")
    again = BPETokenizer.load(p)
    assert again.sha256 == bpe.sha256 == __import__("hashlib").sha256(p.read_bytes()).hexdigest()
    assert again == bpe and torch.equal(again.encode("a great film"), bpe.encode("a great film"))
    other = train_bpe(REVIEWS, 300)
    assert other.sha256 != bpe.sha256
    with pytest.raises(FileNotFoundError):
        BPETokenizer.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a tokenizers JSON"):
        BPETokenizer.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="vocab_size must be"):
        train_bpe(REVIEWS, 100)


def _bpe_model(bpe, seed=0):
    return MLSTM(vocab=bpe.vocab_size, d_embed=8, d_hidden=16, seed=seed, tokenizer=bpe)


def test_a_bpe_model_refuses_a_tokenizer_of_another_size(bpe):
    with pytest.raises(ValueError, match="320 tokens but the model's vocab is 256"):
        MLSTM(d_embed=8, d_hidden=16, tokenizer=bpe)
    assert isinstance(MLSTM(d_embed=8, d_hidden=16).tokenizer, ByteTokenizer)  # bytes stay the default
    m = MLSTM(vocab=300, d_embed=8, d_hidden=16)
    assert m.tokenizer is None
    with pytest.raises(ValueError, match="no tokenizer attached"):
        MLSTMModel(m).tokenize(["a film"])


def test_hooks_fire_once_per_token_with_its_position(bpe):
    model = MLSTMModel(_bpe_model(bpe))
    batch = model.tokenize(["The plot was great, and the acting superb.", "Awful."])
    n = batch.lengths.tolist()
    assert n[0] < len("\n The plot was great, and the acting superb. ")  # tokens, not bytes
    assert batch.pieces[0][0] == "\n" and "".join(batch.pieces[0]) == "\n The plot was great, and the acting superb. "
    seen = []

    def spy(act, hook):
        seen.append((hook.pos, tuple(act.shape)))
        return act

    with model.mlstm.hooks(fwd_hooks=[("hook_c", spy)]):
        logits = model.mlstm(batch.tokens, batch.mask)
    assert logits.shape == (2, max(n), 320)
    assert [p for p, _ in seen] == list(range(max(n))) and all(s == (2, 16) for _, s in seen)
    # the hooked path equals the fused one, and a state read per token comes back (B, T, d)
    assert torch.equal(logits, model.mlstm(batch.tokens, batch.mask))
    _, acts = model.run(batch, read=["hook_h"])
    assert acts["hook_h"].shape == (2, max(n), 16)


def test_selectors_find_commas_full_stops_and_words_among_token_pieces(bpe):
    model = MLSTMModel(_bpe_model(bpe))
    text = "The plot was great, and the acting superb, really. Awful music!"
    batch = model.tokenize([text])
    pieces = batch.pieces[0]
    commas = Commas().mask(batch)[0]
    assert [pieces[i] for i in commas.nonzero().flatten().tolist()] and \
        all("," in pieces[i] for i in commas.nonzero().flatten().tolist())
    assert int(commas.sum()) == 2  # both commas, wherever BPE put them
    stops = FullStops().mask(batch)[0]
    assert "".join(pieces[i] for i in stops.nonzero().flatten().tolist()).count(".") == 1
    assert int(stops.sum()) == 2  # '.' and '!'
    words = SentimentWords(words={"great", "awful"}, part="last").mask(batch)[0]
    got = [pieces[i].strip() for i in words.nonzero().flatten().tolist()]
    assert len(got) == 2 and got[0].endswith("eat") and got[1].endswith("ful")


def test_byte_trace_renders_token_pieces(bpe):
    m = _bpe_model(bpe).eval()
    text = "The plot was great, really."
    chars, vals = byte_trace(m, text, unit=3)
    assert "".join(chars) == text and len(chars) == len(vals) < len(text)
    assert chars[0] == "The"  # the front pad's space, merged into the first token, is cut off
    full, vfull = byte_trace(m, text, unit=3, keep_pads=True)
    assert "".join(full) == "\n " + text + " " and np.allclose(vfull[1 : 1 + len(vals)], vals)


def test_save_load_keeps_the_tokenizer_and_refuses_a_mismatched_one(bpe, tmp_path):
    m = _bpe_model(bpe, seed=3)
    st = m.save(tmp_path / "run" / "model.safetensors")
    card = json.loads((tmp_path / "run" / "model.json").read_text())
    assert card["tokenizer"] == {"kind": "bpe", "vocab_size": 320, "sha256": bpe.sha256, "file": "tokenizer.json"}
    assert (tmp_path / "run" / "tokenizer.json").is_file()
    back = MLSTM.load(st)
    assert back.tokenizer == bpe
    tok = bpe.encode("a great film")[None]
    assert torch.equal(back(tok), m(tok))
    assert MLSTM.load(st, tokenizer=bpe).tokenizer is bpe
    other = train_bpe([r.upper() for r in REVIEWS], 320)
    assert other.sha256 != bpe.sha256 and other.vocab_size == 320
    with pytest.raises(CheckpointMismatchError, match="tokenizer sha256"):
        MLSTM.load(st, tokenizer=other)
    with pytest.raises(CheckpointMismatchError, match="byte model"):
        MLSTM.load(MLSTM(d_embed=8, d_hidden=16).save(tmp_path / "bytes"), tokenizer=bpe)
    other.save(tmp_path / "run" / "tokenizer.json")  # someone swaps the file beside the weights
    with pytest.raises(CheckpointMismatchError, match="does not match"):
        MLSTM.load(st)
    (tmp_path / "run" / "tokenizer.json").unlink()
    with pytest.raises(FileNotFoundError, match="tokenizer"):
        MLSTM.load(st)
    # another stem: its own tokenizer file
    m.save(tmp_path / "snap")
    assert (tmp_path / "snap.tokenizer.json").is_file() and MLSTM.load(tmp_path / "snap").tokenizer == bpe


def test_byte_checkpoints_load_as_before(tmp_path):
    m = MLSTM(d_embed=8, d_hidden=16, seed=1)
    st = m.save(tmp_path / "b")
    card = json.loads((tmp_path / "b.json").read_text())
    assert card["tokenizer"] == {"kind": "bytes", "vocab_size": 256}
    del card["tokenizer"]  # a card written before tokenizers existed
    (tmp_path / "b.json").write_text(json.dumps(card))
    back = MLSTM.load(st)
    assert isinstance(back.tokenizer, ByteTokenizer)
    x = torch.tensor([list(b"\n a film ")])
    assert torch.equal(back(x), m(x))


def _bpe_corpus(reviews):
    from interp.models.mlstm import preprocess

    return b"".join(preprocess(r) for r in reviews)


def test_bpe_training_reports_bits_per_character_and_resumes_exactly(bpe, tmp_path):
    corpus, held = _bpe_corpus(REVIEWS[:90]), _bpe_corpus(REVIEWS[90:])
    B, T = 4, 8
    kw = dict(d_hidden=16, d_embed=8, batch_size=B, bptt=T, total_chars=6000, eval_every=1500,
              checkpoint_every=1000, log_every=500, corpus=corpus, held_out=held, progress=False,
              lr=3e-3, threads=1, tokenizer=bpe)
    with pytest.raises(ValueError, match="does not match the tokenizer"):
        train_mlstm(tmp_path / "bad", vocab_size=8192, **kw)
    full = train_mlstm(tmp_path / "full", **kw)
    assert full.finished
    part = train_mlstm(tmp_path / "resumed", stop_after_chars=2300, **kw)
    assert not part.finished and 2300 <= part.chars_seen < 2300 + 200
    other = train_bpe([r.upper() for r in REVIEWS], 320)
    with pytest.raises(ValueError, match="tokenizer_sha256"):
        train_mlstm(tmp_path / "resumed", resume=True, **{**kw, "tokenizer": other})
    done = train_mlstm(tmp_path / "resumed", resume=True, **kw)
    assert done.finished and done.chars_seen == full.chars_seen

    def rows(p):
        return [{k: v for k, v in json.loads(l).items() if k != "wall_s"} for l in open(p / "train_log.jsonl")]

    a, b = rows(tmp_path / "full"), rows(tmp_path / "resumed")
    assert a == b
    run = json.loads((tmp_path / "full" / "run.json").read_text())
    cpt = run["corpus"]["chars_per_token"]
    assert cpt > 1.5 and run["vocab_size"] == 320 and run["tokenizer_sha256"] == bpe.sha256
    # chars_seen counts the characters of the predicted tokens: about steps * B * T * chars/token
    assert abs(a[-1]["chars_seen"] / (full.step * B * T) - cpt) < 0.5
    assert full.step == int(6000 // (B * T * cpt))
    # held-out bpc is per character: token nats over the bytes of the predicted tokens
    m = MLSTM.load(full.model_path)
    assert m.tokenizer == bpe
    held_ids = np.concatenate([bpe.encode(r).numpy() for r in REVIEWS[90:]])
    bpc = evaluate_bpc(m, held_ids)
    assert abs(bpc - a[-1]["held_out_bpc"]) < 1e-9
    nb = min(64, (held_ids.size - 1) // 2)  # evaluate_bpc's shards, read whole here
    shards = held_ids[: (held_ids.size // nb) * nb].reshape(nb, -1)
    ys = torch.from_numpy(shards[:, 1:].astype(np.int64))
    with torch.no_grad():
        lp = m(torch.from_numpy(shards[:, :-1].astype(np.int64))).log_softmax(-1)
    nats = -lp.gather(-1, ys[..., None]).sum()
    assert abs(float(nats) / float(bpe.n_bytes()[ys.numpy()].sum()) / np.log(2) - bpc) < 1e-4
    assert a[-1]["train_bpc"] < a[0]["held_out_bpc"] or a[-1]["held_out_bpc"] < a[0]["held_out_bpc"]
    sess = [json.loads(l) for l in open(tmp_path / "resumed" / "sessions.jsonl")]
    assert sess[0]["chars_end"] == sess[1]["chars_start"] and sess[-1]["finished"]
    assert all(r["tokens_per_s"] > 0 for r in sess)


def test_a_bpe_model_samples_and_the_cli_refuses_what_it_cannot_do(bpe, tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app
    from interp.models.mlstm.sample import sample

    # BPE sampling (once refused) now works; its contract is tests/test_sample_bpe.py
    assert sample(_bpe_model(bpe).eval(), prompt="A great", n_bytes=5, temperature=0).startswith("A great")
    r = CliRunner().invoke(app, ["train-mlstm", str(tmp_path / "x"), "--vocab-size", "8192"])
    assert r.exit_code != 0 and "needs a tokenizer" in r.output
    r = CliRunner().invoke(app, ["train-mlstm", str(tmp_path / "x"), "--tokenizer", str(tmp_path / "none.json")])
    assert r.exit_code != 0 and "no tokenizer file" in r.output


def test_probe_report_runs_on_a_bpe_model_and_its_traces_show_token_pieces(bpe):
    from interp.experiments.probe import probe_report, untrained_like

    m = _bpe_model(bpe).eval()
    assert untrained_like(m).tokenizer is bpe
    res = probe_report(m, model_name="tiny-bpe", limit=40, progress=False, curve=False, bow=False)
    assert len(res.traces) == 2
    for t, row in zip(res.traces, res.data["traces"]):
        shown = html.unescape(row["text"]).replace("\n", " ").strip()  # what preprocess() keeps inside the pads
        assert "".join(t.tokens) == shown  # one entry per token
        assert len(t.tokens) == len(t.values) < len(row["text"])


def test_bpe_training_command_runs_once_under_its_new_and_old_names(tmp_path):
    """``python -m interp.models.mlstm.tokenizer`` (and the deprecated ``interp.tokenizer``) run the module as
    the program without runpy finding it already imported by the package (that would be a RuntimeWarning,
    an error here): the package leaves the tokenizer module unimported until a model needs it."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    for mod in ("interp.models.mlstm.tokenizer", "interp.tokenizer"):
        r = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-W", "ignore::DeprecationWarning",
                            "-m", mod, "--help"], capture_output=True, text=True, env=env, cwd=root)
        assert r.returncode == 0, r.stderr
        assert "--vocab-size" in r.stdout and "Train a byte-level BPE" in r.stdout
