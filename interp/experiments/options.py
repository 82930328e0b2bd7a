"""Settings shared by the experiments that ablate directions on the SST zero-shot task.

Not an experiment: a config (and its checks) that ``interp ablate`` and the summarization table of
``interp patch`` both extend, so that neither imports the other.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from interp.finders import FIT_METHODS, check_fit_options
from interp.tasks import SSTZeroShot
from interp.validate import check_ablation_options, check_sweep_sizes


@dataclass
class AblationOptions:
    """What an SST ablation sweep needs (model, prompt, positions, modes, layers, random controls, sizes,
    the directions and the protocol); ``interp ablate`` (:class:`~interp.experiments.ablate.AblateConfig`)
    and ``interp patch``'s summarization (:class:`~interp.experiments.summarize.SummarizeConfig`)
    share it."""


    model: str = "smollm2-135m"
    prompt: str = "very"
    positions: list[str] = field(default_factory=lambda: ["all", "commas"])
    modes: list[str] = field(default_factory=lambda: ["mean"])
    site: str = "resid_post"
    layers: list[int] | None = None  # None: every layer
    n_random: int = 8
    reference_n: int = 256
    split: str = "test"
    limit: int | None = None
    dev_limit: int | None = None
    batch_size: int = 32
    seed: int = 0
    n_boot: int = 2000
    skip_first: bool = True
    threshold: str = "dev"  # "dev" (fitted on SST dev, balanced accuracy) or "zero"
    per_layer: bool = False  # one condition per layer (a row each) instead of all layers at once
    #: a finder name (FIT_METHODS) or a folder of saved directions; None: the protocol's own
    #: (mean_diff for the default protocol, das for the Tigges protocol)
    directions: str | None = None
    direction_method: str | None = None  # with a folder: keep only directions of this method
    fit_data: str = "toy"  # what a named finder is fit on (interp.finders.FIT_DATA)
    fit_limit: int | None = 1000  # SST train sentences for fit_data="sst_last"
    protocol: str = "default"  # "default", or "tigges": Tigges et al.'s protocol beside the default
    tigges_splits: list[str] = field(default_factory=lambda: ["train", "dev", "test"])
    tigges_top_k: int = 10
    tigges_limit: int | None = None  # N random sentences of the pooled splits (quick runs)
    das_steps: int = 200
    das_lr: float = 0.01
    das_batch: int = 32
    das_pairs: int | None = None

    #: the modes :meth:`validate` accepts (a subclass may widen them)
    modes_allowed: ClassVar[tuple[str, ...]] = ("project", "mean")

    def validate(self) -> "AblationOptions":
        """Check names before any model is loaded; ValueError naming the bad value."""
        SSTZeroShot(prompt=self.prompt)
        check_ablation_options(self.positions, self.modes, self.n_random, self.threshold, allowed=self.modes_allowed)
        check_sweep_sizes(self)
        check_directions_option(self.directions, self.fit_data)
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"unknown protocol {self.protocol!r}; choose from {', '.join(PROTOCOLS)}")
        if self.protocol == "tigges":
            bad = [s for s in self.tigges_splits if s not in ("train", "dev", "test")]
            if bad or not self.tigges_splits:
                raise ValueError(f"tigges_splits must be among train, dev, test; got {bad or self.tigges_splits!r}")
            if self.tigges_top_k < 1:
                raise ValueError("tigges_top_k must be at least 1")
            if self.directions is None:
                check_fit_options("das", "toy")
        return self


PROTOCOLS = ("default", "tigges")


def check_directions_option(directions: str | None, fit_data: str) -> None:
    """``directions`` is None, a finder name (with a known ``fit_data``) or an existing folder;
    ValueError / FileNotFoundError naming the problem."""
    from pathlib import Path

    if directions is None:
        check_fit_options("mean_diff", fit_data)
        return
    if directions in FIT_METHODS:
        check_fit_options(directions, fit_data)
        return
    if not Path(directions).is_dir():
        raise FileNotFoundError(f"--directions {directions!r} is neither a finder ({', '.join(FIT_METHODS)}) nor a "
                                "folder of saved directions")
