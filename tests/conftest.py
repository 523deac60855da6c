"""Shared fixtures: a tiny random Llama-style model with its own tokenizer, and the real embedded Qwen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from edshook.models.synthetic import CHAT_TEMPLATE, random_model, synthetic_tokenizer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "EDSHOOK_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["EDSHOOK_DATA"] = str(SHARED_DATA)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# Property tests check behaviour, not speed: on a loaded CI machine one example can take longer than
# Hypothesis' default 200 ms deadline, which would fail a correct test.
settings.register_profile("edshook", deadline=None)
settings.load_profile("edshook")


def make_tiny_tokenizer(chat_template: str | None = CHAT_TEMPLATE):
    """A byte-level BPE tokenizer trained on a few sentences, with a small chat template."""
    return synthetic_tokenizer(chat_template)


def make_tiny_model(seed: int = 0, chat_template: str | None = CHAT_TEMPLATE, device: str = "cpu"):
    """A 4-layer Llama-style model with random weights, eager attention, float32."""
    return random_model("tiny-llama", seed=seed, chat_template=chat_template, device=device)


LIBRARIES = ("transformer_lens", "nnsight")
DEVICES = ("cpu", *(["cuda"] if torch.cuda.is_available() else []))
"""Every test over ``tiny_backend`` runs on each device present: the CPU always, a GPU when there is one."""


@pytest.fixture(params=[(library, device) for device in DEVICES for library in LIBRARIES], ids="-".join)
def tiny_backend(request):
    """A fresh backend of each library over its own tiny model (booting TransformerLens rewires the model)."""
    from edshook.backends import make_backend

    library, device = request.param
    return make_backend(make_tiny_model(device=device), library)


def real_loaded(name: str = "qwen2.5-coder-0.5b-instruct"):
    """The real model in float32 on every machine, so agreement checks hold to 1e-4 wherever they run."""
    import torch

    from edshook.models import load_model

    return load_model(name, dtype=torch.float32, attn_implementation="eager")


@pytest.fixture(scope="session")
def qwen_backends():
    """Both backends over the real Qwen, each with its own copy of the model."""
    from edshook.backends import NnsightBackend, TransformerLensBackend

    return {"transformer_lens": TransformerLensBackend(real_loaded()), "nnsight": NnsightBackend(real_loaded())}
