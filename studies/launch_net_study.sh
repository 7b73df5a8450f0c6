#!/usr/bin/env bash
# Train every network shape and data set of the study side by side, one thread each, niced,
# each stopping after the same CPU time (callbacks.cpu_time_limit), then evaluate each export
# with the harness's listening measures and rank them (studies/net_study.py).
#
#   bash studies/launch_net_study.sh [CPU_SECONDS=1800] [OUT=outputs/net_study]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-1800}
out=${2:-outputs/net_study}
py=${PYTHON:-.venv/bin/python}
export WANDB_MODE=${WANDB_MODE:-offline}
declare -A runs=(
  [small_precond]="experiment=piano14_cpu"
  [framed4]="experiment=piano14_cpu model=framed4"
  [framed8]="experiment=piano14_cpu model=framed8"
  [framed16]="experiment=piano14_cpu model=framed16"
  [framed16_ctx]="experiment=piano14_cpu_ctx"
  [framed16_ctx_melodies]="experiment=piano14_cpu_ctx data=melodies"
  [framed16_ctx_both]="experiment=piano14_cpu_ctx data=piano14_melodies"
)
mkdir -p "$out"
for label in "${!runs[@]}"; do
  # shellcheck disable=SC2086  # the overrides are words
  nice -n 10 "$py" -m pianodiff.train ${runs[$label]} num_threads=1 logger=csv \
    callbacks.cpu_time_limit.seconds="$seconds" "paths.run_dir=$out/$label" \
    >"$out/$label.log" 2>&1 &
done
wait
for label in "${!runs[@]}"; do
  extenders="[interpolation]"
  [[ $label == *ctx* ]] && extenders="[interpolation,conditioned]"
  nice -n 10 "$py" -m pianodiff.evaluate checkpoint="$out/$label/export" \
    hydra.run.dir="$out/$label/eval" gap.enabled=false files=3 extension.seconds=2.0 \
    "extenders=$extenders" wandb.enabled=false >"$out/$label.eval.log" 2>&1
done
args=()
for label in small_precond framed4 framed8 framed16 framed16_ctx framed16_ctx_melodies \
    framed16_ctx_both; do
  args+=("$label=$out/$label")
done
"$py" -m studies.net_study "${args[@]}" --out "$out/table.md"
