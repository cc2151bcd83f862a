#!/bin/bash
# The full profile on one GPU: the four custom models trained at once, each time-boxed, into OUT/runs/<name>.
# Each folder holds metrics.json (device, epochs, time, test scores), history.csv and best.pt; the report's
# figures come from the papermill templates instead (make report PROFILE=full).
# usage: bash benchmarks/gpu_full_runs.sh DETECT_DATA FORECAST_DATA OUT [TIME_BOX_S]
#   DETECT_DATA, FORECAST_DATA: course-layout folders (images; sequences), e.g. datasets/sim for both
# Without an installed package (a GPU image with its own torch): PYTHONPATH=$PWD and fastcore importable.
set -u
detect_data=$1 forecast_data=$2 out=$3 box=${4:-200}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-3} BALLDETECT_PROGRESS=epoch
mkdir -p "$out/runs"
train() {
    name=$1
    shift
    timeout $((box + 80)) python -c 'import sys; from balldetect.cli import main; sys.exit(main())' \
        train "$@" --profile full --device cuda --quiet --time-budget "$box" --out "$out/runs/$name" \
        > "$out/runs/$name.log" 2>&1
    echo "$name rc=$?" >> "$out/runs/rc.txt"
}
train forecaster_physics --model forecast --arch physics --data-dir "$forecast_data" &
train forecaster_mlp --model forecast --arch mlp --data-dir "$forecast_data" &
train detector_heatmap --model detect --arch heatmap --data-dir "$detect_data" &
train detector_ref --model detect --arch ref --data-dir "$detect_data" &
wait
cat "$out/runs/rc.txt"
tail -n 4 "$out"/runs/*.log
