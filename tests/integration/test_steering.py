"""Steering on both backends with a tiny model: exact moves, no-op parity, determinism, clean-up."""

from __future__ import annotations

import pytest
import torch

from edshook.backends import make_backend
from edshook.errors import PolicyMismatchError, SiteError
from edshook.interventions import EnergyModel, EnergySteering, ModelSpec, PositionSelector, StepSchedule
from tests.conftest import LIBRARIES, make_tiny_model
from tests.helpers import Explode, FullRecorder, QuadraticEnergy, hook_count

PROMPTS = ["How do I kill a Python process?", "hello", "Write hello world in C.", "bomb", "energy steering"]


def quadratic_policy(step_size=0.8, layer=2, positions=PositionSelector()):
    torch.manual_seed(1)
    return EnergySteering(
        {layer: QuadraticEnergy(torch.randn(64))},
        schedule=StepSchedule(steps=1, step_size=step_size),
        positions=positions,
    )


@pytest.mark.parametrize("prompt_positions", ["last", "all"])
def test_one_step_moves_exactly_by_the_formula(tiny_backend, prompt_positions):
    policy = quadratic_policy(positions=PositionSelector(prompt_positions))
    before, after = FullRecorder([1, 2, 3]), FullRecorder([1, 2])
    with tiny_backend.steer(before, policy, after):
        tiny_backend.logits(PROMPTS, progress=False)
    order = sorted(range(len(PROMPTS)), key=lambda i: (len(tiny_backend.format(PROMPTS[i])), i))
    batch = tiny_backend.encode([PROMPTS[i] for i in order])  # the batch as the backend ran it
    h = before.states[2]
    center = policy.energy(2).center
    moved = h - 0.8 * (h - center) / ((h - center).norm(dim=-1, keepdim=True) + 1e-8)
    selected = batch.attention_mask.bool()
    if prompt_positions == "last":
        selected = torch.zeros_like(selected)
        selected[:, -1] = True
    expected = torch.where(selected[..., None], moved, h)
    assert (after.states[2] - expected).abs().max() < 1e-5
    assert torch.equal(after.states[1], before.states[1]), "layers before the steered one are untouched"


def test_step_size_zero_gives_identical_logits(tiny_backend):
    plain = tiny_backend.logits(PROMPTS, progress=False)
    with tiny_backend.steer(quadratic_policy(step_size=0.0)):
        steered = tiny_backend.logits(PROMPTS, progress=False)
    assert torch.equal(plain, steered)
    with tiny_backend.steer(quadratic_policy(step_size=5.0)):
        moved = tiny_backend.logits(PROMPTS, progress=False)
    assert not torch.allclose(plain, moved)


def test_backends_generate_identically_under_a_policy():
    answers = {}
    for library in LIBRARIES:
        backend = make_backend(make_tiny_model(), library)
        with backend.steer(quadratic_policy(step_size=3.0), record=True) as handle:
            answers[library] = backend.generate(PROMPTS, max_new_tokens=16, progress=False)
        phases = {record.phase for record in handle.trace.records}
        assert phases == {"prefill", "decode"}
    assert answers["transformer_lens"] == answers["nnsight"]


def test_steering_is_deterministic(tiny_backend):
    torch.manual_seed(0)
    policy = EnergySteering(
        {1: EnergyModel(64, hidden=(32,), dropout=0.5)}, schedule=StepSchedule(steps=3, step_size=2.0)
    )
    policy.train()  # dropout must not make steering random
    runs = []
    for _ in range(3):
        with tiny_backend.steer(policy):
            runs.append(tiny_backend.generate(PROMPTS, max_new_tokens=10, progress=False))
    assert runs[0] == runs[1] == runs[2]


def test_trace_records_energy_before_and_after(tiny_backend):
    with tiny_backend.steer(quadratic_policy(), record=True) as handle:
        tiny_backend.generate(PROMPTS[:2], max_new_tokens=3, progress=False)
    prefill = [r for r in handle.trace.records if r.phase == "prefill"]
    assert len(prefill) == 2 and all(r.energy_after < r.energy_before for r in prefill)


def test_no_hooks_left_after_an_exception(tiny_backend):
    baseline = hook_count(tiny_backend)
    plain = tiny_backend.logits(PROMPTS, progress=False)
    with pytest.raises(RuntimeError, match="boom"), tiny_backend.steer(quadratic_policy(step_size=5.0), Explode(3)):
        tiny_backend.generate(PROMPTS, max_new_tokens=4, progress=False)
    assert hook_count(tiny_backend) == baseline
    assert tiny_backend.attached == ()
    assert torch.equal(tiny_backend.logits(PROMPTS, progress=False), plain)


def test_handle_remove_and_nesting(tiny_backend):
    first, second = quadratic_policy(layer=1), quadratic_policy(layer=2)
    outer = tiny_backend.steer(first)
    with tiny_backend.steer(second) as inner:
        assert tiny_backend.attached == (outer, inner)
        assert set(inner.addresses) == set(second.sites)
    assert tiny_backend.attached == (outer,)
    outer.remove()
    outer.remove()
    assert tiny_backend.attached == ()


def test_policy_for_another_model_is_refused(tiny_backend):
    wrong_width = EnergySteering({1: EnergyModel(32, hidden=(8,))})
    with pytest.raises(PolicyMismatchError, match="d_model"):
        tiny_backend.steer(wrong_width)
    other = EnergySteering({1: EnergyModel(64, hidden=(8,))}, model=ModelSpec("other-model", 4, 64))
    with pytest.raises(PolicyMismatchError, match="model id"):
        tiny_backend.steer(other)
    with pytest.raises(SiteError, match="out of range"):
        tiny_backend.steer(quadratic_policy(layer=7))
    assert tiny_backend.attached == ()


def test_conditional_policy_routes_each_prompt_the_same_way_on_both_backends():
    """Prompts the probe calls harmful get the harmful policy's answers, the others the benign one's, on both
    backends."""
    from edshook.interventions import ConditionalSteering, LinearProbe

    torch.manual_seed(3)
    probe = LinearProbe(1, 64)
    torch.nn.init.normal_(probe.linear.weight, std=2.0)
    benign, harmful = quadratic_policy(step_size=4.0), quadratic_policy(step_size=4.0, layer=3)
    answers, scores = {}, {}
    for library in LIBRARIES:
        backend = make_backend(make_tiny_model(), library)
        states = backend.collect(PROMPTS, [1], progress=False)
        scores[library] = probe.probability(states)
        threshold = float(scores[library].median())
        policy = ConditionalSteering(probe, benign, harmful, benign_below=threshold, harmful_above=threshold)
        with backend.steer(policy, record=True) as handle:
            answers[library] = backend.generate(PROMPTS, max_new_tokens=8, progress=False)
        recorded = sorted(handle.trace.routes, key=lambda route: route.prompt)
        assert [r.prompt for r in recorded] == list(range(len(PROMPTS))), "routes follow the caller's prompt order"
        assert torch.allclose(torch.tensor([r.score for r in recorded]), scores[library], atol=1e-5)
        routed = []
        for index, is_harmful in enumerate((scores[library] > threshold).tolist()):
            with backend.steer(harmful if is_harmful else benign):
                routed.append(backend.generate([PROMPTS[index]], max_new_tokens=8, progress=False)[0])
        assert answers[library] == routed
        assert 0 < sum(scores[library] > threshold) < len(PROMPTS), "both routes are taken"
    assert answers["transformer_lens"] == answers["nnsight"]
    assert torch.allclose(scores["transformer_lens"], scores["nnsight"], atol=1e-5)


def test_nonfinite_energies_are_reported_once_per_run(tiny_backend):
    class Broken(torch.nn.Module):
        d_model = 64

        def forward(self, h):
            return h.sum(-1) * float("nan")

    policy = EnergySteering({2: Broken()}, schedule=StepSchedule(steps=2, step_size=1.0))
    plain = tiny_backend.generate(PROMPTS[:2], max_new_tokens=3, progress=False)
    with pytest.warns(RuntimeWarning, match="NaN or infinite") as caught, tiny_backend.steer(policy):
        steered = tiny_backend.generate(PROMPTS[:2], max_new_tokens=3, progress=False)
    assert steered == plain, "unsteerable states are left where they were"
    assert len([w for w in caught if "NaN" in str(w.message)]) == 1, "one warning per run, after it"


def test_energy_records_follow_the_callers_prompt_order(tiny_backend):
    with tiny_backend.steer(quadratic_policy(), record=True) as handle:
        tiny_backend.generate(PROMPTS, max_new_tokens=2, progress=False)
    prefill = [r for r in handle.trace.records if r.phase == "prefill"]
    assert sorted(r.prompt for r in prefill) == list(range(len(PROMPTS)))
    lengths = [len(tiny_backend.format(p)) for p in PROMPTS]
    assert lengths != sorted(lengths), "the backend batches by length, so the order must be mapped back"
