"""CTGAN, TVAE (and SDV's own Gaussian copula, for side-by-side runs) through SDV.

SDV sees model space: standardised numbers and integer category codes, so schema handling
stays ours (rounding and range clipping included, so SDV's enforce_* options are off). Fits are made reproducible by seeding numpy, Python and torch around the call
(restored afterwards); sampling sets SDV's random state from our seed, replacing SDV's hidden
fixed seed. SDV objects can only be saved as pickles: the manifest says so and the store
refuses to load a pickle whose sha256 differs from the manifest.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import random
import warnings
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
import pandas as pd

from ..exceptions import ParameterError
from .base import BaseGenerator
from .encoding import ModelData

__all__ = ["CTGANGenerator", "TVAEGenerator", "SDVGaussianCopulaGenerator"]

_TABLE = "rare"


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed numpy's, Python's and torch's global generators for a block; restore them afterwards."""
    import torch

    np_state, py_state, torch_state = np.random.get_state(), random.getstate(), torch.get_rng_state()
    np.random.seed(seed)
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.set_rng_state(torch_state)


class _SDVGenerator(BaseGenerator):
    """Shared machinery: model space -> SDV single-table data and back."""

    payload_format: ClassVar[str] = "pickle"

    def _synthesizer(self, metadata: Any) -> Any:
        raise NotImplementedError

    def _frame(self, data: ModelData) -> pd.DataFrame:
        cols = {f"n{j}": data.numeric[:, j] for j in range(data.numeric.shape[1])}
        cols.update({f"c{j}": data.codes[:, j].astype(np.int64) for j in range(data.codes.shape[1])})
        return pd.DataFrame(cols)

    def _fit(self, rare: ModelData, other: ModelData | None, rng: np.random.Generator, seed: int) -> dict:
        from sdv.metadata import Metadata

        frame = self._frame(rare)
        columns = {c: {"sdtype": "numerical" if c.startswith("n") else "categorical"} for c in frame.columns}
        metadata = Metadata.load_from_dict({"tables": {_TABLE: {"columns": columns}}})
        synth = self._synthesizer(metadata)
        with seeded(seed), _quiet():
            synth.fit({_TABLE: frame})
        return {"synthesizer": synth, "n_numeric": rare.numeric.shape[1], "n_codes": rare.codes.shape[1]}

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        synth = state["synthesizer"]
        with seeded(seed), _quiet():
            if hasattr(synth, "_set_random_state"):
                synth._set_random_state(seed)
            out = synth.sample(n)
        frame = out[_TABLE] if isinstance(out, dict) else out
        p, q = state["n_numeric"], state["n_codes"]
        numeric = frame[[f"n{j}" for j in range(p)]].to_numpy(dtype=np.float64) if p else np.empty((n, 0))
        codes = frame[[f"c{j}" for j in range(q)]].to_numpy(dtype=np.int64) if q else np.empty((n, 0))
        return ModelData(numeric, codes.astype(np.int32))

    def _save_payload(self, folder: Path) -> list[str]:
        names = []
        for i, state in enumerate(self.states_):
            name = f"synthesizer_{i}.pkl"
            with open(folder / name, "wb") as handle:
                pickle.dump(state, handle, protocol=pickle.HIGHEST_PROTOCOL)
            names.append(name)
        return names

    def _load_payload(self, folder: Path) -> None:
        # only reached after synthgen.store verified every payload's sha256 against the manifest
        states = []
        for i in range(len(self.classes_)):
            with open(folder / f"synthesizer_{i}.pkl", "rb") as handle:
                states.append(pickle.load(handle))  # noqa: S301 - hash-checked above
        self.states_ = states


class _NeuralGenerator(_SDVGenerator):
    def __init__(self, *, epochs: int = 300, batch_size: int = 500, verbose: bool = True,
                 random_state: int | None = None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.verbose = verbose
        self.random_state = random_state

    def _validate_params(self) -> None:
        for key in ("epochs", "batch_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{key}: expected a whole number >= 1, got {value!r}")
        if self.batch_size % 10:
            raise ParameterError(f"batch_size: expected a multiple of 10 (CTGAN packs 10 rows), got {self.batch_size}")

    def block_rows(self) -> int:
        return 50_000


class CTGANGenerator(_NeuralGenerator):
    """CTGAN (conditional GAN for tables) trained through SDV; progress bar shows epochs and both losses.

    Sampling runs the trained network directly (synthgen.models.ctgan_sampling): the same
    distribution as SDV's ``sample``, without its row-by-row decoding.
    """

    name = "ctgan"

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        from .ctgan_sampling import CTGANLayout, sample_model_frame

        model = state["synthesizer"]._model
        cols = sample_model_frame(model, CTGANLayout.of(model), n, seed)
        p, q = state["n_numeric"], state["n_codes"]
        numeric = np.column_stack([cols[f"n{j}"] for j in range(p)]) if p else np.empty((n, 0))
        codes = np.column_stack([cols[f"c{j}"] for j in range(q)]).astype(np.int32) if q else np.empty((n, 0), np.int32)
        return ModelData(numeric.astype(np.float64, copy=False), codes)

    def _synthesizer(self, metadata: Any) -> Any:
        from sdv.single_table import CTGANSynthesizer

        return CTGANSynthesizer(metadata, epochs=self.epochs, batch_size=self.batch_size, verbose=self.verbose,
                                enable_gpu=False, enforce_rounding=False, enforce_min_max_values=False)


class TVAEGenerator(_NeuralGenerator):
    """TVAE (variational autoencoder for tables) through SDV; progress bar shows epochs and loss."""

    name = "tvae"

    def _synthesizer(self, metadata: Any) -> Any:
        from sdv.single_table import TVAESynthesizer

        return TVAESynthesizer(metadata, epochs=self.epochs, batch_size=self.batch_size, verbose=self.verbose,
                               enable_gpu=False, enforce_rounding=False, enforce_min_max_values=False)


class SDVGaussianCopulaGenerator(_SDVGenerator):
    """SDV's GaussianCopulaSynthesizer, kept for side-by-side comparison (``gaussian-copula``, backend='sdv')."""

    name = "gaussian-copula-sdv"

    def __init__(self, *, default_distribution: str = "beta", random_state: int | None = None):
        self.default_distribution = default_distribution
        self.random_state = random_state

    def _synthesizer(self, metadata: Any) -> Any:
        from sdv.single_table import GaussianCopulaSynthesizer

        return GaussianCopulaSynthesizer(metadata, default_distribution=self.default_distribution,
                                         enforce_rounding=False)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence SDV's info logging and library warnings (progress bars still show); run ctgan's
    joblib-parallel data transforms in threads, which avoids ~15 s of process start-up per fit."""
    from joblib import parallel_config

    loggers = [logging.getLogger(name) for name in ("sdv", "rdt", "copulas", "SingleTableSynthesizer")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), parallel_config(backend="threading"):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
