"""The shape, initialisation seed and text preprocessing of an :class:`~interp.models.mlstm.module.MLSTM`.

What a checkpoint's card records (``config``) and what :mod:`interp.models.mlstm.checkpoint`
checks a checkpoint's tensors against (:meth:`MLSTMConfig.param_shapes`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from interp.models.mlstm.text import PREPROCESSING

__all__ = ["MLSTMConfig"]


@dataclass
class MLSTMConfig:
    """Shape and initialisation of an :class:`MLSTM`, and the text preprocessing its weights
    expect (``preprocess``: one of :data:`PREPROCESSING`; cards written before it existed load
    as ``"openai"``)."""

    vocab: int = 256
    d_embed: int = 64
    d_hidden: int = 256
    weight_norm: bool = False
    seed: int = 0
    preprocess: str = "openai"

    def __post_init__(self) -> None:
        for name in ("vocab", "d_embed", "d_hidden"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"MLSTMConfig.{name} must be a positive int, got {v!r}")
        if self.preprocess not in PREPROCESSING:
            raise ValueError(f"MLSTMConfig.preprocess must be one of {', '.join(PREPROCESSING)}, got "
                             f"{self.preprocess!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MLSTMConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown MLSTMConfig fields {sorted(unknown)}")
        return cls(**d)

    def forward_flops_per_token(self) -> int:
        """Matmul FLOPs of one forward step per token (input projections, the two recurrent
        matmuls, the output layer); a training step costs about 3x this (forward + backward)."""
        E, d, V = self.d_embed, self.d_hidden, self.vocab
        return 2 * (E * 5 * d + d * d + d * 4 * d + d * V)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Name -> shape of every tensor in the state dict."""
        V, E, d = self.vocab, self.d_embed, self.d_hidden
        shapes: dict[str, tuple[int, ...]] = {"embed": (V, E)}
        mats = {"mx": (E, d), "mh": (d, d), "x": (E, 4 * d), "h": (d, 4 * d)}
        for k, s in mats.items():
            if self.weight_norm:
                shapes[f"V_{k}"] = s
                shapes[f"g_{k}"] = (s[1],)
            else:
                shapes[f"W_{k}"] = s
        shapes["b"] = (4 * d,)
        shapes["W_out"] = (d, V)
        shapes["b_out"] = (V,)
        return shapes
