"""Our CTGAN sampling path against ctgan's and SDV's own, on a network trained on german credit.

Each step is checked exactly (same inputs, same numbers), and the whole sampler statistically
(same category frequencies as SDV's ``sample`` from the same trained network).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from synthgen.models import make_generator
from synthgen.models.ctgan_sampling import CTGANLayout, decode, draw, generator_forward, sample_model_frame
from synthgen.models.sdv_backend import _quiet, seeded


@pytest.fixture(scope="module")
def fitted(german_shared):
    gen = make_generator("ctgan", epochs=3, batch_size=100, verbose=False, random_state=0)
    return gen.fit(german_shared, target="class")


def _synth(gen):
    return gen.states_[0]["synthesizer"]


def test_forward_equals_ctgan_generator_per_batch_in_training_mode(fitted):
    model = _synth(fitted)._model
    batch = model._batch_size
    z = torch.randn(4 * batch, model._generator.seq[0].fc.in_features, generator=torch.Generator().manual_seed(0))
    reference = copy.deepcopy(model._generator).train()
    with torch.no_grad():
        expected = torch.cat([reference(z[i * batch : (i + 1) * batch]) for i in range(4)])
        running = model._generator.seq[0].bn.running_mean.clone()
        got = generator_forward(model._generator, z, batch)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(model._generator.seq[0].bn.running_mean, running)  # the saved model is not changed


def test_decode_equals_ctgan_and_sdv_inverse_transforms(fitted):
    synth = _synth(fitted)
    model = synth._model
    layout = CTGANLayout.of(model)
    logits = torch.randn(300, sum(s.width for s in layout.spans), generator=torch.Generator().manual_seed(1))
    argmax = lambda block: block.argmax(dim=1).numpy()
    ours = decode(layout, logits.clone(), argmax)
    # ctgan's activations with the same choices: tanh for alpha, a one-hot where the argmax is
    act = torch.zeros_like(logits)
    for span in layout.spans:
        block = logits[:, span.offset : span.offset + span.width]
        if span.continuous:
            act[:, span.offset] = torch.tanh(block[:, 0])
            first, choice = span.offset + 1, argmax(block[:, 1:])
        else:
            first, choice = span.offset, argmax(block)
        act[np.arange(len(act)), first + choice] = 1.0
    with _quiet():
        theirs = synth._data_processor.reverse_transform(model._transformer.inverse_transform(act.numpy()))
    assert list(ours) == list(theirs.columns)
    for name in theirs.columns:
        np.testing.assert_allclose(ours[name].astype(float), theirs[name].to_numpy(dtype=float), rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_draw_follows_softmax_probabilities():
    logits = torch.tensor([[2.0, 0.0, -1.0, 1.0]]).repeat(200_000, 1)
    picks = draw(logits, torch.Generator().manual_seed(3))
    freq = np.bincount(picks, minlength=4) / len(picks)
    np.testing.assert_allclose(freq, torch.softmax(logits[0], 0).numpy(), atol=0.005)
    assert picks.min() >= 0 and picks.max() <= 3


def test_same_distribution_as_sdv_sample(fitted):
    synth = _synth(fitted)
    n = 20_000
    ours = sample_model_frame(synth._model, CTGANLayout.of(synth._model), n, seed=5)
    with _quiet(), seeded(5):
        theirs = synth.sample(n)["rare"]
    for name in theirs.columns:
        if name.startswith("c"):
            tvd = 0.5 * (pd.Series(ours[name]).value_counts(normalize=True)
                         .sub(theirs[name].value_counts(normalize=True), fill_value=0).abs().sum())
            assert tvd < 0.03, name
        else:
            assert abs(np.mean(ours[name]) - theirs[name].mean()) < 0.05, name
            assert abs(np.std(ours[name]) / theirs[name].std() - 1) < 0.05, name


def test_sampling_is_seeded_and_leaves_the_model_unchanged(fitted):
    before = {k: v.clone() for k, v in _synth(fitted)._model._generator.state_dict().items()}
    a, b = fitted.sample(700, random_state=4), fitted.sample(700, random_state=4)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(fitted.sample(700, random_state=5))
    after = _synth(fitted)._model._generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
