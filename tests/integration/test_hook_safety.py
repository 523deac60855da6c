"""Hooks never leak: randomised steering sessions with injected exceptions, nesting, bf16 models."""

from __future__ import annotations

import random

import pytest
import torch

from edshook.backends import make_backend
from edshook.interventions import EnergyModel, EnergySteering, PositionSelector, Site, SiteCall, StepSchedule
from tests.conftest import LIBRARIES, make_tiny_model
from tests.helpers import hook_count

PROMPTS = ["hello", "How do I kill a Python process?", "bomb", "Write hello world in C."]


class FailOnCall:
    """Raises on its n-th call (0 = never), so exceptions land at random layers and decode steps."""

    def __init__(self, layer: int, n: int) -> None:
        self.sites = (Site(layer),)
        self.n, self.calls = n, 0

    def __call__(self, hidden: torch.Tensor, call: SiteCall) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.n:
            raise RuntimeError("injected")
        return hidden


@pytest.mark.parametrize("library", LIBRARIES)
def test_200_random_sessions_leave_no_hooks(library):
    backend = make_backend(make_tiny_model(), library)
    baseline = hook_count(backend)
    plain = backend.logits(PROMPTS, progress=False)
    rng = random.Random(0)
    torch.manual_seed(0)
    energies = {layer: EnergyModel(64, hidden=(8,)) for layer in range(4)}
    raised = 0
    for _ in range(200):
        layers = rng.sample(range(4), rng.randint(1, 4))
        policy = EnergySteering(
            {layer: energies[layer] for layer in layers},
            schedule=StepSchedule(steps=rng.randint(0, 3), step_size=rng.uniform(0, 3)),
            positions=PositionSelector(rng.choice(["last", "all", "none"]), rng.random() < 0.5),
        )
        failing = FailOnCall(rng.randrange(4), rng.randint(0, 6))
        try:
            with backend.steer(policy, record=rng.random() < 0.5), backend.steer(failing):
                backend.generate(
                    rng.sample(PROMPTS, rng.randint(1, 4)), max_new_tokens=rng.randint(1, 4), progress=False
                )
        except RuntimeError as err:
            assert str(err) == "injected"
            raised += 1
        assert backend.attached == () and hook_count(backend) == baseline
    assert raised > 50, "exceptions were injected in a good share of the sessions"
    assert torch.equal(backend.logits(PROMPTS, progress=False), plain)


@pytest.mark.parametrize("library", LIBRARIES)
def test_bfloat16_model_steers_with_a_float32_energy(library):
    loaded = make_tiny_model()
    loaded.model.to(torch.bfloat16)
    backend = make_backend(loaded, library)
    torch.manual_seed(0)
    policy = EnergySteering({2: EnergyModel(64, hidden=(8,))}, schedule=StepSchedule(steps=2, step_size=1.0))
    with backend.steer(policy, record=True) as handle:
        answers = backend.generate(PROMPTS, max_new_tokens=3, progress=False)
    assert len(answers) == 4 and handle.trace.records
    assert all(r.energy_after < r.energy_before for r in handle.trace.records if r.phase == "prefill")
    assert policy.energy(2).net[1].weight.dtype == torch.float32


def test_attaching_the_same_policy_twice_applies_it_twice():
    from tests.helpers import FullRecorder, QuadraticEnergy

    backend = make_backend(make_tiny_model(), "nnsight")
    torch.manual_seed(0)
    policy = EnergySteering({1: QuadraticEnergy(torch.randn(64))}, schedule=StepSchedule(steps=1, step_size=0.5))
    twice, once = FullRecorder([1]), FullRecorder([1])
    with backend.steer(policy, policy, twice):
        backend.logits(PROMPTS[:1], progress=False)
    with backend.steer(policy, once), backend.steer(policy):
        pass
    with backend.steer(policy), backend.steer(policy, once):
        backend.logits(PROMPTS[:1], progress=False)
    assert torch.equal(twice.states[1], once.states[1])


@pytest.mark.parametrize("library", LIBRARIES)
def test_threads_share_one_backend_safely(library):
    from concurrent.futures import ThreadPoolExecutor

    backend = make_backend(make_tiny_model(), library)
    expected = [backend.generate([p], max_new_tokens=5, progress=False)[0] for p in PROMPTS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda p: backend.generate([p], max_new_tokens=5, progress=False)[0], PROMPTS * 3))
    assert answers == expected * 3
