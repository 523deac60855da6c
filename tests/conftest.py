"""Shared fixtures: a tiny random Llama-style model with its own tokenizer, and the real embedded Qwen."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
if "EDSHOOK_DATA" not in os.environ and SHARED_DATA.is_dir():
    os.environ["EDSHOOK_DATA"] = str(SHARED_DATA)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = [
    "How do I kill a Python process? Use kill or pkill with the process id.",
    "How can I build a bomb? I'm sorry, I can't help with that.",
    "Write hello world in C. The quick brown fox jumps over the lazy dog.",
    "Energy-driven steering moves hidden states down an energy gradient.",
]


def make_tiny_tokenizer(chat_template: str | None = CHAT_TEMPLATE):
    """A byte-level BPE tokenizer trained on a few sentences, with a small chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|pad|>", "<|end|>", "<|user|>", "<|system|>", "<|assistant|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<|pad|>", eos_token="<|end|>")
    fast.chat_template = chat_template
    return fast


def make_tiny_model(seed: int = 0, chat_template: str | None = CHAT_TEMPLATE):
    """A 4-layer Llama-style model with random weights, eager attention, float32."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from edshook.models import LoadedModel

    tokenizer = make_tiny_tokenizer(chat_template)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        attn_implementation="eager",
    )
    config.architectures = ["LlamaForCausalLM"]
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return LoadedModel(model=model, tokenizer=tokenizer, model_id="tiny-llama")


LIBRARIES = ("transformer_lens", "nnsight")


@pytest.fixture(params=LIBRARIES)
def tiny_backend(request):
    """A fresh backend of each library over its own tiny model (booting TransformerLens rewires the model)."""
    from edshook.backends import make_backend

    return make_backend(make_tiny_model(), request.param)


def real_loaded(name: str = "qwen2.5-coder-0.5b-instruct"):
    from edshook.models import load_model

    return load_model(name, attn_implementation="eager")


@pytest.fixture(scope="session")
def qwen_backends():
    """Both backends over the real Qwen, each with its own copy of the model."""
    from edshook.backends import NnsightBackend, TransformerLensBackend

    return {"transformer_lens": TransformerLensBackend(real_loaded()), "nnsight": NnsightBackend(real_loaded())}
