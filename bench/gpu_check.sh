#!/usr/bin/env bash
# The first thing to run when a GPU is at hand (issue 15): one command, at most 10 minutes on one H100.
#
#   bench/gpu_check.sh                # on a machine with a CUDA GPU: figures to docs/gpu_check.md
#   bench/gpu_check.sh --dry-run      # anywhere: the same steps with tiny settings, the CUDA recipe on the CPU
#                                     # (SCALESEARCH_CUDA_ON_CPU=1); figures to a temp file unless --out
#   options: --full-suite (every test, not the fast set: does not fit in 10 minutes), --out FILE, --keep (the logs)
#
# In this order, each step under its own time budget and all under a 570 s deadline (a step that runs over is cut
# off, what it measured by then is kept, and the check goes on):
#   1. the tests: the fast set, then tests/test_gpu_path.py and tests/test_proxy.py whole;
#   2. scalesearch run --budget 2x --preset gpu-small --trials 8 on synthetic data, and its wall time;
#   3. bench_proxy.py --device cuda: train_proxy's loop against a bare bf16 + channels_last loop;
#   4. bench_sharing.py --device cuda: 1, 2 and 4 trials on one GPU;
#   5. bench_preset.py: gpu-small's 2× paper point over seeds 0-2 (seconds a trial, peak memory, seed sd), and
#      gpu-full's base the same way (its validation capped at 2,000 images to fit the time);
#   6. if time is left: bench_proxy.py --compile (does torch.compile pay for a launch-bound proxy?).
# Then bench/gpu_check_report.py writes every figure with the device's name and prints each goal met or missed:
# proxy loop ≥ 0.95 of bare; 4 sharing ≥ 2.5× one; a gpu-small 2× trial ≤ 60 s on an H100.
# Exit: 0 when every step ran to its end, 1 when one failed or was cut off, 2 for no GPU or bad arguments.
set -u
cd "$(dirname "$0")/.."

mode=gpu out="" full_suite=0 keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run|--cpu) mode=dry-run ;;
        --full-suite) full_suite=1 ;;
        --keep) keep=1 ;;
        --out) out="${2:?--out needs a file}"; shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "${VIRTUAL_ENV:-}" ] && [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=${PYTHON:-python}; fi
SCALESEARCH="$(dirname "$(command -v "$PYTHON")")/scalesearch"
[ -x "$SCALESEARCH" ] || SCALESEARCH=scalesearch

if [ "$mode" = gpu ]; then
    # Fail early, in one line: no GPU, or a PyTorch that cannot use it.
    why=$("$PYTHON" -c 'import torch
if not torch.cuda.is_available():
    print(f"this PyTorch ({torch.__version__}) sees no CUDA GPU" + ("; it is a CPU-only build" if torch.version.cuda is None else ""))' 2>&1) \
        || why="python cannot import torch: ${why##*$'\n'}"
    if [ -n "$why" ]; then
        echo "gpu_check: no GPU to check: $why (bench/gpu_check.sh --dry-run checks the script itself on a CPU)" >&2
        exit 2
    fi
    device=$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name(0), f"(torch {torch.__version__}, CUDA {torch.version.cuda})")')
    smi=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)
    [ -n "$smi" ] && device="$device; nvidia-smi: $smi"
    out=${out:-docs/gpu_check.md}
else
    export SCALESEARCH_CUDA_ON_CPU=1  # the test aid: --device cuda trains on the CPU with the CUDA recipe
    device="CPU dry run ($(nproc) CPUs, CUDA recipe on the CPU), no GPU"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
[ "$mode" = dry-run ] && out=${out:-${TMPDIR:-/tmp}/gpu_check-dry-run.md}
export SCALESEARCH_BENCH_DATA="$work/data"  # synthetic data generated once, shared by the benchmarks
export SCALESEARCH_CACHE="$work/measurements.jsonl"  # FLOPs measured afresh: no figure from an older version
started=$SECONDS deadline=$((SECONDS + 570)) failed=0
echo "gpu_check: $device; working in $work"

# step NAME BUDGET_SECONDS COMMAND...: runs it under min(budget, time left), its output in $work/NAME.log.
step() {
    local name=$1 budget=$2 left=$((deadline - SECONDS)) status begun=$SECONDS
    shift 2
    if [ "$left" -lt 20 ]; then
        printf '%s\tskipped\t0\t%s\t%s\n' "$name" "$budget" "$*" >> "$work/steps.tsv"
        echo "gpu_check: $name skipped (no time left)"; failed=1; return
    fi
    [ "$budget" -gt "$left" ] && budget=$left
    echo "gpu_check: $name (budget ${budget} s): $*"
    # timeout signals the step's whole process group: a cut-off step leaves no trainer behind on the GPU.
    timeout -k 15 "$budget" "$@" > "$work/$name.log" 2>&1
    status=$?
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - begun))" "$budget" "$*" >> "$work/steps.tsv"
    [ "$status" -eq 0 ] || { failed=1; echo "gpu_check: $name exited $status; last lines:"; tail -n 5 "$work/$name.log"; }
}

if [ "$mode" = gpu ]; then
    if [ "$full_suite" = 1 ]; then
        step tests 600 "$PYTHON" -m pytest -q -p no:cacheprovider tests
    else
        step tests 120 bash -c "'$PYTHON' -m pytest -q -p no:cacheprovider -m 'not slow and not faults' tests; a=\$?; \
'$PYTHON' -m pytest -q -p no:cacheprovider tests/test_gpu_path.py tests/test_proxy.py; b=\$?; exit \$((a || b))"
    fi
    step run 210 "$SCALESEARCH" run --budget 2x --preset gpu-small --trials 8 --data synthetic --out "$work/run"
    step proxy 60 "$PYTHON" bench/bench_proxy.py --device cuda --preset gpu-small --steps 40 --repeats 3 \
        --no-dataloader --json "$work/proxy.json"
    step sharing 75 "$PYTHON" bench/bench_sharing.py --device cuda --preset gpu-small --trials 1 2 4 --steps 100 \
        --repeats 1 --json "$work/sharing.json"
    step preset 150 bash -c "'$PYTHON' bench/bench_preset.py --device cuda --preset gpu-small --only 'paper 2x' \
--seeds 0 1 2 --data-seed 0 --json '$work/preset.json' && '$PYTHON' bench/bench_preset.py --device cuda --preset gpu-full \
--only base --seeds 0 1 2 --data-seed 0 --val-images 2000 --json '$work/preset.json'"
    [ $((deadline - SECONDS)) -ge 60 ] && step compile 120 "$PYTHON" bench/bench_proxy.py --device cuda \
        --preset gpu-small --steps 40 --repeats 2 --no-dataloader --compile --json "$work/compile.json"
else
    # The same commands with tiny settings: minutes on a CPU.
    step tests 120 "$PYTHON" -m pytest -q -p no:cacheprovider -m 'not slow' tests/test_gpu_path.py
    step run 240 "$SCALESEARCH" run --budget 2x --preset gpu-small --trials 2 --seeds 1 --no-reference \
        --proxy-epochs 1 --proxy-images 256 --data synthetic --out "$work/run"
    step proxy 90 "$PYTHON" bench/bench_proxy.py --device cuda --preset cpu-tiny --steps 3 --repeats 1 \
        --no-dataloader --json "$work/proxy.json"
    step sharing 120 "$PYTHON" bench/bench_sharing.py --device cuda --preset cpu-tiny --trials 1 2 4 --steps 3 \
        --repeats 1 --json "$work/sharing.json"
    step preset 120 bash -c "'$PYTHON' bench/bench_preset.py --device cuda --preset gpu-small --only 'paper 2x' \
--seeds 0 1 2 --data-seed 0 --epochs 1 --proxy-images 256 --val-images 128 --json '$work/preset.json' && '$PYTHON' \
bench/bench_preset.py --device cuda --preset gpu-full --only base --seeds 0 --data-seed 0 --epochs 1 --proxy-images 64 \
--val-images 64 --json '$work/preset.json'"
fi

"$PYTHON" bench/gpu_check_report.py "$work" "$out" --mode "$mode" --device "$device" \
    --total-seconds $((SECONDS - started)) || failed=1
if [ "$keep" = 1 ]; then echo "gpu_check: logs kept in $work"; else rm -rf "$work"; fi
echo "gpu_check: done in $((SECONDS - started)) s"
exit $failed
