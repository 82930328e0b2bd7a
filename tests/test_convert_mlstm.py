"""The converters of the papers' own mLSTMs (interp.models.mlstm.convert), checked against NumPy
re-implementations of their code: OpenAI's TensorFlow graph (encoder.py, utils.py of
openai/generating-reviews-discovering-sentiment) and NVIDIA's mLSTM cell and RNNModel
(model/RNN_utils/RNN/cells.py, model/model.py, data_utils/preprocess.py of
NVIDIA/sentiment-discovery), written here from their source. The weights are synthetic with exactly
their layout at 64 units, except OpenAI's real byte embedding, biases and gains (the small arrays
they published, in tests/data/openai-mlstm, MIT), cut to 64 units per gate block.
"""

from __future__ import annotations

import html
import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from interp.cli import app
from interp.models.mlstm import MLSTM, MLSTMConfig, MissingDependencyError, preprocess, preprocess_nvidia
from interp.models.mlstm.convert import (LayoutError, convert_nvidia, convert_openai, inspect_openai, nvidia_layout,
                                  openai_layout)
from interp.models.mlstm.adapter import MLSTMModel

REAL = Path(__file__).parent / "data" / "openai-mlstm"
D = 64  # units of the synthetic models
FULL = 4096  # units of the published ones
runner = CliRunner()

TEXTS = [
    "This movie was great &amp; I loved it!",
    "Terrible.\nNever again, never.",
    "  ok  ",
    "Caf\u00e9 cr\u00e8me, 5\u20ac",
]


# ---------------------------------------------------------------------------------- OpenAI's graph


def openai_preprocess(text, front_pad="\n ", end_pad=" "):
    """utils.preprocess."""
    text = html.unescape(text)
    text = text.replace("\n", " ").strip()
    text = front_pad + text + end_pad
    return text.encode()


def openai_load_params(folder: Path) -> list[np.ndarray]:
    """encoder.Model.__init__: the 15 arrays, 2..5 joined column-wise into one."""
    params = [np.load(folder / f"{i}.npy") for i in range(15)]
    params[2] = np.concatenate(params[2:6], axis=1)
    params[3:6] = []
    return params


def l2_normalize(w, axis=0, epsilon=1e-12):
    """tf.nn.l2_normalize."""
    return w / np.sqrt(np.maximum(np.sum(w * w, axis=axis, keepdims=True), epsilon))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def openai_model(params, X, S, M=None):
    """encoder.model with hps rnn_wn=True, out_wn=False: the variables are taken from ``params``
    in the order the graph creates them (embd: w; mlstm: wx, wh, wmx, wmh, b, gx, gh, gmx, gmh;
    fc: w, b). Returns (cells (T, B, d), hiddens (T, B, d), logits (B*T, V), (c, h))."""
    it = iter([p.astype(np.float64) for p in params])
    embd = next(it)
    words = embd[X]  # tf.nn.embedding_lookup
    wx, wh, wmx, wmh, b = (next(it) for _ in range(5))
    gx, gh, gmx, gmh = (next(it) for _ in range(4))
    wx = l2_normalize(wx, 0) * gx
    wh = l2_normalize(wh, 0) * gh
    wmx = l2_normalize(wmx, 0) * gmx
    wmh = l2_normalize(wmh, 0) * gmh
    c, h = S
    cs, hs = [], []
    for idx in range(X.shape[1]):
        x = words[:, idx, :]
        m = (x @ wmx) * (h @ wmh)
        z = x @ wx + m @ wh + b
        i, f, o, u = np.split(z, 4, 1)
        i, f, o, u = sigmoid(i), sigmoid(f), sigmoid(o), np.tanh(u)
        if M is not None:
            ct = f * c + i * u
            ht = o * np.tanh(ct)
            mm = M[:, idx, :]
            c = ct * mm + c * (1 - mm)
            h = ht * mm + h * (1 - mm)
        else:
            c = f * c + i * u
            h = o * np.tanh(c)
        hs.append(h)
        cs.append(c)
    out_w, out_b = next(it), next(it)
    flat = np.concatenate(hs, 1).reshape(-1, h.shape[1])  # tf.reshape(tf.concat(hs, 1), [-1, nhidden])
    logits = flat @ out_w + out_b
    return np.stack(cs), np.stack(hs), logits, (c, h)


def openai_batch_pad(xs, nbatch, nsteps):
    """encoder.batch_pad: left-padded bytes and a mask that is 0 on the padding."""
    xmb = np.zeros((nbatch, nsteps), dtype=np.int32)
    mmb = np.ones((nbatch, nsteps, 1), dtype=np.float32)
    for i, x in enumerate(xs):
        n = len(x)
        xmb[i, -n:] = list(x)
        mmb[i, : nsteps - n] = 0
    return xmb, mmb


def write_openai_folder(folder: Path, d: int = D, seed: int = 0) -> Path:
    """Their 15 arrays at ``d`` units: the real embedding and output bias, the real biases and gains
    cut to the first ``d`` units of each gate block, random matrices (float32, as theirs)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    E, V = 64, 256

    def blocks(a, n):  # the first d units of each of n gate blocks of the 4096-unit array
        return np.concatenate([a[k * FULL : k * FULL + d] for k in range(n)])

    real = {i: np.load(REAL / f"{i}.npy") for i in (0, 8, 9, 10, 11, 12, 14)}
    arrays = {
        0: real[0],
        1: rng.normal(size=(E, 4 * d)),
        **{2 + k: rng.normal(size=(d, d)) for k in range(4)},
        6: rng.normal(size=(E, d)),
        7: rng.normal(size=(d, d)),
        8: blocks(real[8], 4),
        9: blocks(real[9], 4),
        10: blocks(real[10], 4),
        11: real[11][:d],
        12: real[12][:d],
        13: rng.normal(size=(d, V)) * 0.3,
        14: real[14],
    }
    for i, a in arrays.items():
        np.save(folder / f"{i}.npy", np.ascontiguousarray(a, dtype=np.float32))
    return folder


@pytest.fixture(scope="module")
def openai_folder(tmp_path_factory):
    return write_openai_folder(tmp_path_factory.mktemp("openai") / "model")


@pytest.fixture(scope="module")
def openai_converted(openai_folder, tmp_path_factory):
    return convert_openai(openai_folder, tmp_path_factory.mktemp("openai-out"))


def _ours(st: Path, tokens: torch.Tensor, mask=None, dtype=torch.float32):
    model = MLSTM.load(st, dtype=dtype).eval()
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens, mask, names_filter=["hook_c", "hook_h"])
    return model, logits.double().numpy(), cache["hook_c"].double().numpy(), cache["hook_h"].double().numpy()


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-9), (torch.float32, 1e-5)])
def test_openai_every_state_and_logit_match_their_graph(openai_folder, openai_converted, dtype, tol):
    params = openai_load_params(openai_folder)
    for text in TEXTS:
        data = openai_preprocess(text)
        assert preprocess(text) == data
        X = np.frombuffer(data, dtype=np.uint8).astype(np.int64)[None]
        S = np.zeros((2, 1, D))
        cs, hs, logits, _ = openai_model(params, X, S)
        _, our_logits, our_c, our_h = _ours(openai_converted, torch.from_numpy(X), dtype=dtype)
        np.testing.assert_allclose(our_c[0], cs[:, 0], atol=tol, rtol=0)
        np.testing.assert_allclose(our_h[0], hs[:, 0], atol=tol, rtol=0)
        np.testing.assert_allclose(our_logits[0], logits, atol=tol, rtol=0)
        assert np.abs(cs).max() > 0.5  # the states are not trivially small


def test_openai_padded_batch_matches_their_transform(openai_folder, openai_converted):
    """Their transform left-pads with a mask (state kept at padding) and keeps the final c; ours
    right-pads with a mask: the final states agree."""
    params = openai_load_params(openai_folder)
    xs = [openai_preprocess(t) for t in TEXTS]
    T = max(len(x) for x in xs)
    xmb, mmb = openai_batch_pad(xs, len(xs), T)
    _, _, _, (c, h) = openai_model(params, xmb.astype(np.int64), np.zeros((2, len(xs), D)), mmb)
    model = MLSTMModel.load(openai_converted)
    batch = model.tokenize(TEXTS)
    final_c = model.final_state(batch, site="hook_c").double().numpy()
    final_h = model.final_state(batch, site="hook_h").double().numpy()
    np.testing.assert_allclose(final_c, c, atol=1e-5, rtol=0)
    np.testing.assert_allclose(final_h, h, atol=1e-5, rtol=0)


def test_openai_card_records_source_and_preprocessing(openai_folder, openai_converted):
    import json

    card = json.loads(openai_converted.with_suffix(".json").read_text())
    assert card["config"]["preprocess"] == "openai" and card["config"]["weight_norm"] is True
    src = card["meta"]["converted_from"]
    assert src["format"] == "openai" and "MIT" in src["source"]
    assert set(src["sha256"]) == {f"{i}.npy" for i in range(15)}
    assert "html.unescape" in card["meta"]["preprocessing"] and "2388" in card["meta"]["expected"]
    # the real embedding went in unchanged
    model = MLSTM.load(openai_converted)
    assert torch.equal(model.embed, torch.from_numpy(np.load(REAL / "0.npy")))


def _sparse_npy(path: Path, shape) -> None:
    """A .npy of float32 zeros with ``shape`` that takes no disk space (a header and a hole)."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": tuple(shape)})
        f.seek(int(np.prod(shape)) * 4 - 1, 1)
        f.write(b"\0")


def test_real_arrays_fit_the_4096_unit_layout(tmp_path):
    """The arrays OpenAI published that are here have exactly the shapes of the 4,096-unit layout;
    the large ones that are missing here are stood in for by headers."""
    folder = tmp_path / "model"
    folder.mkdir()
    have = {p.name for p in REAL.glob("*.npy")}
    for spec in openai_layout():
        if spec.key in have:
            shutil.copy(REAL / spec.key, folder / spec.key)
        else:
            _sparse_npy(folder / spec.key, spec.shape)
    info = inspect_openai(tmp_path)  # the repository root works too
    assert (info["d_hidden"], info["d_embed"], info["vocab"]) == (FULL, 64, 256)
    assert info["shapes"]["0.npy"] == (256, 64) and info["shapes"]["8.npy"] == (4 * FULL,)
    # a real array cut short is refused
    (folder / "14.npy").write_bytes((REAL / "14.npy").read_bytes()[:500])
    with pytest.raises(LayoutError, match=r"14\.npy is truncated"):
        inspect_openai(folder)


def test_layout_tables_match_our_tensors_at_4096_units():
    """Each source array lands in a tensor of our 4,096-unit config with the right shape (the
    tables only: no 4,096-unit weights are made)."""
    ours = MLSTMConfig(d_hidden=FULL, d_embed=64, weight_norm=True).param_shapes()
    table = openai_layout()
    assert [s.key for s in table] == [f"{i}.npy" for i in range(15)]
    for s in table:
        if s.target.startswith("V_h["):
            assert s.shape == (FULL, FULL) and ours["V_h"] == (FULL, 4 * FULL)
        else:
            assert ours[s.target] == s.shape, s
    assert {s.target for s in table if not s.target.startswith("V_h[")} | {"V_h"} == set(ours)
    n_src = sum(int(np.prod(s.shape)) for s in table)
    assert n_src == sum(int(np.prod(v)) for v in ours.values())
    # NVIDIA: (out, in) matrices, transposed here; a 257-row vocab cut to the 256 bytes
    for wn in (False, True):
        nv = {s.key: s.shape for s in nvidia_layout(weight_norm=wn)}
        ours = MLSTMConfig(d_hidden=FULL, d_embed=64, weight_norm=wn).param_shapes()
        assert nv["encoder.weight"] == (257, 64) and nv["decoder.weight"] == (257, FULL)
        for k, t in (("w_ih", "x"), ("w_hh", "h"), ("w_mih", "mx"), ("w_mhh", "mh")):
            if wn:
                assert nv[f"rnn.rnns.0.{k}_v"][::-1] == ours[f"V_{t}"]
                assert nv[f"rnn.rnns.0.{k}_g"] == (ours[f"g_{t}"][0], 1)
            else:
                assert nv[f"rnn.rnns.0.{k}"][::-1] == ours[f"W_{t}"]
        assert nv["rnn.rnns.0.b_ih"] == nv["rnn.rnns.0.b_hh"] == ours["b"]


@pytest.mark.parametrize("broken,match", [
    ("missing", r"lacks 7\.npy \(model/rnn/wmh, expected shape \(64, 64\)"),
    ("shape", r"7\.npy \(model/rnn/wmh\) has shape \(64, 32\), expected \(64, 64\)"),
    ("not_npy", r"3\.npy is not a \.npy array"),
    ("lfs", r"a Git LFS pointer"),
    ("ints", r"int64 values"),
])
def test_openai_wrong_layout_is_a_one_line_error(tmp_path, openai_folder, broken, match):
    bad = tmp_path / "bad"
    shutil.copytree(openai_folder, bad)
    if broken == "missing":
        (bad / "7.npy").unlink()
    elif broken == "shape":
        np.save(bad / "7.npy", np.zeros((64, 32), np.float32))
    elif broken == "not_npy":
        (bad / "3.npy").write_text("hello")
    elif broken == "lfs":
        (bad / "3.npy").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 67108944\n")
    elif broken == "ints":
        np.save(bad / "9.npy", np.zeros(4 * D, np.int64))
    with pytest.raises(LayoutError, match=match) as e:
        convert_openai(bad, tmp_path / "out")
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out" / "model.safetensors").exists()
    r = runner.invoke(app, ["models", "convert-mlstm", "--format", "openai", str(bad), str(tmp_path / "out")])
    assert r.exit_code == 2 and r.output.startswith("error: ") and re.search(match, r.output), r.output
    assert len(r.output.strip().splitlines()) == 1


def test_openai_not_a_model_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LayoutError, match=r"lacks 0\.npy .*not an OpenAI model folder"):
        convert_openai(tmp_path / "empty", tmp_path / "out")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        convert_openai(tmp_path / "nowhere", tmp_path / "out")


# ---------------------------------------------------------------------------------- NVIDIA's model


def nvidia_remove_repeats(string, n, join=True):
    """data_utils.preprocess.remove_repeats."""
    count = 0
    output = []
    last = ""
    for c in string:
        if c == last:
            count = count + 1
        else:
            count = 0
            last = c
        if count < n:
            output.append(c)
    if join:
        return "".join(output)
    return output


def nvidia_process_str(text, front_pad="\n ", end_pad=" ", maxlen=None, clean_markup=True, clean_unicode=True,
                       encode="utf-8", limit_repeats=3):
    """data_utils.preprocess.process_str (their result is a str of one character per byte)."""
    import unidecode

    if clean_markup:
        text = re.sub(re.compile("<.*?>"), " ", str(text))
    if clean_unicode:
        text = unidecode.unidecode(text)
    text = html.unescape(text)
    text = text.split()
    if maxlen is not None:
        text = text[: maxlen - len(front_pad) - len(end_pad)]
    if limit_repeats > 0:
        nvidia_remove_repeats(text, limit_repeats, join=False)  # (their result is unused)
    text = front_pad + (" ".join(text)) + end_pad
    if encode is not None:
        text = text.encode(encoding=encode)
        text = "".join(chr(c) for c in text)
    return text


def nvidia_token_ids(text, n_command_tokens):
    """CharacterLevelTokenizer.EncodeAsIds(text, process_str): ord(c) + num_command_tokens."""
    return [ord(c) + n_command_tokens for c in nvidia_process_str(text)]


def nvidia_mlstm_cell(x, hidden, w_ih, w_hh, w_mih, w_mhh, b_ih, b_hh):
    """model/RNN_utils/RNN/cells.py mLSTMCell (its CPU path), in NumPy; hidden = (h, c)."""
    def linear(a, w, b=None):  # F.linear
        return a @ w.T + (0 if b is None else b)

    hx, cx = hidden
    m = linear(x, w_mih) * linear(hidden[0], w_mhh)
    igates = linear(x, w_ih, b_ih) + linear(m, w_hh, b_hh)
    ingate, forgetgate, cellgate, outgate = np.split(igates, 4, 1)
    ingate, forgetgate = sigmoid(ingate), sigmoid(forgetgate)
    cellgate, outgate = np.tanh(cellgate), sigmoid(outgate)
    cy = (forgetgate * cx) + (ingate * cellgate)
    hy = outgate * np.tanh(cy)
    return hy, cy


def nvidia_weight(sd, key):
    """The matrix the model uses: plain, or their WeightNorm (dim=0) ``v * (g / ||v||)``."""
    if key in sd:
        return sd[key]
    g, v = sd[key + "_g"], sd[key + "_v"]
    return v * (g / np.linalg.norm(v.reshape(v.shape[0], -1), axis=1).reshape(-1, 1))


def nvidia_rnn_model(sd, ids):
    """RNNModel.forward (one layer, no dropout) on token ids (B, T): (cells, hiddens, logits (B, T, V))."""
    sd = {k: v.double().numpy() for k, v in sd.items()}
    p = "rnn.rnns.0."
    w = {k: nvidia_weight(sd, p + k) for k in ("w_ih", "w_hh", "w_mih", "w_mhh")}
    emb = sd["encoder.weight"][ids]
    B, T = ids.shape
    d = w["w_mhh"].shape[0]
    h, c = np.zeros((B, d)), np.zeros((B, d))
    cs, hs = [], []
    for t in range(T):
        h, c = nvidia_mlstm_cell(emb[:, t], (h, c), w["w_ih"], w["w_hh"], w["w_mih"], w["w_mhh"],
                                 sd[p + "b_ih"], sd[p + "b_hh"])
        cs.append(c)
        hs.append(h)
    H = np.stack(hs, 1)
    logits = H @ nvidia_weight(sd, "decoder.weight").T + sd["decoder.bias"]
    return np.stack(cs, 1), H, logits


def nvidia_state_dict(vocab=257, d=D, E=64, weight_norm=False, seed=1, dtype=torch.float32):
    """A synthetic state dict in their flat key names (canonical: encoder.weight, rnn.rnns.0.*, decoder.*)."""
    g = torch.Generator().manual_seed(seed)

    def rnd(*shape, std=1.0):
        return (torch.randn(*shape, generator=g) * std).to(dtype)

    sd = {"encoder.weight": rnd(vocab, E, std=0.6)}
    for k, shape in (("w_ih", (4 * d, E)), ("w_hh", (4 * d, d)), ("w_mih", (d, E)), ("w_mhh", (d, d))):
        std = shape[1] ** -0.5 * 1.5
        if weight_norm:
            sd[f"rnn.rnns.0.{k}_g"] = (torch.rand(shape[0], 1, generator=g) * 1.5 + 0.5).to(dtype)
            sd[f"rnn.rnns.0.{k}_v"] = rnd(*shape, std=std)
        else:
            sd[f"rnn.rnns.0.{k}"] = rnd(*shape, std=std)
    sd["rnn.rnns.0.b_ih"] = rnd(4 * d, std=0.3)
    sd["rnn.rnns.0.b_hh"] = rnd(4 * d, std=0.3)
    sd["decoder.weight"] = rnd(vocab, d, std=0.3)
    sd["decoder.bias"] = rnd(vocab, std=0.5)
    return sd


def nested(sd):
    """RNNModel.state_dict(): {'encoder': {'encoder': ..., 'rnn': ...}, 'decoder': ...}."""
    out = {"encoder": {"encoder": {}, "rnn": {}}, "decoder": {}}
    for k, v in sd.items():
        head, _, rest = k.partition(".")
        if head == "encoder":
            out["encoder"]["encoder"][rest] = v
        elif head == "rnn":
            out["encoder"]["rnn"][rest] = v
        else:
            out["decoder"][rest] = v
    return out


NV_CASES = {  # name -> (state dict kwargs, how it is saved)
    "published": (dict(vocab=257, dtype=torch.float16), "nested"),
    "fp32-256": (dict(vocab=256), "flat"),
    "weight-norm": (dict(vocab=257, weight_norm=True), "sd"),
}


@pytest.mark.parametrize("case", list(NV_CASES))
def test_nvidia_every_state_and_logit_match_their_model(tmp_path, case):
    pytest.importorskip("unidecode")
    kw, form = NV_CASES[case]
    sd = nvidia_state_dict(**kw)
    import argparse

    # "sd": as their finetune/transfer scripts save, with argparse args beside the weights
    obj = {"nested": nested(sd), "flat": sd,
           "sd": {"sd": nested(sd), "args": argparse.Namespace(emsize=64, nhid=D), "epoch": 3}}[form]
    ckpt = tmp_path / "mlstm.pt"
    torch.save(obj, ckpt)
    st = convert_nvidia(ckpt, tmp_path / "out")
    model = MLSTM.load(st)
    assert model.cfg.preprocess == "nvidia" and model.cfg.weight_norm == kw.get("weight_norm", False)
    off = kw["vocab"] - 256
    wrapped = MLSTMModel(model)
    for text in TEXTS + ["<p>Soooo <b>good</b></p>\n\n caf&eacute; na\u00efve"]:
        ids = np.array([nvidia_token_ids(text, off)])
        cs, hs, logits = nvidia_rnn_model(sd, ids)
        tokens = wrapped.tokenize([text]).tokens  # our tokenizer applies their preprocessing
        assert tokens[0].tolist() == (ids[0] - off).tolist()
        _, our_logits, our_c, our_h = _ours(st, tokens)
        np.testing.assert_allclose(our_c[0], cs[0], atol=1e-5, rtol=0)
        np.testing.assert_allclose(our_h[0], hs[0], atol=1e-5, rtol=0)
        np.testing.assert_allclose(our_logits[0], logits[0, :, off:], atol=1e-5, rtol=0)
        assert np.abs(cs).max() > 0.5


def test_nvidia_wrong_layout_is_a_one_line_error(tmp_path):
    sd = nvidia_state_dict(vocab=257)
    cases = {
        "not a checkpoint": (b"this is not a torch file", r"not a PyTorch checkpoint"),
        "missing key": ({k: v for k, v in sd.items() if k != "rnn.rnns.0.w_mih"},
                        r"lacks rnn\.rnns\.0\.w_mih \(w_mih, expected shape \(64, 64\)"),
        "wrong shape": ({**sd, "rnn.rnns.0.w_hh": torch.zeros(4 * D, D + 1)},
                        r"rnn\.rnns\.0\.w_hh \(w_hh\) has shape \(256, 65\), expected \(256, 64\)"),
        "two layers": ({**sd, "rnn.rnns.1.w_ih": torch.zeros(4 * D, D)}, r"has 2 mLSTM layers"),
        "no decoder": ({k: v for k, v in sd.items() if not k.startswith("decoder")}, r"has no decoder"),
        "an LSTM": ({k: v for k, v in sd.items() if "w_m" not in k}, r"lacks rnn\.rnns\.0\.w_mhh"),
        "not an RNN": ({"weight": torch.zeros(3, 3)}, r"has no mLSTM tensors"),
        "a tensor": (torch.zeros(3), r"holds a Tensor, not a state dict"),
        "vocab": ({**sd, "encoder.weight": torch.zeros(300, 64)}, r"expected 256 \(bytes\) or 257"),
    }
    for name, (obj, match) in cases.items():
        f = tmp_path / f"{name.replace(' ', '_')}.pt"
        if isinstance(obj, bytes):
            f.write_bytes(obj)
        else:
            torch.save(obj, f)
        with pytest.raises(LayoutError, match=match) as e:
            convert_nvidia(f, tmp_path / "out")
        assert "\n" not in str(e.value), name
        r = runner.invoke(app, ["models", "convert-mlstm", "--format", "nvidia", str(f), str(tmp_path / "out")])
        assert r.exit_code == 2 and r.output.startswith("error: ") and re.search(match, r.output), (name, r.output)
        assert len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "out").exists()


def test_cli_converts_refuses_to_overwrite_and_checks_the_format(tmp_path, openai_folder):
    out = tmp_path / "oai"
    r = runner.invoke(app, ["models", "convert-mlstm", "--format", "openai", str(openai_folder), str(out)])
    assert r.exit_code == 0, r.output
    assert "d_hidden=64" in r.output and "'openai'" in r.output
    assert MLSTM.load(out / "model.safetensors").cfg.d_hidden == D
    r = runner.invoke(app, ["models", "convert-mlstm", "--format", "openai", str(openai_folder), str(out)])
    assert r.exit_code == 2 and "--force" in r.output
    r = runner.invoke(app, ["models", "convert-mlstm", "--format", "openai", "--force", str(openai_folder), str(out)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["models", "convert-mlstm", "--format", "keras", str(openai_folder), str(out)])
    assert r.exit_code == 2 and "openai, nvidia" in r.output
    r = runner.invoke(app, ["models", "convert-mlstm", "--format", "nvidia", str(openai_folder), str(out)])
    assert r.exit_code == 2 and "is a folder" in r.output


# ---------------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("text,expected", [
    ("Great  movie!\nLoved it &amp; more ", b"\n Great  movie! Loved it & more "),
    ("&lt;b&gt;bold&lt;/b&gt; &quot;quoted&quot;", b'\n <b>bold</b> "quoted" '),
    ("line one\n\nline two", b"\n line one  line two "),
    ("caf&eacute;", b"\n caf\xc3\xa9 "),
])
def test_openai_preprocessing_examples(text, expected):
    assert preprocess(text) == expected == openai_preprocess(text)


@pytest.mark.parametrize("text,expected", [
    ("<br />Great  movie!\nLoved it &amp; more ", b"\n Great movie! Loved it & more "),
    ("Caf\u00e9 cr\u00e8me \u2013 5\u20ac", b"\n Cafe creme - 5EUR "),
    ("caf&eacute; &lt;3", b"\n caf\xc3\xa9 <3 "),  # unescaped after the transliteration, as theirs
    ("<p>Soooo\t\tgood</p>", b"\n Soooo good "),  # their limit_repeats has no effect
])
def test_nvidia_preprocessing_examples(text, expected):
    pytest.importorskip("unidecode")
    assert preprocess_nvidia(text) == expected == nvidia_process_str(text).encode("latin-1")
    assert preprocess(text, scheme="nvidia") == expected


def test_nvidia_preprocessing_refuses_bytes_and_empty():
    pytest.importorskip("unidecode")
    with pytest.raises(TypeError, match="takes str"):
        preprocess_nvidia(b"bytes")
    with pytest.raises(ValueError, match="empty text"):
        preprocess_nvidia("<p> </p>")
    with pytest.raises(ValueError, match="unknown preprocessing 'nltk'"):
        preprocess("x", scheme="nltk")
    with pytest.raises(ValueError, match="MLSTMConfig.preprocess"):
        MLSTMConfig(preprocess="nltk")


def test_missing_unidecode_is_a_clear_error(tmp_path, monkeypatch):
    sd = nvidia_state_dict(vocab=257)
    torch.save(nested(sd), tmp_path / "mlstm.pt")
    monkeypatch.setitem(sys.modules, "unidecode", None)  # import unidecode now fails
    with pytest.raises(MissingDependencyError, match=r"pip install 'interp\[nvidia\]'"):
        preprocess_nvidia("text")
    # converting needs no unidecode, but says that reading text will
    r = runner.invoke(app, ["models", "convert-mlstm", "--format", "nvidia", str(tmp_path / "mlstm.pt"),
                            str(tmp_path / "out")])
    assert r.exit_code == 0 and "note: " in r.output and "unidecode" in r.output, r.output
    model = MLSTMModel.load(tmp_path / "out" / "model.safetensors")
    with pytest.raises(MissingDependencyError, match="unidecode"):
        model.tokenize(["text"])
    r = runner.invoke(app, ["steer", str(tmp_path / "out"), "--unit", "0", "--value", "1"])
    assert r.exit_code == 2 and r.output.startswith("error: ") and "unidecode" in r.output, r.output


def test_converted_models_read_text_with_their_preprocessing(tmp_path, openai_converted):
    """The probes and the Model adapter tokenize with the scheme in the card."""
    pytest.importorskip("unidecode")
    from interp.experiments.probe import extract_features

    torch.save(nested(nvidia_state_dict(vocab=257)), tmp_path / "mlstm.pt")
    nv = MLSTM.load(convert_nvidia(tmp_path / "mlstm.pt", tmp_path / "nv")).eval()
    oa = MLSTM.load(openai_converted).eval()
    text = "<i>Caf\u00e9</i>\nso   good &amp; cheap"
    for model, data in ((nv, preprocess_nvidia(text)), (oa, preprocess(text))):
        feats = extract_features(model, [text], which=("c",), progress=False)["c"]
        tokens = torch.tensor(list(data))[None]
        with torch.no_grad():
            c, _ = model.features(tokens)
        np.testing.assert_allclose(feats[0], c[0].numpy(), atol=1e-6, rtol=0)
        assert MLSTMModel(model).tokenize([text]).tokens[0].tolist() == list(data)
    assert preprocess_nvidia(text) != preprocess(text)


def test_checkpoints_without_a_preprocess_field_still_load_as_openai():
    st = Path(__file__).parents[1] / "models" / "mlstm-512" / "model.safetensors"
    import json

    assert "preprocess" not in json.loads(st.with_suffix(".json").read_text())["config"]
    model = MLSTM.load(st)
    assert model.cfg.preprocess == "openai"
    assert MLSTMModel(model).tokenize(["a &amp; b"]).tokens[0].tolist() == list(b"\n a & b ")


@pytest.mark.slow
def test_openai_full_size_converts_and_matches_their_graph(tmp_path):
    """The published 4,096-unit layout end to end: the real small arrays with random large ones
    (345 MB written, about 2.5 GB of memory at the peak, 35 s), one short text."""
    folder = tmp_path / "model"
    folder.mkdir()
    rng = np.random.default_rng(0)
    have = {p.name for p in REAL.glob("*.npy")}
    for spec in openai_layout():
        if spec.key in have:
            shutil.copy(REAL / spec.key, folder / spec.key)
        else:  # weight norm makes the scale of 1-7 irrelevant; out/w (13) gets a trained model's scale
            scale = 3 / np.sqrt(FULL) if spec.key == "13.npy" else 1.0
            np.save(folder / spec.key, rng.standard_normal(spec.shape, dtype=np.float32) * np.float32(scale))
    st = convert_openai(folder, tmp_path / "out")
    params = openai_load_params(folder)
    X = np.frombuffer(preprocess("Great fun!"), dtype=np.uint8).astype(np.int64)[None]
    cs, hs, logits, _ = openai_model(params, X, np.zeros((2, 1, FULL)))
    del params
    model, our_logits, our_c, our_h = _ours(st, torch.from_numpy(X))
    assert model.cfg.d_hidden == FULL and sum(p.numel() for p in model.parameters()) == 86_319_360
    print("max |difference|: c %.2g, h %.2g, logits %.2g; max |c| %.3g" % (
        np.abs(our_c[0] - cs[:, 0]).max(), np.abs(our_h[0] - hs[:, 0]).max(), np.abs(our_logits[0] - logits).max(),
        np.abs(cs).max()))
    np.testing.assert_allclose(our_c[0], cs[:, 0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(our_h[0], hs[:, 0], atol=1e-5, rtol=0)
    np.testing.assert_allclose(our_logits[0], logits, atol=1e-5, rtol=0)
