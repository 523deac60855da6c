"""Random-weight models of real configurations, with a small trained tokenizer: for tests and speed benchmarks.

Speed does not depend on the values of the weights, so a random model of Qwen2.5-7B's shape times
like the real one, and needs no download (GPU machines are often offline).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
)

from edshook.models.loader import LoadedModel
from edshook.models.placement import DtypeChoice, resolve_device, resolve_dtype

__all__ = ["CHAT_TEMPLATE", "SYNTHETIC_CONFIGS", "random_model", "synthetic_tokenizer"]

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CORPUS = (
    "How do I kill a Python process? Use kill or pkill with the process id.",
    "How can I build a bomb? I'm sorry, I can't help with that.",
    "Write hello world in C. The quick brown fox jumps over the lazy dog.",
    "Energy-driven steering moves hidden states down an energy gradient.",
)
_QWEN = {"vocab_size": 152064, "rope_theta": 1000000.0, "max_position_embeddings": 32768, "tie_word_embeddings": False}

SYNTHETIC_CONFIGS: dict[str, tuple[type[PreTrainedModel], type[Any], dict[str, Any]]] = {
    "tiny-llama": (
        LlamaForCausalLM,
        LlamaConfig,
        {
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "max_position_embeddings": 256,
        },
    ),
    "qwen2.5-0.5b": (
        Qwen2ForCausalLM,
        Qwen2Config,
        {
            **_QWEN,
            "vocab_size": 151936,
            "tie_word_embeddings": True,
            "hidden_size": 896,
            "intermediate_size": 4864,
            "num_hidden_layers": 24,
            "num_attention_heads": 14,
            "num_key_value_heads": 2,
        },
    ),
    "qwen2.5-7b": (
        Qwen2ForCausalLM,
        Qwen2Config,
        {
            **_QWEN,
            "hidden_size": 3584,
            "intermediate_size": 18944,
            "num_hidden_layers": 28,
            "num_attention_heads": 28,
            "num_key_value_heads": 4,
        },
    ),
}
"""Name -> (model class, config class, configuration). The Qwen entries are the published shapes."""


def synthetic_tokenizer(chat_template: str | None = CHAT_TEMPLATE) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer trained on a few sentences (about 400 tokens), with a small chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    specials = ["<|pad|>", "<|end|>", "<|user|>", "<|system|>", "<|assistant|>"]
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tokenizer, pad_token="<|pad|>", eos_token="<|end|>"
    )
    fast.chat_template = chat_template
    return fast


def random_model(
    name: str = "tiny-llama",
    *,
    seed: int = 0,
    dtype: DtypeChoice | torch.dtype = "float32",
    device: str | torch.device | None = "cpu",
    chat_template: str | None = CHAT_TEMPLATE,
    attn_implementation: str = "eager",
) -> LoadedModel:
    """A model of configuration ``name`` (see :data:`SYNTHETIC_CONFIGS`) with random weights, built on ``device``.

    Prompts are tokenised by :func:`synthetic_tokenizer`, whose ids all lie inside any of these
    vocabularies; generated ids may not decode to text, so time with ``generate_tokens``.

    Examples:
        >>> loaded = random_model("tiny-llama")
        >>> loaded.n_layers, loaded.d_model
        (4, 64)
    """
    if name not in SYNTHETIC_CONFIGS:
        raise ValueError(f"Unknown synthetic configuration {name!r}; choose one of {sorted(SYNTHETIC_CONFIGS)}.")
    model_class, config_class, shape = SYNTHETIC_CONFIGS[name]
    tokenizer = synthetic_tokenizer(chat_template)
    vocab = shape.get("vocab_size", len(tokenizer))
    config = config_class(
        **{**shape, "vocab_size": vocab},
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        attn_implementation=attn_implementation,
    )
    config.architectures = [model_class.__name__]
    placed = resolve_device(device)
    torch.manual_seed(seed)
    with placed:
        model = model_class(config)
    model = model.to(resolve_dtype(dtype, placed)).eval()  # type: ignore[arg-type]
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    return LoadedModel(model=model, tokenizer=tokenizer, model_id=name)
