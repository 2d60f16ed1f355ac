"""Sampling a fitted TVAE decoder as SDV's ``TVAESynthesizer.sample`` does, step for step, without SDV.

For a seed, SDV (after ``_set_random_state(seed)``) and ctgan's ``TVAE.sample`` do:

- noise: ``samples // batch_size + 1`` batches of ``torch.normal(0, 1)`` of shape (batch_size,
  embedding_dim) from ``torch.Generator().manual_seed(seed)``; each batch through the decoder (its
  ``Linear``/``ReLU`` stack, called per batch), ``tanh``, the first ``samples`` rows kept;
- each continuous column (in the transformer's order): the mode is the argmax of its mode block,
  the value ``clip(normal(tanh_alpha, sigma), -1, 1) * 4 * std[mode] + mean[mode]`` with the normal
  drawn from ``RandomState(seed)`` (numpy's global generator in ctgan, seeded the same way), sigma the
  decoder's learned ``sigma`` at the span's first position;
- each discrete column: the category at the argmax of its block (after ``tanh``, as ctgan decodes it).

SDV's reverse transforms are the identity on model space (no rounding, no clipping, no missing values;
categories pass through). ``tests/test_estimator_api.py`` checks the rows equal SDV's for a fitted model.
Needing only the decoder's weights and the spans' numbers lets a saved TVAE be a torch state_dict plus
arrays, read without unpickling.
"""

from __future__ import annotations

import numpy as np
import torch

from .ctgan_sampling import _Span

__all__ = ["sample_tvae_frame"]


def sample_tvae_frame(decoder: torch.nn.Module, batch_size: int, embedding_dim: int, spans: tuple[_Span, ...],
                      n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` rows from a TVAE decoder as model-space columns keyed by name (SDV's rows for ``seed``)."""
    generator = torch.Generator().manual_seed(seed)
    random_state = np.random.RandomState(seed)
    was_training = decoder.training
    decoder.eval()
    try:
        with torch.no_grad():
            parts = []
            for _ in range(n // batch_size + 1):
                mean = torch.zeros(batch_size, embedding_dim)
                std = mean + 1
                noise = torch.normal(mean=mean, std=std, generator=generator)
                fake, sigmas = decoder(noise)
                parts.append(torch.tanh(fake).numpy())
            sigmas = sigmas.numpy()
    finally:
        decoder.train(was_training)
    data = np.concatenate(parts, axis=0)[:n]
    out: dict[str, np.ndarray] = {}
    for span in spans:
        block = data[:, span.offset : span.offset + span.width]
        if span.continuous:
            alpha = block[:, 0].astype(np.float64)
            mode = np.argmax(block[:, 1:], axis=1)
            normalized = np.clip(random_state.normal(alpha, sigmas[span.offset]), -1, 1)
            out[span.name] = normalized * 4 * span.stds[mode] + span.values[mode]
        else:
            out[span.name] = np.asarray(span.values)[np.argmax(block, axis=1)]
    return out
