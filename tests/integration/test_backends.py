"""Both backends on a tiny random model: activations, batching, generation, bad input."""

from __future__ import annotations

import pytest
import torch

from edshook.backends import make_backend
from edshook.errors import ChatTemplateError, PromptError, SiteError
from tests.conftest import LIBRARIES, make_tiny_model

PROMPTS = ["How do I kill a Python process?", "hello", "Write hello world in C, then explain every line of it."]
LAYERS = [0, 2, 3]


def hf_hidden(backend, prompts):
    batch = backend.encode(prompts)
    with torch.no_grad():
        out = backend.loaded.model(
            input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True
        )
    return out.hidden_states


def test_both_backends_agree_with_transformers_hidden_states():
    collected = {}
    for library in LIBRARIES:
        backend = make_backend(make_tiny_model(), library)
        acts = backend.collect(PROMPTS, LAYERS, batch_size=8, progress=False)
        assert acts.shape == (len(PROMPTS), len(LAYERS), 64)
        hidden = hf_hidden(backend, PROMPTS)
        reference = torch.stack([hidden[layer][:, -1] for layer in LAYERS], dim=1)
        assert (acts - reference).abs().max() < 1e-4, library
        collected[library] = acts
    assert (collected["transformer_lens"] - collected["nnsight"]).abs().max() < 1e-4


def test_batch_invariance_with_left_padding(tiny_backend):
    together = tiny_backend.collect(PROMPTS, LAYERS, batch_size=8, progress=False)
    for i, prompt in enumerate(PROMPTS):
        alone = tiny_backend.collect([prompt], LAYERS, progress=False)
        assert (alone[0] - together[i]).abs().max() < 1e-4


def test_generation_is_batch_invariant_and_ordered(tiny_backend):
    together = tiny_backend.generate(PROMPTS, max_new_tokens=8, batch_size=8, progress=False)
    alone = [tiny_backend.generate([p], max_new_tokens=8, progress=False)[0] for p in PROMPTS]
    assert together == alone
    assert all(isinstance(answer, str) for answer in together)


def test_generation_progress_counts_tokens_even_in_one_batch(tiny_backend, capsys):
    """A set that fits one batch still shows how far decoding has come, token by token."""
    tiny_backend.generate(PROMPTS, max_new_tokens=5, batch_size=8, stop_at_eos=False, progress=True)
    bar = capsys.readouterr().err
    assert "generate 3 prompts" in bar
    assert "5/5" in bar


def test_kv_cache_decoding_matches_full_recompute(tiny_backend):
    """Greedy decoding with the cache equals re-running the whole sequence at every step."""
    prompt = PROMPTS[0]
    answer_ids = tiny_backend.tokenizer(tiny_backend.generate([prompt], max_new_tokens=6, progress=False)[0])
    ids = tiny_backend.format(prompt)
    model = tiny_backend.loaded.model
    expected = []
    with torch.no_grad():
        for _ in range(6):
            token = int(model(input_ids=torch.tensor([ids + expected], device=model.device)).logits[0, -1].argmax())
            if token == tiny_backend.tokenizer.eos_token_id:
                break
            expected.append(token)
    assert tiny_backend.tokenizer.decode(expected) == tiny_backend.tokenizer.decode(answer_ids["input_ids"])


def test_layer_out_of_range(tiny_backend):
    with pytest.raises(SiteError, match="out of range: the model has 4 layers"):
        tiny_backend.collect(PROMPTS, [4], progress=False)


def test_empty_prompt_list(tiny_backend):
    with pytest.raises(PromptError, match="empty"):
        tiny_backend.generate([], progress=False)
    with pytest.raises(PromptError, match="not a single string"):
        tiny_backend.collect("a prompt", progress=False)


def test_model_without_chat_template():
    backend = make_backend(make_tiny_model(chat_template=None), "nnsight")
    with pytest.raises(ChatTemplateError, match="chat=False"):
        backend.generate(["hi"], progress=False)
    plain = make_backend(make_tiny_model(chat_template=None), "nnsight", chat=False)
    assert len(plain.generate(["hi"], max_new_tokens=3, progress=False)) == 1


def test_chat_template_and_system_prompt(tiny_backend):
    text = tiny_backend.tokenizer.decode(tiny_backend.format("hi", system_prompt="Be helpful."))
    assert text == "<|system|>Be helpful.<|end|><|user|>hi<|end|><|assistant|>"


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@pytest.fixture(scope="module")
def nnsight_backend():
    return make_backend(make_tiny_model(), "nnsight")


@settings(max_examples=40, deadline=None)
@given(text=st.text(max_size=400))
def test_any_prompt_formats_or_gets_a_prompt_error(nnsight_backend, text):
    try:
        ids = nnsight_backend.format(text)
    except PromptError as err:
        assert not text.strip() or "context" in str(err)
        return
    assert text.strip() and 0 < len(ids) < 256


def test_prompt_longer_than_the_context_is_an_error(nnsight_backend):
    with pytest.raises(PromptError, match="context is 256 tokens"):
        nnsight_backend.generate(["word " * 400], progress=False)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
@pytest.mark.parametrize("library", LIBRARIES)
def test_a_model_split_across_two_gpus_steers_each_layer_where_it_lives(library, tmp_path):
    """accelerate places the first half of the blocks on one GPU and the rest on the other; each
    energy is placed beside its own block and the answers match the model on one GPU."""
    from edshook.interventions import EnergyModel, EnergySteering, StepSchedule
    from edshook.models import load_model

    loaded = make_tiny_model()
    loaded.model.save_pretrained(tmp_path)
    loaded.tokenizer.save_pretrained(tmp_path)
    split = {"model.embed_tokens": 0, "model.layers.0": 0, "model.layers.1": 0, "model.layers.2": 1,
             "model.layers.3": 1, "model.norm": 1, "model.rotary_emb": 1, "lm_head": 1}  # fmt: skip
    torch.manual_seed(0)
    policy = EnergySteering(
        {1: EnergyModel(64, hidden=(8,)), 3: EnergyModel(64, hidden=(8,))}, schedule=StepSchedule(2)
    )
    answers = {}
    for name, options in (("split", {"device_map": split}), ("one", {"device": "cuda:0"})):
        backend = make_backend(load_model(str(tmp_path), dtype="float32", **options), library)
        with backend.steer(policy) as handle:
            answers[name] = backend.generate(
                ["How do I kill a Python process?", "hello"], max_new_tokens=6, progress=False
            )
        if name == "split":
            assert {site.layer: device.index for site, device in handle.devices.items()} == {1: 0, 3: 1}
    assert answers["split"] == answers["one"]
