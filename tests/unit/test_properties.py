"""Property-based tests: policy files round-trip, malformed ones fail cleanly, selections stay in range."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edshook.errors import EdshookError, PolicyError, SiteError
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

SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

schedules = st.builds(
    StepSchedule,
    steps=st.integers(0, 20),
    step_size=st.floats(0, 10, allow_nan=False),
    decay=st.floats(0.1, 1.0),
    gated=st.booleans(),
)
positions = st.builds(
    PositionSelector,
    prompt=st.sampled_from(["last", "all", "none"]),
    generated=st.booleans(),
    max_generated=st.none() | st.integers(0, 50),
)
caps = st.none() | st.floats(0, 100, allow_nan=False)


@SLOW
@given(
    layers=st.sets(st.integers(0, 5), min_size=1, max_size=3),
    schedule=schedules,
    positions=positions,
    max_move=caps,
    max_relative_move=caps,
    with_projection=st.booleans(),
    metadata=st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3),
)
def test_policy_round_trips(
    tmp_path_factory, layers, schedule, positions, max_move, max_relative_move, with_projection, metadata
):
    folder = tmp_path_factory.mktemp("policy")
    spec = ModelSpec("m", 6, 8)
    constraint = NormConstraint(
        max_move=max_move,
        max_relative_move=max_relative_move,
        project_out=torch.randn(2, 8) if with_projection else None,
    )
    policy = EnergySteering(
        {layer: EnergyModel(8, hidden=(4,)) for layer in layers},
        gates={layer: 0.1 * layer for layer in layers},
        schedule=schedule,
        constraint=constraint,
        positions=positions,
        model=spec,
        metadata=metadata,
    )
    policy.save(folder)
    loaded = EnergySteering.load(folder, model=spec)
    assert loaded.layers == policy.layers and loaded.schedule == schedule and loaded.positions == positions
    assert loaded.constraint.to_json() == constraint.to_json() and loaded.metadata == metadata
    assert loaded.gates == policy.gates
    h = torch.randn(3, 8)
    for layer in layers:
        assert torch.equal(loaded.descend(layer, h).states, policy.descend(layer, h).states)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)


@pytest.fixture(scope="module")
def good_policy(tmp_path_factory):
    folder = tmp_path_factory.mktemp("good")
    EnergySteering({1: EnergyModel(8, hidden=(4,))}, model=ModelSpec("m", 4, 8)).save(folder)
    return folder


@SLOW
@given(
    key=st.sampled_from(["layers", "energies", "schedule", "constraint", "positions", "model", "metadata"]),
    value=json_values,
)
def test_malformed_policy_files_fail_with_a_policy_error(tmp_path_factory, good_policy, key, value):
    folder = tmp_path_factory.mktemp("bad")
    shutil.copytree(good_policy, folder, dirs_exist_ok=True)
    record = json.loads((folder / "policy.json").read_text())
    record[key] = value
    (folder / "policy.json").write_text(json.dumps(record))
    try:
        loaded = EnergySteering.load(folder, model=ModelSpec("m", 4, 8))
    except EdshookError:
        return
    # Whatever loads is taken exactly as written: saving it again gives back the same value.
    resaved = tmp_path_factory.mktemp("resaved")
    loaded.save(resaved)
    assert json.loads((resaved / "policy.json").read_text())[key] == value


@SLOW
@given(text=st.binary(max_size=200))
def test_any_bytes_as_policy_json_fail_cleanly(tmp_path_factory, good_policy, text):
    folder = tmp_path_factory.mktemp("bytes")
    shutil.copytree(good_policy, folder, dirs_exist_ok=True)
    (folder / "policy.json").write_bytes(text)
    with pytest.raises(PolicyError):
        EnergySteering.load(folder)


@given(layers=st.lists(st.integers(-40, 40), min_size=1, max_size=6), n_layers=st.integers(1, 30))
def test_explicit_layer_selection_is_in_range_or_an_error(layers, n_layers):
    try:
        chosen = LayerSelector.explicit(layers).resolve(n_layers)
    except SiteError:
        assert any(not -n_layers <= layer < n_layers for layer in layers)
        return
    assert all(0 <= layer < n_layers for layer in chosen) and list(chosen) == sorted(set(chosen))


@given(
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=5),
    prompt=st.sampled_from(["last", "all", "none"]),
    generated=st.booleans(),
    phase=st.sampled_from(["prefill", "decode"]),
)
def test_position_masks_never_select_padding(lengths, prompt, generated, phase):
    width = 1 if phase == "decode" else max(lengths)
    real = torch.zeros(len(lengths), width, dtype=torch.bool)
    for row, length in enumerate(lengths):
        real[row, width - min(length, width) :] = True
    mask = PositionSelector(prompt, generated).mask(SiteCall(Site(0), phase, 0, real))
    assert not bool((mask & ~real).any())


def test_bad_selector_and_schedule_values_are_rejected():
    with pytest.raises(ValueError):
        PositionSelector("first")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        StepSchedule(step_size=float("nan"))
    with pytest.raises(ValueError):
        StepSchedule(steps=2.5)  # type: ignore[arg-type]
