#!/usr/bin/env bash
# Issue 26's GPU measurements as one short script for a lent device (docs/PERFORMANCE.md, "GPU").
#
#   bash bench/gpu_issue26.sh            # on the device: about 11 minutes on an H100/H200
#
# 1. the fast paths' exactness on CUDA (the CUDA graph test is skipped everywhere else);
# 2. the captioning stage: eager, SDPA, and SDPA with the static decoder and CUDA graphs, in
#    float16 and bfloat16, at batches of 256, 512 and 1,024, with peak memory, on the full-size
#    random BLIP whose captions depend on the image (--init-range 0.05), captions compared with
#    the first method's (eager float16);
# 3. an end-to-end audit of a 1,000-page loopback site (5,030 distinct images) on the GPU.
# Output goes to stdout and, when $OUT is set (the device tool), to $OUT/issue26.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
log="${OUT:-/tmp}/issue26.txt"
export HF_HUB_OFFLINE=1
{
    nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
    python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
    timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_blip_fast_paths.py 2>&1 | tail -3
    timeout 360 python3 bench/bench_captioning.py --device cuda --init-range 0.05 --tokens 20 --images 2048 \
        --methods eager/float16 torch/float16 static/float16 static/bfloat16 --batch-sizes 256 512 1024
    # end to end: 1,000 pages, 5,030 distinct images (15,030 references), no response delay; the line
    # gives images/s and "captioner busy" (the share of the wall time the GPU had a batch)
    timeout 240 python3 bench/bench_site.py --only-crawl --pages 1000 --delay-ms 0 --tokens 20
} 2>&1 | tee "$log"
