"""Intervention objects on synthetic tensors: selectors, schedule, constraint, energy, policy files."""

from __future__ import annotations

import json

import pytest
import torch

from edshook.errors import PolicyError, PolicyMismatchError, SiteError
from edshook.interventions import (
    EnergyModel,
    EnergySteering,
    LayerSelector,
    ModelSpec,
    NormConstraint,
    PositionSelector,
    Site,
    SiteCall,
    StepSchedule,
)
from tests.helpers import QuadraticEnergy


def test_layer_selector_modes():
    assert LayerSelector.explicit([3, -1, 3]).resolve(24) == (3, 23)
    assert LayerSelector.depth(0.5, 0.75).resolve(24) == tuple(range(12, 18))
    assert LayerSelector.top_k({1: 0.5, 2: 0.9, 7: 0.9, 9: 0.1}, k=2).resolve(24) == (2, 7)
    with pytest.raises(SiteError, match="out of range"):
        LayerSelector.explicit([24]).resolve(24)
    with pytest.raises(SiteError, match="holds no layer"):
        LayerSelector.depth(0.9, 0.95).resolve(4)


def call(phase="prefill", real=None):
    real = torch.tensor([[False, True, True], [True, True, True]]) if real is None else real
    return SiteCall(Site(0), phase, 0 if phase == "prefill" else 1, real)


def test_position_selector_never_selects_padding():
    last = PositionSelector("last").mask(call())
    assert last.tolist() == [[False, False, True], [False, False, True]]
    every = PositionSelector("all").mask(call())
    assert every.tolist() == [[False, True, True], [True, True, True]]
    decode = call("decode", torch.ones(2, 1, dtype=torch.bool))
    assert PositionSelector(generated=False).mask(decode).sum() == 0
    assert PositionSelector(generated=True).mask(decode).all()


def test_schedule_sizes_and_validation():
    assert StepSchedule(steps=3, step_size=2.0, decay=0.5).sizes() == (2.0, 1.0, 0.5)
    with pytest.raises(ValueError):
        StepSchedule(steps=-1)


def test_constraint_projection_and_caps():
    direction = torch.tensor([[1.0, 0.0, 0.0]])
    constraint = NormConstraint(project_out=direction)
    step = constraint.direction(torch.tensor([[3.0, 4.0, 0.0]]))
    assert torch.allclose(step, torch.tensor([[0.0, 1.0, 0.0]]))
    start = torch.tensor([[10.0, 0.0, 0.0]])
    capped = NormConstraint(max_relative_move=0.1).clamp(torch.tensor([[10.0, 5.0, 0.0]]), start)
    assert torch.allclose((capped - start).norm(), torch.tensor(1.0))
    capped = NormConstraint(max_move=0.5, max_relative_move=0.1).clamp(torch.tensor([[10.0, 5.0, 0.0]]), start)
    assert torch.allclose((capped - start).norm(), torch.tensor(0.5))


def test_descent_matches_formula_for_quadratic_energy():
    center = torch.randn(8)
    policy = EnergySteering({0: QuadraticEnergy(center)}, schedule=StepSchedule(steps=1, step_size=0.7))
    h = torch.randn(5, 8)
    expected = h - 0.7 * (h - center) / ((h - center).norm(dim=-1, keepdim=True) + 1e-8)
    assert (policy.descend(0, h).states - expected).abs().max() < 1e-5


def test_gated_descent_stops_below_threshold():
    ebm = QuadraticEnergy(torch.zeros(4))
    policy = EnergySteering({0: ebm}, gates={0: 1.1}, schedule=StepSchedule(steps=50, step_size=0.1, gated=True))
    near, far = torch.tensor([[0.5, 0, 0, 0]]), torch.tensor([[3.0, 0, 0, 0]])
    out = policy.descend(0, torch.cat([near, far]), measure_after=True)
    assert out.n_steps[0] == 0 and torch.equal(out.states[0], near[0])
    assert abs(float(out.after[1]) - 1.0) < 1e-4 and out.n_steps[1] == 20


def test_nonfinite_energy_leaves_state_unchanged():
    class Broken(torch.nn.Module):
        def forward(self, h):
            return torch.where(h[:, 0] > 0, torch.full_like(h[:, 0], float("nan")), (h**2).sum(-1))

    policy = EnergySteering({0: Broken()}, schedule=StepSchedule(steps=3, step_size=1.0))
    h = torch.tensor([[1.0, 2.0], [-1.0, 2.0]])
    out = policy.descend(0, h)
    assert torch.equal(out.states[0], h[0]) and out.nonfinite.tolist() == [True, False]
    assert not torch.equal(out.states[1], h[1])


def test_energy_model_shapes_and_eval_during_descent():
    ebm = EnergyModel(16, hidden=(32, 8), dropout=0.5).train()
    policy = EnergySteering({2: ebm}, schedule=StepSchedule(steps=2, step_size=0.1))
    h = torch.randn(4, 16)
    assert torch.equal(policy.descend(2, h).states, policy.descend(2, h).states)
    assert ebm.training, "the previous mode is restored"


def test_policy_round_trip(tmp_path):
    spec = ModelSpec("tiny", 4, 16)
    energies = {1: EnergyModel(16, hidden=(8,)), 3: EnergyModel(16, hidden=(8,))}
    policy = EnergySteering(
        energies,
        gates={1: 0.5, 3: -0.25},
        schedule=StepSchedule(steps=4, step_size=0.5, gated=True),
        constraint=NormConstraint(max_relative_move=0.2, project_out=torch.randn(2, 16)),
        positions=PositionSelector("all", generated=False),
        model=spec,
        metadata={"train_ids": ["a", "b"]},
    )
    policy.save(tmp_path / "p")
    loaded = EnergySteering.load(tmp_path / "p", model=spec)
    assert loaded.layers == (1, 3) and loaded.schedule == policy.schedule and loaded.positions == policy.positions
    assert loaded.gates[3] == -0.25 and loaded.metadata == {"train_ids": ["a", "b"]}
    assert torch.allclose(loaded.constraint.project_out, policy.constraint.project_out)
    h = torch.randn(3, 16)
    assert torch.equal(loaded.descend(1, h).states, policy.descend(1, h).states)


def test_policy_load_errors(tmp_path):
    spec = ModelSpec("tiny", 4, 16)
    EnergySteering({1: EnergyModel(16, hidden=(8,))}, model=spec).save(tmp_path / "p")
    with pytest.raises(PolicyMismatchError, match="d_model: policy 16, model 32"):
        EnergySteering.load(tmp_path / "p", model=ModelSpec("tiny", 4, 32))
    with pytest.raises(PolicyMismatchError, match="model id"):
        EnergySteering.load(tmp_path / "p", model=ModelSpec("other", 4, 16))
    with pytest.raises(PolicyError, match=r"policy.json is missing"):
        EnergySteering.load(tmp_path / "nothing")
    weights = tmp_path / "p" / "energies.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(PolicyError, match="checksum"):
        EnergySteering.load(tmp_path / "p")
    (tmp_path / "p" / "policy.json").write_text(json.dumps({"kind": "energy_steering", "format": 99}))
    with pytest.raises(PolicyError, match="format 99"):
        EnergySteering.load(tmp_path / "p")


def test_masked_descent_equals_descending_only_the_selected_rows():
    """The accelerator path (every row, masked updates, no early exit) gives what the CPU path gives."""
    torch.manual_seed(0)
    policy = EnergySteering(
        {0: EnergyModel(8, hidden=(16,))}, gates={0: -10.0}, schedule=StepSchedule(steps=4, step_size=0.5, gated=True)
    )
    states, active = torch.randn(6, 8), torch.tensor([True, False, True, True, False, True])
    masked = policy.descend(0, states, active=active, early_exit=False)
    compact = policy.descend(0, states[active])
    assert torch.equal(masked.states[active], compact.states) and torch.equal(masked.states[~active], states[~active])
    assert masked.n_steps[~active].tolist() == [0, 0]


def test_positions_window_and_max_generated():
    real = torch.tensor([[False, True, True], [True, True, True]])
    prefill = SiteCall(Site(0), "prefill", 0, real)
    assert PositionSelector("last").mask(prefill).tolist() == [[False, False, True], [False, False, True]]
    assert torch.equal(PositionSelector("all").mask(prefill), real)
    assert PositionSelector("none").window(prefill) is None
    first, late = (SiteCall(Site(0), "decode", step, torch.ones(2, 1, dtype=torch.bool)) for step in (2, 3))
    limited = PositionSelector(max_generated=2)
    assert limited.window(first) == 1 and limited.window(late) is None, "only the first two generated tokens"
    with pytest.raises(ValueError, match="max_generated"):
        PositionSelector(max_generated=-1)


def test_place_moves_each_energy_to_its_sites_device():
    policy = EnergySteering({1: EnergyModel(8, hidden=(4,)), 2: EnergyModel(8, hidden=(4,))})
    policy.place({Site(1): torch.device("cpu"), Site(2): torch.device("cpu")})
    assert {next(policy.energy(layer).parameters()).device.type for layer in (1, 2)} == {"cpu"}
    with pytest.raises(KeyError):
        policy.place({Site(1): torch.device("cpu")})  # a site without a device is a bug in the caller
