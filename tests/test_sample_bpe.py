"""Sampling from the mLSTM (``interp.models.mlstm.sample.sample``) over bytes and over BPE tokens.

The byte path is pinned to what it produced before BPE sampling existed; the BPE path is checked
on a tiny BPE model against the contract (seeds, greedy, holds at every step, the bytes the model
reads, ``n_bytes``, ``stop_at_newline``, errors).
"""

import hashlib

import pytest
import torch

from interp.models.mlstm import MLSTM
from interp.models.mlstm.sample import sample
from interp.models.mlstm.tokenizer import train_bpe

REVIEWS = [
    "This movie was great, truly great. The acting was superb, the plot was tight.",
    "An awful film. Boring, slow, and badly acted; I wanted my money back!",
    "The plot was thin, but the music was lovely. I'd watch it again, maybe.",
    "Terrible. Just terrible. The worst film of the year, and the longest.",
    "A wonderful, moving story &amp; a great cast. Highly recommended.",
] * 20


# --------------------------------------------------------------------------- bytes: unchanged


@pytest.fixture(scope="module")
def tiny():
    return MLSTM(d_hidden=16, d_embed=8, seed=3).eval()


_DIR = torch.zeros(16)
_DIR[5], _DIR[2] = 1.0, -0.5

# sha256 (first 16 hex digits) of the UTF-8 of each sample, recorded with sample() as it was at
# commit 0487728 (before the BPE path existed), on the tiny byte model above.
BYTE_CASES = [
    (dict(prompt="This movie", n_bytes=60, seed=1), "e7e9e1223865021b"),
    (dict(prompt="This movie", n_bytes=60, seed=1, hold={"unit": 3, "value": 3.0}), "73c1e281cca5cc36"),
    (dict(prompt="Bad\nfilm", n_bytes=40, seed=7, temperature=0.7, hold={"direction": _DIR, "value": -2.0}),
     "b95448150263e260"),
    (dict(prompt=b"caf\xc3\xa9 \xff", n_bytes=30, seed=2), "d76b38bfa13fab13"),
    (dict(n_bytes=25, temperature=0.0), "a040008234b99624"),
    (dict(prompt="x", n_bytes=300, seed=4, temperature=1.5, stop_at_newline=True), "a2c782858d37466e"),
]


@pytest.mark.parametrize("kwargs, digest", BYTE_CASES)
def test_byte_samples_are_what_they_were_before_bpe_sampling(tiny, kwargs, digest):
    assert hashlib.sha256(sample(tiny, **kwargs).encode("utf-8")).hexdigest()[:16] == digest


# --------------------------------------------------------------------------- BPE


@pytest.fixture(scope="module")
def bpe():
    return train_bpe(REVIEWS, 320)


@pytest.fixture(scope="module")
def model(bpe):
    """A tiny BPE model that never writes a non-ASCII byte (so characters count bytes) and writes
    a newline now and then."""
    m = MLSTM(vocab=bpe.vocab_size, d_embed=8, d_hidden=16, seed=0, tokenizer=bpe).eval()
    with torch.no_grad():
        for i in range(bpe.vocab_size):
            b = bpe.token_bytes(i)
            if any(x >= 0x80 or (x < 0x20 and x != 0x0A) for x in b):
                m.b_out[i] = -1e4
        m.b_out[bpe.encode(b"\n", preprocess_text=False)[0]] += 3.0
    return m


def _fed_tokens(model):
    """A hook_embed spy and the token ids it saw (each embedding row matched back to its id)."""
    seen: list[int] = []

    def spy(e, hook):
        (row,) = (model.embed == e[0]).all(1).nonzero()[:, 0].tolist()
        seen.append(row)
        return e

    return ("hook_embed", spy), seen


def test_bpe_sampling_is_seeded_greedy_is_deterministic(model):
    a = sample(model, prompt="This movie", n_bytes=50, seed=1)
    assert a.startswith("This movie") and len(a) == len("This movie") + 50
    assert a == sample(model, prompt="This movie", n_bytes=50, seed=1)
    assert a != sample(model, prompt="This movie", n_bytes=50, seed=2)
    g = sample(model, prompt="The plot", n_bytes=40, temperature=0)
    assert g == sample(model, prompt="The plot", n_bytes=40, temperature=0, seed=123)
    assert g != sample(model, prompt="The plot", n_bytes=40, temperature=1.0, seed=123)
    assert sample(model, prompt="A film", n_bytes=0) == "A film"


def test_bpe_n_bytes_cuts_the_last_token_and_shorter_samples_are_prefixes(model, bpe):
    full = sample(model, prompt="Great", n_bytes=80, seed=5)
    ids = bpe.encode(full.encode(), preprocess_text=False)
    assert len(ids) < 80 - 10  # subword tokens: fewer tokens than bytes
    for n in range(1, 80):
        s = sample(model, prompt="Great", n_bytes=n, seed=5)
        assert len(s) == len("Great") + n and full.startswith(s)


def test_bpe_model_reads_the_prompt_healed_and_then_what_it_wrote(model, bpe):
    for prompt in ["", "This movie", "bad\nacting, "]:
        hook, seen = _fed_tokens(model)
        with model.hooks(fwd_hooks=[hook]):
            text = sample(model, prompt=prompt, n_bytes=60, seed=3)
        read = b"".join(bpe.token_bytes(i) for i in seen)
        whole = b"\n " + text.encode()
        prompt_ids = bpe.encode(b"\n " + prompt.replace("\n", " ").encode(), preprocess_text=False).tolist()
        # the prompt's tokens but the last, then the sampled tokens, the first beginning with that last token
        assert seen[: len(prompt_ids) - 1] == prompt_ids[:-1]
        assert bpe.token_bytes(seen[len(prompt_ids) - 1]).startswith(bpe.token_bytes(prompt_ids[-1]))
        assert len(read) > len(b"\n " + prompt.encode()) and whole.startswith(read)
        assert len(whole) - len(read) <= max(len(bpe.token_bytes(i)) for i in range(bpe.vocab_size))
    assert bpe.token_bytes(prompt_ids[-1]) == b" "  # "bad acting, " ends in a space token


@pytest.mark.parametrize("prompt", ["", "The mo"])
def test_bpe_greedy_first_token_is_the_best_one_that_begins_with_the_prompts_last_token(model, bpe, prompt):
    prompt_ids = bpe.encode(b"\n " + prompt.encode(), preprocess_text=False).tolist()
    with torch.no_grad():
        lg = model(torch.tensor([prompt_ids[:-1]]))[0, -1]
    last = bpe.token_bytes(prompt_ids[-1])
    best = max((i for i in range(bpe.vocab_size) if bpe.token_bytes(i).startswith(last)), key=lambda i: lg[i])
    assert best != prompt_ids[-1] and len(bpe.token_bytes(best)) > len(last)
    hook, seen = _fed_tokens(model)
    with model.hooks(fwd_hooks=[hook]):
        text = sample(model, prompt=prompt, n_bytes=30, temperature=0)
    assert seen[: len(prompt_ids)] == prompt_ids[:-1] + [best]
    assert text.startswith(prompt + bpe.token_bytes(best)[len(last):].decode())


def test_bpe_unit_hold_holds_the_cell_at_every_step(model):
    for hold, want in [({"unit": 3, "value": 2.5}, True), (None, False)]:
        o_seen, h_seen = [], []
        spies = [("hook_o", lambda o, hook: o_seen.append(o[0, 3].item()) or o),
                 ("hook_h", lambda h, hook: h_seen.append(h[0, 3].item()) or h)]
        with model.hooks(fwd_hooks=spies):
            held = sample(model, prompt="The acting", n_bytes=40, seed=2, hold=hold)
        assert len(h_seen) == len(o_seen) > 5
        # h = o * tanh(c): with c[:, 3] held at 2.5, h[:, 3] / o[:, 3] = tanh(2.5) at every step
        ok = torch.allclose(torch.tensor(h_seen), torch.tensor(o_seen) * torch.tanh(torch.tensor(2.5)), atol=1e-5)
        assert ok is want
    free = sample(model, prompt="The acting", n_bytes=40, seed=2)
    assert held == free  # the last run held nothing: same text as without hold
    assert sample(model, prompt="The acting", n_bytes=40, seed=2, hold={"unit": 3, "value": 2.5}) != free
    d = torch.zeros(16)
    d[3] = -4.0  # the direction -e_3 held at -2.5 is unit 3 held at +2.5
    assert sample(model, prompt="The acting", n_bytes=40, seed=2, hold={"direction": d, "value": -2.5}) == \
        sample(model, prompt="The acting", n_bytes=40, seed=2, hold={"unit": 3, "value": 2.5})


def test_bpe_stop_at_newline_cuts_at_the_first_generated_newline(model):
    n_stopped = 0
    for seed in range(8):
        free = sample(model, prompt="So", n_bytes=120, seed=seed)
        stopped = sample(model, prompt="So", n_bytes=120, seed=seed, stop_at_newline=True)
        assert "\n" not in stopped
        if "\n" in free:
            n_stopped += 1
            assert stopped == free[: free.index("\n")]
        else:
            assert stopped == free
    assert n_stopped >= 2  # the model's newline bias makes newlines common


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(n_bytes=-1), ValueError, "n_bytes must be a non-negative int"),
    (dict(n_bytes=2.5), ValueError, "n_bytes must be a non-negative int"),
    (dict(n_bytes=True), ValueError, "n_bytes must be a non-negative int"),
    (dict(temperature=-0.5), ValueError, "temperature must be a finite number"),
    (dict(temperature=float("inf")), ValueError, "temperature must be a finite number"),
    (dict(seed=1.5), ValueError, "seed must be an int"),
    (dict(prompt=b"ok \xff"), ValueError, "prompt is not valid UTF-8 at byte 3"),
    (dict(prompt=5), TypeError, "prompt must be str or bytes"),
    (dict(hold={"unit": 16, "value": 1.0}), ValueError, "out of range"),
    (dict(hold={"direction": torch.ones(15), "value": 1.0}), ValueError, "width"),
])
def test_bad_arguments_are_one_line_errors(model, kwargs, exc, match):
    with pytest.raises(exc, match=match) as e:
        sample(model, **{"n_bytes": 5, **kwargs})
    assert "\n" not in str(e.value)


def test_a_model_without_a_tokenizer_cannot_sample():
    with pytest.raises(ValueError, match="no tokenizer attached"):
        sample(MLSTM(vocab=300, d_embed=8, d_hidden=16), n_bytes=5)


# --------------------------------------------------------------------------- the CLI and the steer evaluation


def test_cli_steer_samples_a_saved_bpe_model(model, tmp_path):
    from typer.testing import CliRunner

    from interp.cli import app

    model.save(tmp_path / "m" / "model")
    assert (tmp_path / "m" / "tokenizer.json").is_file()
    r = CliRunner().invoke(app, ["steer", str(tmp_path / "m"), "--unit", "3", "--value", "2", "--n-bytes", "30",
                                 "--prompt", "The plot", "--seed", "4"])
    assert r.exit_code == 0, r.output
    pos = sample(model, prompt="The plot", n_bytes=30, seed=4, hold={"unit": 3, "value": 2.0})
    neg = sample(model, prompt="The plot", n_bytes=30, seed=4, hold={"unit": 3, "value": -2.0})
    assert pos in r.output and neg in r.output and pos != neg


@pytest.mark.slow  # a subprocess: interpreter and torch start-up, IMDB read for the judge
def test_mlstm_steer_eval_script_runs_on_a_bpe_checkpoint(model, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    model.save(tmp_path / "m" / "model")
    script = Path(__file__).resolve().parents[1] / "analyses" / "mlstm_steer_eval.py"
    out = tmp_path / "se.json"
    p = subprocess.run([sys.executable, str(script), str(tmp_path / "m"), "--unit", "3", "--n-samples", "3",
                        "--n-bytes", "25", "--n-random", "1", "--judge-train", "300", "--judge-test", "100",
                        "--threads", "1", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert [r["target"] for r in d["table"]][0] == "unit 3" and len(d["table"]) == 2
    held = d["conditions"]["unit 3"]["high"]
    assert len(held["p_pos"]) == 3 and all(len(t) == 25 for t in held["examples"])  # ASCII: 25 bytes, 25 characters
    assert held["examples"][0] == sample(model, n_bytes=25, temperature=0.8, seed=0,
                                         hold={"unit": 3, "value": d["table"][0]["high"]})
