#!/usr/bin/env bash
# Qwen2.5-Coder-1.5B-Instruct through the shipped recipe: collect (100 prompts per train set), train and
# tune with their defaults, then the test sets (24 per set), policy and base, both judges.
# About 2 h on two CPU cores; run from the repository root. Each eval folder here is one of runs/q15-eval.
set -euo pipefail
M=qwen2.5-coder-1.5b-instruct
edshook collect --split train --limit 100 --model $M --out runs/q15-train
edshook train runs/q15-train --out runs/q15-default
edshook tune runs/q15-default --model $M --judge both --limit 24 --batch-size 24
edshook eval --model $M --policy runs/q15-default --split test --limit 24 --judge both --batch-size 24 --harmless 24 --out runs/q15-eval/policy
edshook eval --model $M --split test --limit 24 --judge both --batch-size 24 --harmless 0 --out runs/q15-eval/base
