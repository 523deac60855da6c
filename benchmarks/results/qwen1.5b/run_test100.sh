#!/usr/bin/env bash
# Qwen2.5-Coder-1.5B-Instruct at 100 test prompts per set: the policy of run.sh made again (collect and
# train as there; the tuning reads the answers of run.sh's tuning, kept in tuning/, so only the probe
# scores are computed), then the test sets for the policy and for base, both judges, 48 harmless prompts.
# About 2 h on two CPU cores (12 min to collect, 50 min for each evaluation); run from the repository
# root. test100_policy/ and test100_base/ here are runs/q15-eval100/policy and base.
set -euo pipefail
M=qwen2.5-coder-1.5b-instruct
edshook collect --split train --limit 100 --model $M --out runs/q15-train --max-new-tokens 24 --batch-size 32
edshook train runs/q15-train --out runs/q15-default
edshook tune runs/q15-default --model $M --judge both --limit 24 --batch-size 24 --reuse benchmarks/results/qwen1.5b/tuning
edshook eval --model $M --policy runs/q15-default --split test --limit 100 --judge both --batch-size 32 --harmless 48 --out runs/q15-eval100/policy
edshook eval --model $M --split test --limit 100 --judge both --batch-size 32 --harmless 48 --out runs/q15-eval100/base
