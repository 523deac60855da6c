"""Metrics and baseline interventions on known inputs."""

from __future__ import annotations

import pytest
import torch

from edshook.baselines import ActivationAddition, DirectionalAblation, orthogonalise
from edshook.data import Prompt, PromptSet
from edshook.errors import DataError
from edshook.evaluation import Rate, kl_divergence, set_kind, wilson_interval
from edshook.interventions import Site, SiteCall


def test_wilson_interval_known_values():
    low, high = wilson_interval(8, 10)
    assert round(low, 4) == 0.4902 and round(high, 4) == 0.9433
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0
    low, high = wilson_interval(50, 100)
    assert abs((low + high) / 2 - 0.5) < 1e-12 and round(high - low, 3) == 0.192
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_rates_count_the_right_thing():
    refused = [True, False, False, False]
    assert Rate.of(refused).rate == 0.25
    compliance = Rate.of([not r for r in refused])
    assert compliance.rate == 0.75 and compliance.n == 4 and compliance.ci95[0] < 0.75 < compliance.ci95[1]
    assert compliance.to_json() == {"n": 4, "count": 3, "rate": 0.75, "ci95": [round(x, 4) for x in compliance.ci95]}
    assert compliance.percent() == "75.0% [30, 95]"
    with pytest.raises(ValueError, match="at least one"):
        Rate.of([])


def test_set_kind_rejects_mixed_sets():
    harmful = PromptSet("h", (Prompt("h:0", "x", True, "h"),))
    benign = PromptSet("b", (Prompt("b:0", "y", False, "b"),))
    assert set_kind(harmful) == "harmful" and set_kind(benign) == "benign"
    with pytest.raises(DataError, match="mixes"):
        set_kind(PromptSet("m", harmful.prompts + benign.prompts))


def call(real):
    return SiteCall(Site(0), "prefill", 0, real)


def test_directional_ablation_removes_the_component_at_real_tokens_only():
    direction = torch.tensor([3.0, 4.0, 0.0])
    hidden = torch.randn(2, 3, 3)
    real = torch.tensor([[False, True, True], [True, True, True]])
    out = DirectionalAblation(direction, [0])(hidden, call(real))
    unit = direction / 5
    assert torch.allclose(out[real] @ unit, torch.zeros(5), atol=1e-6)
    assert torch.equal(out[0, 0], hidden[0, 0])
    with pytest.raises(ValueError, match="non-zero"):
        DirectionalAblation(torch.zeros(3), [0])


def test_activation_addition_shifts_real_tokens():
    out = ActivationAddition(torch.tensor([1.0, 0.0]), layer=0, coefficient=-2.0)(
        torch.zeros(1, 2, 2), call(torch.tensor([[False, True]]))
    )
    assert out.tolist() == [[[0.0, 0.0], [-2.0, 0.0]]]


def test_kl_and_orthogonalise():
    logits = torch.randn(4, 10)
    assert torch.allclose(kl_divergence(logits, logits), torch.zeros(4), atol=1e-6)
    assert (kl_divergence(logits, torch.zeros(4, 10)) > 0).all()
    v = orthogonalise(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 0.0]))
    assert v.tolist() == [0.0, 1.0]


@pytest.mark.parametrize("name", ["answers.jsonl", "answers.jsonl.gz"])
def test_answers_round_trip_through_a_str_path(tmp_path, name):
    from edshook.evaluation import read_answers, write_answers

    rows = [{"id": "s:1", "answer": "naïve"}, {"id": "s:2", "answer": ""}]
    written = write_answers(rows, str(tmp_path / "deep" / name))
    assert written == tmp_path / "deep" / name and read_answers(str(written)) == rows
