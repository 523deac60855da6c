"""EBM training on synthetic activations: losses, calibration, ranking, errors."""

from __future__ import annotations

import pytest
import torch

from edshook.errors import PolicyMismatchError, TrainingError
from edshook.interventions import ModelSpec
from edshook.judges import Label
from edshook.training import ActivationSet, TrainConfig, calibrate, info_nce, logistic, train_energies

SPEC = ModelSpec("synthetic", 3, 16)


def synthetic(n=240, separation=(0.0, 3.0, 0.5), seed=0) -> ActivationSet:
    """Three layers; layer l separates desirable from undesirable states by ``separation[l]``."""
    generator = torch.Generator().manual_seed(seed)
    bad = torch.arange(n) % 3 == 0
    states = torch.randn(n, 3, 16, generator=generator)
    for layer, gap in enumerate(separation):
        states[bad, layer, 0] += gap
    labels = tuple(Label.FALSE_REFUSAL if b else Label.HELPFUL for b in bad.tolist())
    return ActivationSet(states, (0, 1, 2), tuple(f"s:{i}" for i in range(n)), labels, SPEC)


def test_losses_prefer_low_energy_for_good_states():
    good, bad = torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 2.0, 3.0])
    assert info_nce(good, bad) < info_nce(bad[:2], good)
    assert logistic(good, bad) < logistic(bad[:2], good)
    assert torch.allclose(info_nce(good + 5, bad + 5), info_nce(good, bad)), "InfoNCE is shift-invariant"


def test_calibrate_threshold_accuracy_and_auc():
    threshold, accuracy, auc = calibrate(torch.tensor([0.0, 1.0, 2.0]), torch.tensor([3.0, 4.0]))
    assert 2.0 < threshold < 3.0 and accuracy == 1.0 and auc == 1.0
    _, accuracy, auc = calibrate(torch.tensor([0.0, 3.5]), torch.tensor([3.0, 4.0]))
    assert accuracy == 0.75 and auc == 0.75
    _, accuracy, auc = calibrate(torch.zeros(5), torch.zeros(3))
    assert accuracy == 0.5 and auc == 0.5, "equal energies separate nothing"


def test_calibrate_reads_float_rounding_as_a_tie():
    """One state scored in two batches differs in the last bits (seen on CPU matmuls); that separates nothing."""
    good, bad = torch.full((10,), 0.6047424077987671), torch.full((8,), 0.6047422885894775)
    _, accuracy, auc = calibrate(good, bad)
    assert accuracy == 0.5 and auc == 0.5
    threshold, accuracy, _ = calibrate(torch.tensor([0.0, 1.0, 1.0 + 1e-6]), torch.tensor([1.0 + 2e-6, 3.0]))
    assert 1.0 + 2e-6 < threshold < 3.0 and accuracy == 0.75


def test_a_layer_whose_states_are_all_equal_scores_chance():
    """Like layer 0 under a chat template: every prompt ends in the same token, so its input is the same.

    At this width the CPU's matmul rounds one state differently by batch row, and a threshold on
    the raw energies read that rounding as a signal.
    """
    n, width = 90, 896
    same = torch.randn(width, generator=torch.Generator().manual_seed(0)).expand(n, 1, width).contiguous()
    labels = tuple(Label.FALSE_REFUSAL if i % 3 == 0 else Label.HELPFUL for i in range(n))
    data = ActivationSet(same, (0,), tuple(f"s:{i}" for i in range(n)), labels, ModelSpec("synthetic", 1, width))
    report = train_energies(data, config=TrainConfig(hidden=(128,), max_epochs=2), progress=False).reports[0]
    assert report.val_accuracy == 0.5 and report.val_auc == 0.5


@pytest.mark.parametrize("loss", ["infonce", "logistic"])
def test_training_ranks_the_separating_layer_first(loss):
    trained = train_energies(
        synthetic(), config=TrainConfig(hidden=(32,), loss=loss, lr=3e-3, max_epochs=40), progress=False
    )
    assert trained.ranked()[0] == 1
    assert trained.reports[1].val_accuracy > 0.85 > trained.reports[0].val_accuracy
    assert set(trained.train_ids).isdisjoint(trained.val_ids)
    policy = trained.policy(1, activations=synthetic())
    assert policy.layers == (1,) and policy.gates == {1: trained.reports[1].energy_threshold}
    assert policy.metadata["label_counts"]["false_refusal"] == 80


def test_training_is_reproducible():
    config = TrainConfig(hidden=(16,), max_epochs=3)
    a = train_energies(synthetic(), [1], config, progress=False).energies[1].state_dict()
    b = train_energies(synthetic(), [1], config, progress=False).energies[1].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_one_class_cannot_train():
    data = synthetic()
    helpful = ActivationSet(data.states, data.layers, data.ids, (Label.HELPFUL,) * len(data), SPEC)
    with pytest.raises(TrainingError, match=r"need.* both classes"):
        train_energies(helpful, progress=False)


def test_activation_cache_round_trip_and_model_check(tmp_path):
    data = synthetic(n=30)
    data.save(tmp_path / "run")
    loaded = ActivationSet.load(tmp_path / "run")
    assert torch.equal(loaded.states, data.states) and loaded.labels == data.labels
    loaded.check_model(SPEC)
    with pytest.raises(PolicyMismatchError, match="edshook collect"):
        loaded.check_model(ModelSpec("qwen2.5-coder-0.5b-instruct", 24, 896))


def test_validation_draw_is_independent_of_hash_based_splits():
    """Ids already chosen by a split hash (as the standard train part is) still give ~20% validation."""
    from edshook.data.prompts import id_hash

    data = synthetic(n=3000)
    kept = [i for i, name in enumerate(data.ids) if id_hash(0, name) < 0.6]
    subset = ActivationSet(
        data.states[kept], data.layers, tuple(data.ids[i] for i in kept), tuple(data.labels[i] for i in kept), SPEC
    )
    trained = train_energies(subset, [1], TrainConfig(hidden=(8,), max_epochs=1), progress=False)
    assert 0.17 < len(trained.val_ids) / len(subset) < 0.23
