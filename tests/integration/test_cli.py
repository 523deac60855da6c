"""The command line end to end on a tiny model saved to a folder: collect, resume, train, generate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edshook.cli import app
from edshook.interventions import EnergySteering
from tests.conftest import make_tiny_model

FIXTURES = Path(__file__).parents[1] / "fixtures" / "data"


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    loaded = make_tiny_model()
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    return folder


def run(*args: str):
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_collect_resume_train_generate(tiny_folder, tmp_path):
    common = ["--model", str(tiny_folder), "--data-dir", str(FIXTURES), "--dtype", "float32", "--max-new-tokens", "4"]
    out = tmp_path / "run"
    run("collect", "--out", str(out), "--sets", "or_bench_hard,or_bench_toxic", *common)
    record = json.loads((out / "run_record.json").read_text())
    assert (
        record["command"] == "collect" and record["settings"]["seed"] == 0 and record["settings"]["max_new_tokens"] == 4
    )
    assert len(record["data_ids"]) == 50 and record["versions"]["torch"]
    answers = (out / "answers.jsonl").read_text().splitlines()
    assert (
        len(answers) == 50
        and {"id", "prompt", "answer", "n_tokens", "label", "substring"} <= json.loads(answers[0]).keys()
    )
    assert record["resolved"]["dtype"] == "torch.float32"
    run("collect", "--out", str(out), "--sets", "or_bench_hard,or_bench_toxic", *common)
    assert len((out / "answers.jsonl").read_text().splitlines()) == 50, "a rerun answers nothing again"
    output = run(
        "train", str(out), "--out", str(tmp_path / "policy"), "--kind", "single", "--top-k", "2", "--steps", "2"
    )
    assert output.count("\n") >= 4 + 1  # one row per layer
    policy = EnergySteering.load(tmp_path / "policy")
    assert json.loads((tmp_path / "policy" / "run_record.json").read_text())["settings"]["top_k"] == 2
    assert len(policy.layers) == 2 and policy.model.model_id == str(tiny_folder)
    output = run(
        "generate", "hello", "--model", str(tiny_folder), "--policy", str(tmp_path / "policy"), "--max-new-tokens", "3"
    )
    assert "[base]" in output and "[steered]" in output


def test_collect_needs_prompts(tiny_folder, tmp_path):
    result = CliRunner().invoke(app, ["collect", "--out", str(tmp_path), "--model", str(tiny_folder)])
    assert result.exit_code != 0 and "--split" in result.output


def test_run_folder_from_another_model_is_refused(tiny_folder, tmp_path):
    from edshook.errors import PolicyMismatchError

    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({"model": {"model_id": "other", "n_layers": 24, "d_model": 896}}))
    with pytest.raises(PolicyMismatchError, match="holds a run of"):
        CliRunner().invoke(
            app,
            [
                "collect",
                "--out",
                str(out),
                "--sets",
                "or_bench_hard",
                "--model",
                str(tiny_folder),
                "--data-dir",
                str(FIXTURES),
            ],
            catch_exceptions=False,
        )


def test_demo_pipeline_on_tiny_model(tmp_path):
    from edshook.backends import make_backend
    from edshook.data.demo import demo_prompts
    from edshook.demo import _from_scratch
    from edshook.judges import AnswerJudge

    prompts = demo_prompts()
    assert len(set(prompts.ids)) == len(prompts) and {p.harmful for p in prompts} == {True, False}
    shown = []
    summary = _from_scratch(
        make_backend(make_tiny_model(), "nnsight"), prompts, AnswerJudge(), tmp_path / "demo", 2, shown.append
    )
    assert summary["harmful"] == 24 and summary["benign"] == 48 and any("fold 2" in line for line in shown)
    assert (tmp_path / "demo" / "answers.jsonl").is_file()
    trained = [k for k in (1, 2) if (tmp_path / "demo" / f"policy_fold{k}" / "policy.json").is_file()]
    untrained = [line for line in shown if "no policy" in line]
    assert len(trained) + len(untrained) == 2, "each fold either trains a policy or says why it could not"


def test_eval_reads_user_sets(tiny_folder, tmp_path):
    run(
        "eval",
        "--out",
        str(tmp_path / "eval"),
        "--sets",
        "xstest_safe,xstest_unsafe,oktest,phtest",
        "--model",
        str(tiny_folder),
        "--data-dir",
        str(FIXTURES),
        "--dtype",
        "float32",
        "--max-new-tokens",
        "3",
        "--harmless",
        "2",
    )
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    sets = report["methods"]["base"]["sets"]
    assert sets["xstest_unsafe"]["kind"] == "harmful" and sets["xstest_safe"]["kind"] == "benign"
    assert sets["oktest"]["n"] > 0 and sets["phtest"]["n"] > 0
    assert report["methods"]["base"]["harmless_kl"] < 1e-6
    output = run("show", str(tmp_path / "eval"), "--n", "2", "--set", "oktest")
    assert output.count("[base]") == 2 and "substring:" in output


def test_eval_takes_the_test_part_of_split_sets(tiny_folder, tmp_path):
    common = ["--model", str(tiny_folder), "--data-dir", str(FIXTURES), "--dtype", "float32"]
    whole = CliRunner().invoke(app, ["eval", "--out", str(tmp_path / "whole"), "--sets", "or_bench_hard", *common])
    assert whole.exit_code != 0 and "--split test" in whole.output and not (tmp_path / "whole").exists()
    out = tmp_path / "test"
    run("eval", "--out", str(out), "--sets", "or_bench_hard,jbb_pair", "--split", "test", *common,
        "--max-new-tokens", "2", "--harmless", "0")  # fmt: skip
    record = json.loads((out / "run_record.json").read_text())
    assert {i.split(":")[0] for i in record["data_ids"]} == {"or_bench_hard", "jbb_pair"}
    assert record["settings"]["split"] == "test" and "HELPFUL_SYSTEM_PROMPT" not in record["settings"]
    assert set(json.loads((out / "report.json").read_text())["methods"]["base"]["sets"]) == {
        "or_bench_hard_test",
        "jbb_pair",
    }


def test_train_conditional_then_tune_on_validation_prompts(tiny_folder, tmp_path):
    """The default policy kind: probe + two energies, then the probe band chosen on validation sets."""
    import torch

    from edshook.data import VALIDATION_SOURCES
    from edshook.evaluation.bands import DEFAULT_BANDS
    from edshook.interventions import ConditionalSteering, ModelSpec
    from edshook.judges import Label
    from edshook.training import ActivationSet

    config = make_tiny_model().model.config
    spec = ModelSpec(str(tiny_folder), config.num_hidden_layers, config.hidden_size)
    n = 160
    harmful, refused = torch.arange(n) % 2 == 0, torch.arange(n) % 3 == 0
    states = torch.randn(n, spec.n_layers, spec.d_model, generator=torch.Generator().manual_seed(0))
    states[harmful, :, 0] += 4.0
    states[refused, :, 1] += 4.0
    table = {
        (True, True): Label.SAFE_REJECT,
        (True, False): Label.JAILBREAK,
        (False, True): Label.FALSE_REFUSAL,
        (False, False): Label.HELPFUL,
    }
    labels = tuple(table[h, r] for h, r in zip(harmful.tolist(), refused.tolist(), strict=True))
    ActivationSet(states, tuple(range(spec.n_layers)), tuple(f"s:{i}" for i in range(n)), labels, spec).save(
        tmp_path / "run"
    )

    output = run("train", str(tmp_path / "run"), "--out", str(tmp_path / "policy"), "--top-k", "1")
    assert "probe at layers" in output and "edshook tune" in output
    policy = ConditionalSteering.load(tmp_path / "policy", model=spec)
    assert policy.harmful_above == 0.5 and policy.probe.layer <= min(policy.benign.layers + policy.harmful.layers)

    split = ["train", str(tmp_path / "run"), "--top-k", "1", "--step-size", "6", "--harmful-step-size", "2"]
    run(*split, "--out", str(tmp_path / "split"))
    parts = ConditionalSteering.load(tmp_path / "split", model=spec)
    assert (parts.benign.schedule.step_size, parts.harmful.schedule.step_size) == (6.0, 2.0)
    single = CliRunner().invoke(app, [*split, "--out", str(tmp_path / "single"), "--kind", "single"])
    assert single.exit_code != 0 and "--harmful-step-size" in single.output
    assert not (tmp_path / "single" / "policy.json").exists()

    output = run(
        "tune",
        str(tmp_path / "policy"),
        "--model",
        str(tiny_folder),
        "--data-dir",
        str(FIXTURES),
        "--dtype",
        "float32",
        "--max-new-tokens",
        "2",
    )
    tuning = json.loads((tmp_path / "policy" / "tuning" / "tuning.json").read_text())
    assert set(tuning["base"]) == {f"{source}_val" for source in VALIDATION_SOURCES}
    assert len(tuning["table"]) == len(DEFAULT_BANDS), "every band of the candidate thresholds is tried"
    tuned = ConditionalSteering.load(tmp_path / "policy")
    assert (tuned.benign_below, tuned.harmful_above) == (tuning["benign_below"], tuning["harmful_above"])
    assert tuned.metadata["tuning"]["n"] == tuning["n"] and tuned.metadata["tuning"]["judge"] == "substring"
    assert f"harmful_above {tuning['harmful_above']:g}" in output
    assert 0.0 <= tuning["stability"] <= 1.0 and tuning["resamples"] == 200
    assert tuned.metadata["tuning"]["stability"] == tuning["stability"] and "bootstrap draws" in output

    earlier = tmp_path / "policy" / "tuning" / "answers.jsonl"
    rows = [json.loads(line) for line in earlier.read_text().splitlines()]
    rows[0]["answer"] = "kept from the earlier tuning"
    (tmp_path / "earlier").mkdir()
    (tmp_path / "earlier" / "answers.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    tune = ["tune", str(tmp_path / "policy"), "--model", str(tiny_folder), "--data-dir", str(FIXTURES)]
    run(*tune, "--dtype", "float32", "--max-new-tokens", "2", "--reuse", str(tmp_path / "earlier"))
    again = [json.loads(line) for line in earlier.read_text().splitlines()]
    assert again[0]["answer"] == "kept from the earlier tuning" and len(again) == len(rows)
    missing = CliRunner().invoke(app, [*tune, "--reuse", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0 and "--reuse" in missing.output
    (tmp_path / "earlier" / "run_record.json").write_text(json.dumps({"settings": {"judge": "both"}}))
    mismatch = CliRunner().invoke(app, [*tune, "--reuse", str(tmp_path / "earlier")])
    assert mismatch.exit_code != 0 and "tuned with judge both" in mismatch.output
