"""CTGAN, TVAE (and SDV's own Gaussian copula, for side-by-side runs) through SDV.

SDV sees model space: standardised numbers and integer category codes, so schema handling
stays ours (rounding and range clipping included, so SDV's enforce_* options are off). Fits are
made reproducible by seeding numpy, Python and torch around the call (restored afterwards).
Sampling skips SDV for CTGAN and TVAE (``ctgan_sampling``, ``tvae_sampling``: the trained network
run directly, seeded from our seed; TVAE's rows equal SDV's bit for bit). Conditions
(``sample(where=...)``): CTGAN draws with its conditional vector set to one categorical equality, then
keeps the rows that meet every condition (bounded rejection); TVAE has no conditional input, so only the
bounded rejection; both fail with one line giving the acceptance rate when it is too low.

Saved CTGAN/TVAE models hold no pickle: the network as a torch ``state_dict`` (read back with
``torch.load(weights_only=True)``), the data transformer's spans as JSON plus arrays (npz, read with
``allow_pickle=False``). SDV's Gaussian copula can only be saved as a pickle, and models written by
synthgen before this format are pickles too: those load only with ``trust_pickle=True`` (the store
warns, and still checks every sha256 first).
"""

from __future__ import annotations

import contextlib
import json
import logging
import pickle
import random
import warnings
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np
import pandas as pd

from ..conditions import Conditions
from ..exceptions import GeneratorError, IntegrityError, ParameterError, UntrustedPayloadError
from .base import BaseGenerator, child_seed
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

    def _load_payload(self, folder: Path, payload: dict, *, trust_pickle: bool = False) -> None:
        if payload.get("format") != "pickle":
            raise IntegrityError(f"model folder '{folder}': payload format {payload.get('format')!r} is not one "
                                 f"{self.name} writes")
        if not trust_pickle:  # the store refuses first; this keeps unpickling behind the flag whoever calls
            raise UntrustedPayloadError(f"model folder '{folder}': the payload is a pickle; pass trust_pickle=True "
                                        f"to load it")
        # only reached after synthgen.store verified every payload's sha256 against the manifest
        states = []
        for i in range(len(self.classes_)):
            with open(folder / f"synthesizer_{i}.pkl", "rb") as handle:
                states.append(pickle.load(handle))  # hash-checked, and trusted by the caller
        self.states_ = states


class _NeuralGenerator(_SDVGenerator):
    """CTGAN and TVAE: trained through SDV, sampled from the network directly, saved without pickle."""

    payload_format: ClassVar[str] = "torch"
    #: payload file of class i's network: f"{_net_file}_{i}.pt"
    _net_file: ClassVar[str] = "network"

    def __init__(self, *, epochs: int = 300, batch_size: int = 500, verbose: bool = True,
                 random_state: Any = None):
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

    def _sample(self, state: dict, n: int, rng: np.random.Generator, seed: int) -> ModelData:
        return self._model_data(state, self._sample_columns(self._network(state), n, seed), n)

    def _model_data(self, state: dict, cols: dict[str, np.ndarray], n: int) -> ModelData:
        """The network's decoded columns (``n<j>``, ``c<j>``) as model space."""
        p, q = state["n_numeric"], state["n_codes"]
        numeric = np.column_stack([cols[f"n{j}"] for j in range(p)]) if p else np.empty((n, 0))
        codes = np.column_stack([cols[f"c{j}"] for j in range(q)]).astype(np.int32) if q else np.empty((n, 0), np.int32)
        return ModelData(numeric.astype(np.float64, copy=False), codes)

    # a fitted state holds SDV's synthesizer; a loaded one the network and what sampling needs of the rest
    def _network(self, state: dict) -> dict:
        if "network" not in state:
            state.update(self._export(state["synthesizer"]._model))
        return state

    def _export(self, model: Any) -> dict:
        """The network module, its rebuild sizes (JSON) and the decoding arrays, from a fitted ctgan model."""
        raise NotImplementedError

    def _rebuild(self, sizes: dict) -> Any:
        raise NotImplementedError

    def _sample_columns(self, state: dict, n: int, seed: int) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _save_payload(self, folder: Path) -> list[str]:
        import torch

        from .ctgan_sampling import spans_to_state

        metas, arrays, names = [], {}, []
        for i, state in enumerate(self.states_):
            net = self._network(state)
            name = f"{self._net_file}_{i}.pt"
            torch.save(net["network"].state_dict(), folder / name)
            names.append(name)
            meta, span_arrays = spans_to_state(net["spans"])
            if net.get("cond_probs") is not None:
                span_arrays["cond_probs"] = net["cond_probs"]
            metas.append({"sizes": net["sizes"], "n_numeric": state["n_numeric"], "n_codes": state["n_codes"],
                          "n_cond": int(net.get("n_cond", 0)), **meta})
            arrays.update({f"c{i}.{key}": value for key, value in span_arrays.items()})
        np.savez(folder / "network.npz", **arrays)
        (folder / "network.json").write_text(json.dumps(metas, indent=1))
        return names + ["network.npz", "network.json"]

    def _load_payload(self, folder: Path, payload: dict, *, trust_pickle: bool = False) -> None:
        if payload.get("format") == "pickle":  # written by synthgen before networks were saved as state_dicts
            super()._load_payload(folder, payload, trust_pickle=trust_pickle)
            return
        import torch

        from .ctgan_sampling import spans_from_state

        metas = json.loads((folder / "network.json").read_text())
        with np.load(folder / "network.npz", allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        states = []
        for i, meta in enumerate(metas):
            name = f"{self._net_file}_{i}.pt"
            try:
                weights = torch.load(folder / name, map_location="cpu", weights_only=True)
            except Exception as exc:  # torch raises several kinds for a file that is not weights
                raise IntegrityError(f"model folder '{folder}': payload file '{name}' is not a torch state_dict of "
                                     f"tensors ({' '.join(str(exc).split())[:200]})") from None
            network = self._rebuild(meta["sizes"])
            network.load_state_dict(weights)
            mine = {k[len(f"c{i}.") :]: v for k, v in arrays.items() if k.startswith(f"c{i}.")}
            states.append({"network": network, "sizes": meta["sizes"], "spans": spans_from_state(meta, mine),
                           "cond_probs": mine.get("cond_probs"), "n_cond": int(meta.get("n_cond", 0)),
                           "n_numeric": int(meta["n_numeric"]), "n_codes": int(meta["n_codes"])})
        self.states_ = states


class CTGANGenerator(_NeuralGenerator):
    """CTGAN (conditional GAN for tables) trained through SDV; progress bar shows epochs and both losses.

    Sampling runs the trained network directly (synthgen.models.ctgan_sampling): the same
    distribution as SDV's ``sample``, without its row-by-row decoding.
    """

    name = "ctgan"
    _net_file = "generator"

    def _synthesizer(self, metadata: Any) -> Any:
        from sdv.single_table import CTGANSynthesizer

        return CTGANSynthesizer(metadata, epochs=self.epochs, batch_size=self.batch_size, verbose=self.verbose,
                                enable_gpu=False, enforce_rounding=False, enforce_min_max_values=False)

    def _export(self, model: Any) -> dict:
        from .ctgan_sampling import CTGANLayout

        layout = CTGANLayout.of(model)
        sizes = {"embedding_dim": int(model._embedding_dim), "generator_dim": [int(d) for d in model._generator_dim],
                 "data_dim": int(model._transformer.output_dimensions), "cond_dim": int(model._data_sampler.dim_cond_vec()),
                 "batch_size": int(model._batch_size)}
        return {"network": model._generator, "sizes": sizes, "spans": layout.spans, "cond_probs": layout.cond_probs,
                "n_cond": layout.n_cond}

    def _rebuild(self, sizes: dict) -> Any:
        from ctgan.synthesizers.ctgan import Generator

        return Generator(sizes["embedding_dim"] + sizes["cond_dim"], tuple(sizes["generator_dim"]), sizes["data_dim"])

    def _sample_columns(self, state: dict, n: int, seed: int, cond_probs: np.ndarray | None = None
                        ) -> dict[str, np.ndarray]:
        """``n`` rows from the generator; ``cond_probs`` sets its conditional vector (``condition_probs``), and then
        BatchNorm uses its training statistics: with one vector for a whole batch, per-batch statistics would
        subtract the vector's effect in every layer (sdv-dev/CTGAN#235)."""
        from .ctgan_sampling import CTGANLayout, sample_frame

        layout = CTGANLayout(state["spans"], state["cond_probs"], state["n_cond"])
        sizes = state["sizes"]
        return sample_frame(state["network"], sizes["batch_size"], sizes["embedding_dim"], layout, n, seed,
                            cond_probs=cond_probs, running_stats=cond_probs is not None)

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int,
                         where: Conditions) -> ModelData:
        """Rows that meet ``where``: drawn with CTGAN's conditional vector set to one categorical equality
        (``_condition_vector``; BatchNorm with its training statistics, as ctgan's fix sdv-dev/CTGAN#236), then
        kept where every condition holds (the generator does not always honour its vector; other conditions,
        numeric ranges included, are met only this way), by bounded rejection: a one-line GeneratorError with
        the acceptance rate when it is too low."""
        net = self._network(state)
        cond, used = self._condition_vector(net, where)
        how = (f"rows drawn with CTGAN's conditional vector set to {used}" if used else
               "rows drawn (no category condition for CTGAN's conditional vector)")
        return _bounded_rejection(self, lambda m, s: self._model_data(state, self._sample_columns(net, m, s, cond), m),
                                  n, seed, where, how)

    def _condition_vector(self, net: dict, where: Conditions) -> tuple[np.ndarray | None, str]:
        """Conditional-vector probabilities for the categorical equality the rare rows hold least of (where the
        vector helps most), and that condition's text; (None, "") when no condition can use it."""
        from .ctgan_sampling import CTGANLayout, condition_probs

        layout = CTGANLayout(net["spans"], net["cond_probs"], net["n_cond"])
        _, codes = where.model_bounds(self.encoder_)
        best: tuple[float, np.ndarray, str] | None = None
        for cond in where.items:
            if cond.kind != "equals" or cond.column not in self.encoder_.categorical_columns_:
                continue
            j = self.encoder_.categorical_columns_.index(cond.column)
            probs = condition_probs(layout, f"c{j}", codes.get(j, np.zeros(0, dtype=np.int64)))
            if probs is None:
                continue
            share = _column_share(layout, f"c{j}", probs)
            if best is None or share < best[0]:
                best = (share, probs, ", ".join(cond.texts()))
        return (None, "") if best is None else (best[1], best[2])


class TVAEGenerator(_NeuralGenerator):
    """TVAE (variational autoencoder for tables) through SDV; progress bar shows epochs and loss.

    Sampling runs the trained decoder directly (synthgen.models.tvae_sampling): SDV's rows for the seed,
    bit for bit."""

    name = "tvae"
    _net_file = "decoder"

    def _synthesizer(self, metadata: Any) -> Any:
        from sdv.single_table import TVAESynthesizer

        return TVAESynthesizer(metadata, epochs=self.epochs, batch_size=self.batch_size, verbose=self.verbose,
                               enable_gpu=False, enforce_rounding=False, enforce_min_max_values=False)

    def _export(self, model: Any) -> dict:
        from .ctgan_sampling import spans_of

        sizes = {"embedding_dim": int(model.embedding_dim), "decompress_dims": [int(d) for d in model.decompress_dims],
                 "data_dim": int(model.transformer.output_dimensions), "batch_size": int(model.batch_size)}
        return {"network": model.decoder, "sizes": sizes, "spans": spans_of(model.transformer)}

    def _rebuild(self, sizes: dict) -> Any:
        from ctgan.synthesizers.tvae import Decoder

        return Decoder(sizes["embedding_dim"], tuple(sizes["decompress_dims"]), sizes["data_dim"])

    def _sample_matching(self, state: dict, n: int, rng: np.random.Generator, seed: int,
                         where: Conditions) -> ModelData:
        """The base's bounded rejection, the only way for TVAE: its decoder takes noise alone (no conditional
        input), so rows are drawn as usual and kept where ``where`` holds; when too few are, the one-line
        GeneratorError gives the acceptance rate and says why."""
        try:
            return super()._sample_matching(state, n, rng, seed, where)
        except GeneratorError as exc:
            raise GeneratorError(f"{exc} (TVAE has no conditional input: its decoder takes noise only, so conditions "
                                 f"are met by keeping the sampled rows that meet them)") from None

    def _sample_columns(self, state: dict, n: int, seed: int) -> dict[str, np.ndarray]:
        from .tvae_sampling import sample_tvae_frame

        sizes = state["sizes"]
        return sample_tvae_frame(state["network"], sizes["batch_size"], sizes["embedding_dim"], state["spans"], n, seed)


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


def _column_share(layout: Any, column: str, probs: np.ndarray) -> float:
    """The training share of the categories ``probs`` asks for, within their discrete column."""
    start = 0
    for span in layout.spans:
        if span.continuous:
            continue
        if span.name == column:
            block = layout.cond_probs[start : start + span.width]
            return float(block[probs[start : start + span.width] > 0].sum() / block.sum())
        start += span.width
    return 1.0


def _bounded_rejection(gen: BaseGenerator, draw: Any, n: int, seed: int, where: Conditions, how: str) -> ModelData:
    """``n`` rows of ``draw(m, seed)`` that meet ``where``, as the base's bounded rejection: the first batch seeded
    by ``seed``, the next by child seeds of it; a one-line GeneratorError (``how`` the rows were drawn, the
    acceptance rate) when n rows would take more than ``max_rejection_factor`` x n draws."""
    bound = gen.max_rejection_factor * n
    kept: list[ModelData] = []
    have = drawn = accepted = index = 0
    batch, batch_seed = max(n, 1_000), seed
    while have < n:
        data = draw(batch, batch_seed)
        ok = where.mask(gen.encoder_.inverse(data))
        drawn, accepted = drawn + batch, accepted + int(ok.sum())
        if ok.any():
            kept.append(data.take(np.flatnonzero(ok)[: n - have]))
            have += len(kept[-1].numeric)
        rate = accepted / drawn
        if have < n and rate == 0:
            raise GeneratorError(f"{gen.name}: none of {drawn:,} {how} meet {where.describe()} (acceptance rate 0%): "
                                 f"loosen the conditions")
        if have < n and drawn + (n - have) / rate > bound:
            raise GeneratorError(
                f"{gen.name}: only {rate:.4%} of {how} meet {where.describe()} ({accepted:,} of {drawn:,}); {n:,} rows "
                f"would need about {n / rate:,.0f} draws, over the bound of {bound:,} draws "
                f"({gen.max_rejection_factor}x n): loosen the conditions")
        index += 1
        batch_seed = child_seed(seed, 7, index)
        batch = int(min(max(1_000, np.ceil(1.2 * (n - have) / max(rate, 1e-12))), max(gen.block_rows(), n)))
    return ModelData(np.concatenate([k.numeric for k in kept]), np.concatenate([k.codes for k in kept]))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence SDV's info logging and library warnings (progress bars still show); run ctgan's
    joblib-parallel data transforms one after another in this process: a process pool costs ~15 s of
    start-up per fit, and threads race on numpy's global generator (rdt draws each row's mode from
    it), which made two fits with the same seed differ."""
    from joblib import parallel_config

    loggers = [logging.getLogger(name) for name in ("sdv", "rdt", "copulas", "SingleTableSynthesizer")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), parallel_config(backend="sequential"):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
