"""What :func:`interp.experiments.find.compare` does: its options, the data sources, methods and
site kinds it knows, and the colours of its figures."""

from __future__ import annotations

from dataclasses import dataclass, field

from interp import positions as P
from interp.tasks import SSTZeroShot

DATA_SOURCES = {
    "toy": "toy reviews over several templates, read at the adjective (train adjectives)",
    "sst_last": "SST train sentences, read at the last token",
    "sst_mean": "SST train sentences, averaged over the real tokens after the first",
}
#: every method, in display order; the neuron methods last
METHODS = ("mean_diff", "kmeans", "pca", "logreg_l2", "logreg_l1", "das", "leace", "best_neuron", "topk_l1",
           "topk_weight")
NEURON_METHODS = ("best_neuron", "topk_l1", "topk_weight")
SITE_KINDS = {"resid_post": "blocks.{L}.hook_resid_post", "mlp_post": "blocks.{L}.mlp.hook_post",
              "resid_pre": "blocks.{L}.hook_resid_pre", "resid_mid": "blocks.{L}.hook_resid_mid"}
RANDOM_WARN = 0.05
COLOURS = {"mean_diff": "#1f77b4", "kmeans": "#ff7f0e", "pca": "#2ca02c", "logreg_l2": "#d62728",
           "logreg_l1": "#9467bd", "das": "#8c564b", "leace": "#7f7f00", "best_neuron": "#e377c2", "topk_l1": "#17becf",
           "topk_weight": "#bcbd22", "random": "#999999"}


@dataclass
class CompareConfig:
    """What :func:`compare` does. ``layers``/``site_kinds`` build the transformer sites when no
    ``sites`` are given (the mLSTM: ``hook_c``, ``hook_h``)."""

    model: str = ""
    layers: list[int] | None = None
    site_kinds: list[str] = field(default_factory=lambda: ["resid_post"])
    data: list[str] = field(default_factory=lambda: ["sst_last", "sst_mean", "toy"])
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    k: int = 10
    C_grid: list[float] = field(default_factory=lambda: [2.0 ** k for k in (-12, -10, -8, -6, -4, -2, 0)])
    train_limit: int | None = 1000
    dev_limit: int | None = None
    test_limit: int | None = None
    causal: bool = True
    limit: int | None = 300  # SST test sentences for the causal table
    causal_methods: list[str] | None = None  # directions ablated (None: every direction method fitted)
    positions: list[str] = field(default_factory=lambda: ["all", "commas"])
    mode: str = "mean"
    n_random: int = 8
    reference_n: int = 256
    prompt: str = "very"
    das_steps: int = 200
    das_lr: float = 0.01
    das_batch: int = 32
    das_objective: str = "capped"
    das_pairs: int | None = None
    batch_size: int = 32
    n_boot: int = 1000
    seed: int = 0

    def validate(self) -> "CompareConfig":
        bad = [d for d in self.data if d not in DATA_SOURCES]
        if bad or not self.data:
            raise ValueError(f"unknown data source(s) {bad or self.data!r}; choose from {', '.join(DATA_SOURCES)}")
        bad = [m for m in self.methods if m not in METHODS]
        if bad or not self.methods:
            raise ValueError(f"unknown method(s) {bad or self.methods!r}; choose from {', '.join(METHODS)}")
        bad = [k for k in self.site_kinds if k not in SITE_KINDS]
        if bad:
            raise ValueError(f"unknown site kind(s) {bad}; choose from {', '.join(SITE_KINDS)}")
        if self.das_objective not in ("capped", "logit_diff"):
            raise ValueError(f"das_objective must be 'capped' or 'logit_diff', not {self.das_objective!r}")
        if self.mode not in ("mean", "project"):
            raise ValueError(f"mode must be 'mean' or 'project', not {self.mode!r}")
        P.parse_list(self.positions)
        SSTZeroShot(prompt=self.prompt)
        if self.n_random < 1:
            raise ValueError("n_random must be at least 1: every number needs its random control")
        if self.k < 1:
            raise ValueError("k must be at least 1")
        bad = [m for m in (self.causal_methods or []) if m not in METHODS or m in NEURON_METHODS]
        if bad:
            allowed = ", ".join(m for m in METHODS if m not in NEURON_METHODS)
            raise ValueError(f"causal_methods must be direction methods ({allowed}); got {bad} "
                             "(the best unit and the top-k units are always ablated)")
        from interp.validate import check_count, check_sweep_sizes

        check_sweep_sizes(self)
        for name in ("das_steps", "das_batch"):
            check_count(f"--{name.replace('_', '-')}", getattr(self, name))
        return self
