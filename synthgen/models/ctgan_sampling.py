"""Sampling from a fitted CTGAN network without SDV's per-row decoding: same model, same meaning.

ctgan's own ``CTGAN.sample`` runs the generator batch by batch with autograd on, draws a soft
Gumbel-softmax for every one-hot span, then decodes each span with rdt transformers that map
row by row in Python. We keep what defines the distribution and drop the rest:

- the generator runs in training mode, as in ctgan (BatchNorm normalises with the statistics
  of each ``batch_size`` batch of noise); here all batches go through one matrix product per
  layer, with BatchNorm's statistics taken per batch, and without touching its running stats;
- a category (or a continuous column's mode) is the argmax of a Gumbel-softmax sample, and that
  argmax is exactly one draw from ``softmax(logits)`` (the Gumbel-max trick), so we draw it
  directly;
- a continuous value is ``clip(tanh(alpha), -1, 1) * 4 * std[mode] + mean[mode]``, the
  ClusterBasedNormalizer's reverse transform; SDV's FloatFormatter after it is the identity here
  (no rounding, no min/max clipping, no missing values in model space).

``tests/test_ctgan_sampling.py`` checks both steps against ctgan and SDV on a fitted model.

Conditional sampling (``condition_probs``): the conditional vector is drawn from the chosen categories'
positions only, at the place ctgan trains them (``tests/test_conditions_models.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["CTGANLayout", "spans_of", "generator_forward", "decode", "draw", "sample_frame", "sample_model_frame",
           "condition_probs"]


@dataclass(frozen=True)
class _Span:
    name: str
    continuous: bool
    offset: int
    width: int  # continuous: 1 (alpha) + modes; discrete: categories
    values: np.ndarray  # discrete: category per one-hot position; continuous: means of the valid modes
    stds: np.ndarray | None = None


@dataclass(frozen=True)
class CTGANLayout:
    """Where each column lives in the generator's output, and how to decode it."""

    spans: tuple[_Span, ...]
    cond_probs: np.ndarray | None  # probability of each conditional-vector position (None: no discrete column)
    n_cond: int

    @classmethod
    def of(cls, model: Any) -> "CTGANLayout":
        spans = spans_of(model._transformer)
        sampler = model._data_sampler
        if sampler._n_discrete_columns == 0:
            return cls(spans, None, 0)
        # ctgan's sample_original_condvec: positions with non-zero frequency, renormalised
        freq = np.asarray(sampler._discrete_column_category_prob, dtype=np.float64).ravel()
        freq = freq[freq != 0]
        return cls(spans, freq / freq.sum(), int(sampler._n_categories))

    # a fitted layout as JSON (structure) plus arrays (values), so a saved model holds no pickle
    def to_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        meta, arrays = spans_to_state(self.spans)
        meta["n_cond"] = self.n_cond
        if self.cond_probs is not None:
            arrays["cond_probs"] = self.cond_probs
        return meta, arrays

    @classmethod
    def from_state(cls, meta: dict, arrays: dict[str, np.ndarray]) -> "CTGANLayout":
        return cls(spans_from_state(meta, arrays), arrays.get("cond_probs"), int(meta["n_cond"]))


def spans_of(transformer: Any) -> tuple[_Span, ...]:
    """The column spans of a fitted ctgan ``DataTransformer`` (CTGAN's and TVAE's are the same kind)."""
    spans, offset = [], 0
    for info in transformer._column_transform_info_list:
        width = int(info.output_dimensions)
        if info.column_type == "continuous":
            gm = info.transform
            valid = np.asarray(gm.valid_component_indicator, dtype=bool)
            means = np.asarray(gm._bgm_transformer.means_, dtype=np.float64).reshape(-1)[valid]
            stds = np.sqrt(np.asarray(gm._bgm_transformer.covariances_, dtype=np.float64)).reshape(-1)[valid]
            spans.append(_Span(info.column_name, True, offset, width, means, stds))
        else:
            spans.append(_Span(info.column_name, False, offset, width, np.asarray(info.transform.dummies)))
        offset += width
    return tuple(spans)


def spans_to_state(spans: tuple[_Span, ...]) -> tuple[dict, dict[str, np.ndarray]]:
    meta = {"spans": [{"name": sp.name, "continuous": sp.continuous, "offset": sp.offset, "width": sp.width}
                      for sp in spans]}
    arrays: dict[str, np.ndarray] = {}
    for k, sp in enumerate(spans):
        values = np.asarray(sp.values)
        if values.dtype == object:  # category codes: whole numbers in model space
            values = values.astype(np.int64)
        arrays[f"span{k}.values"] = values
        if sp.stds is not None:
            arrays[f"span{k}.stds"] = np.asarray(sp.stds, dtype=np.float64)
    return meta, arrays


def spans_from_state(meta: dict, arrays: dict[str, np.ndarray]) -> tuple[_Span, ...]:
    return tuple(
        _Span(str(sp["name"]), bool(sp["continuous"]), int(sp["offset"]), int(sp["width"]), arrays[f"span{k}.values"],
              arrays.get(f"span{k}.stds"))
        for k, sp in enumerate(meta["spans"])
    )


def generator_forward(generator: torch.nn.Module, z: torch.Tensor, batch_size: int, *,
                      running_stats: bool = False) -> torch.Tensor:
    """CTGAN's generator on ``z`` (rows a multiple of ``batch_size``), training-mode BatchNorm per batch
    (``running_stats``: eval-mode BatchNorm, with the statistics kept during training, for every row).

    Equal to calling ``generator`` on each ``batch_size`` slice in training mode, but one matrix
    product per layer for all slices, no autograd, and BatchNorm's running statistics untouched.
    A Residual layer's output is ``[relu(bn(fc(x))), x]``; rather than copying that concatenation,
    each later layer multiplies every part by its own slice of the weight matrix.
    """
    layers = list(generator.seq)
    parts = [z]  # the concatenated input, newest part first
    steps = z.shape[0] // batch_size

    def linear(fc: torch.nn.Linear) -> torch.Tensor:
        out, start = None, 0
        for part in parts:
            w = fc.weight[:, start : start + part.shape[1]]
            out = F.linear(part, w, fc.bias) if out is None else out.addmm_(part, w.t())
            start += part.shape[1]
        return out

    for layer in layers[:-1]:  # Residual(fc, bn, relu)
        h = linear(layer.fc)
        bn = layer.bn
        if running_stats:
            h = F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, training=False, eps=bn.eps)
        else:
            h = torch.cat([F.batch_norm(h[i * batch_size : (i + 1) * batch_size], None, None, bn.weight, bn.bias,
                                        training=True, eps=bn.eps) for i in range(steps)])
        parts.insert(0, torch.relu_(h))
    return linear(layers[-1])


def decode(layout: CTGANLayout, logits: torch.Tensor,
           pick: Callable[[torch.Tensor], np.ndarray]) -> dict[str, np.ndarray]:
    """Generator output -> model-space columns (continuous values and category values).

    ``pick`` chooses one position per row from a softmax span's logits (``draw`` samples it).
    """
    n = logits.shape[0]
    out: dict[str, np.ndarray] = {}
    for span in layout.spans:
        block = logits[:, span.offset : span.offset + span.width]
        if span.continuous:
            mode = pick(block[:, 1:])
            alpha = torch.tanh(block[:, 0]).clamp_(-1.0, 1.0).numpy().astype(np.float64)
            out[span.name] = alpha * 4.0 * span.stds[mode] + span.values[mode]
        else:
            out[span.name] = span.values[pick(block)] if span.width > 1 else np.repeat(span.values, n)
    return out


def draw(logits: torch.Tensor, generator: torch.Generator) -> np.ndarray:
    """One draw per row from softmax(logits) (what the argmax of ctgan's Gumbel-softmax sample is),
    by inverting the cumulative probabilities with one uniform number per row."""
    cdf = torch.softmax(logits, dim=1).cumsum_(dim=1)
    u = torch.rand(logits.shape[0], 1, generator=generator) * cdf[:, -1:]
    return (cdf <= u).sum(dim=1).clamp_(max=logits.shape[1] - 1).numpy()


def sample_model_frame(model: Any, layout: CTGANLayout, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` rows from a fitted ctgan ``CTGAN`` model, as model-space columns keyed by name."""
    return sample_frame(model._generator, int(model._batch_size), int(model._embedding_dim), layout, n, seed)


def condition_probs(layout: CTGANLayout, column: str, codes: np.ndarray) -> np.ndarray | None:
    """Conditional-vector probabilities that ask for ``codes`` of discrete column ``column``: those positions
    with their training frequencies, renormalised (one code: always that position); None when the column
    is not a discrete one or none of the codes is among its categories.

    A position is the column's start in the vector plus the category's place in its span (what ctgan's
    ``sample_condvec`` trains on; its ``generate_cond_from_condition_column_info`` adds
    ``_discrete_column_matrix_st``, which ctgan never fills, so it points into the first column:
    sdv-dev/CTGAN#169, #273).
    """
    if layout.cond_probs is None or len(layout.cond_probs) != layout.n_cond:
        return None
    start = 0
    for span in layout.spans:
        if span.continuous:
            continue
        if span.name == column:
            wanted = {int(c) for c in np.asarray(codes).ravel()}
            hit = np.array([int(v) in wanted for v in np.asarray(span.values).ravel()], dtype=bool)
            if not hit.any():
                return None
            probs = np.zeros(layout.n_cond)
            probs[start + np.flatnonzero(hit)] = layout.cond_probs[start + np.flatnonzero(hit)]
            return probs / probs.sum()
        start += span.width
    return None


def sample_frame(generator_net: torch.nn.Module, batch: int, embedding_dim: int, layout: CTGANLayout, n: int,
                 seed: int, cond_probs: np.ndarray | None = None, running_stats: bool = False) -> dict[str, np.ndarray]:
    """``n`` rows from CTGAN's generator network (trained batch size, noise width and layout given).

    ``cond_probs`` (``condition_probs``) replaces the training frequencies the conditional vector is drawn
    from, to ask the generator for chosen categories."""
    rows = -(-n // batch) * batch  # whole batches, as ctgan draws them; the surplus is dropped
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        z = torch.randn(rows, embedding_dim, generator=generator)
        if layout.cond_probs is not None:
            probs = layout.cond_probs if cond_probs is None else cond_probs
            cond = torch.zeros(rows, layout.n_cond)
            picks = torch.multinomial(torch.from_numpy(probs), rows, replacement=True, generator=generator)
            cond[torch.arange(rows), picks] = 1.0
            z = torch.cat([z, cond], dim=1)
        logits = generator_forward(generator_net, z, batch, running_stats=running_stats)[:n]
        return decode(layout, logits, lambda block: draw(block, generator))
