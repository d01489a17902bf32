#!/usr/bin/env bash
# Real data (issue 14): the measurements of benchmarks/README.md "Real images: cifar10-dev", one stage at a time.
#   bash benchmarks/cifar10_dev.sh fidelity|grid|search|baselines|full|augment [DATA]
# DATA defaults to ../shared/datasets/cifar10-dev (ImageFolder: 2,796 train / 932 val CIFAR-10 images).
# Results go to $BENCH (default /tmp/nas-bench): MLflow store, studies, outputs and one log per stage.
set -euo pipefail
cd "$(dirname "$0")/.."
stage=${1:?stage: fidelity, grid, search, baselines, full or augment}
DATA=$(realpath "${2:-../shared/datasets/cifar10-dev}")
BENCH=${BENCH:-/tmp/nas-bench}
mkdir -p "$BENCH"
export MLFLOW_TRACKING_URI="sqlite:///$BENCH/mlflow.db"
NAS="$PWD/.venv/bin/nas-scaling"
D="imagefolder:$DATA"
STORE="sqlite:///$BENCH/studies.db"
FULL_EPOCHS=${FULL_EPOCHS:-10}
run() { echo "+ $*" >&2; /usr/bin/time -f "wall %e s" "$@"; }
case $stage in
  fidelity)   # 12 draws of cifar_mixed under 0.5xFLOPS (3.8-8.9 M MACs), half the training images: proxy recipe
              # (1 epoch) vs full recipe (4 epochs), every zero-cost proxy against both (sized for a shared 2-core VM)
    run "$NAS" proxies --space search_spaces/cifar_mixed.yaml --budget 0.5xFLOPS --samples 12 --train-top 12 \
        --epochs 1 --fidelity 4 --subset 0.5 --dataset "$D" --no-progress --output "$BENCH/fidelity" ;;
  grid)
    run "$NAS" grid --budget 2xFLOPS --base efficientnet_cifar --dataset "$D" --max-candidates 4 --executor local --storage "$STORE" \
        --no-progress --output "$BENCH/grid/grid.json" ;;
  search)
    run "$NAS" search --space search_spaces/cifar_mixed.yaml --budget 2xFLOPS --trials 12 --dataset "$D" \
        --executor local --storage "$STORE" --no-progress --output "$BENCH/search" ;;
  baselines)  # the handcrafted networks on the grid study's inputs and proxy training
    run "$NAS" baseline lenet5 mobilenet_v1 mobilenet_v2 squeezenet1_1 resnet18 --small \
        --like grid-efficientnet_cifar-2xFLOPS-cifar10-dev
    run "$NAS" compare --format markdown ;;
  full)       # the full recipe for the search's best, the grid's best and a handcrafted network at a similar
              # MAC count, side by side at one thread each (a 2-core machine)
    run "$NAS" train "$BENCH/search/best.yaml" --dataset "$D" --recipe full --epochs "$FULL_EPOCHS" --threads 1 \
        --output "$BENCH/full/search-best" --format json &
    run "$NAS" train "$BENCH/grid/best.yaml" --dataset "$D" --recipe full --epochs "$FULL_EPOCHS" --threads 1 \
        --output "$BENCH/full/grid-best" --format json &
    run "$NAS" train "${HANDCRAFTED:-mobilenet_v2}" --small --dataset "$D" --recipe full --epochs "$FULL_EPOCHS" \
        --threads 1 --output "$BENCH/full/handcrafted" --format json &
    wait ;;
  all)        # the stages in order, each logged to $BENCH/<stage>.log; a failed stage does not stop the rest
    for s in grid baselines search fidelity full augment; do bash "$0" "$s" "$DATA" > "$BENCH/$s.log" 2>&1 || true; done ;;
  augment)    # augmentation off vs on (crop + flip), one network, full recipe
    for policy in none basic; do
      run "$NAS" train lenet5 --dataset "$D" --recipe full --epochs "${AUGMENT_EPOCHS:-10}" --augment "$policy" \
          --output "$BENCH/augment/$policy" --format json
    done ;;
  *) echo "unknown stage $stage" >&2; exit 2 ;;
esac
