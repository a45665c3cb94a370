#!/usr/bin/env bash
# The wheels a lent GPU machine lacks for an end-to-end audit (its image has PyTorch, transformers,
# lxml, requests, Pillow and Jinja2, but not AltScout's crawling libraries), saved into .whl/ here
# (ignored by git) for the device tool to carry: run once on this machine, before the device run.
#
#   bash bench/gpu_wheels.sh            # here; then the device run carries .whl (bench/gpu_issue26.sh)
#
# Versions are the ones installed here, for the device's CPython 3.12 on x86-64.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
for name in protego rapidfuzz beautifulsoup4 soupsieve defusedxml publicsuffixlist tinycss2 webencodings w3lib; do
    version=$(python3 -m pip show "$name" | sed -n 's/^Version: //p')
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$name==$version"
done
du -sh .whl
