#!/usr/bin/env bash
# The checks that need a GPU, in one run of about 6 minutes: every test over the tiny model on CUDA, decode
# speed of random-weight models of Qwen2.5-7B and of the shipped policy's shape (Qwen2.5-0.5B), bare and
# steered, and a profile of the shipped policy's decode. Each step has a time limit, so one that hangs
# cannot take the rest with it.
#
#     bash benchmarks/gpu_checks.sh benchmarks/results/gpu
#
# Writes gpu.txt (the device), pytest_cuda.txt, overhead_7b.json, overhead_0.5b.json and profile.txt.
set -uo pipefail
out=${1:?usage: bash benchmarks/gpu_checks.sh OUT_FOLDER}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1

python - <<'EOF' | tee "$out/gpu.txt"
import platform, torch, transformers, transformer_lens, nnsight
print(torch.cuda.get_device_name(), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
print("transformers", transformers.__version__, "nnsight", nnsight.__version__,
      "transformer-lens", getattr(transformer_lens, "__version__", "?"))
EOF

started=$SECONDS
timeout 200 python -m pytest tests -k cuda -q -p no:cacheprovider 2>&1 | tee "$out/pytest_cuda.txt"
echo "pytest on cuda: $((SECONDS - started)) s" | tee -a "$out/pytest_cuda.txt"

timeout 200 python benchmarks/overhead.py --device cuda --dtype bfloat16 --attention sdpa --random-weights qwen2.5-7b \
    --batch-sizes 1 32 --new-tokens 64 --repeats 2 --out "$out/overhead_7b.json"
timeout 110 python benchmarks/overhead.py --device cuda --dtype bfloat16 --attention sdpa --random-weights qwen2.5-0.5b \
    --batch-sizes 1 32 --new-tokens 64 --repeats 2 --libraries nnsight --out "$out/overhead_0.5b.json"
timeout 60 python benchmarks/gpu_profile.py cuda > "$out/profile.txt" 2>&1
