#!/usr/bin/env bash
# Rust vs Keras, interleaved so both see the same machine load (benchmark, not a test).
#
#   keeper/forecast/bench/compare.sh TRAIN_BIN OUT.tsv [SEEDS] [SERIES]
#
# TRAIN_BIN: the `train` bench binary (see README.md); SEEDS: default "1 2 3 4 5"; SERIES: any of
# sunspots, reward, active (default all three). For every series and seed it records the 1-minute
# load average, runs Rust, records the load again and runs Keras (~/.cache/flex/venv-tf), 30 epochs,
# and appends one line per run to OUT.tsv:
#   series impl seed load1 seconds_per_epoch total_seconds first_epoch test_mse
# (Rust has no first-epoch warm-up: first_epoch is "-"). Summarise with summarise.py.
set -euo pipefail
bin=${1:?train bench binary}
out=${2:?output tsv}
seeds=${3:-1 2 3 4 5}
series=${4:-sunspots reward active}
root=$(cd "$(dirname "$0")/../../.." && pwd)
py=${PYTHON:-$HOME/.cache/flex/venv-tf/bin/python}
data=$root/keeper/forecast/data

load() { cut -d' ' -f1 /proc/loadavg; }

for s in $series; do
  case $s in
    sunspots) args=("$data/sunspots.csv" sunspots 12); season=11; tr=none ;;
    reward) args=("$data/synthetic_epochs.csv" reward_per_active 14); season=7; tr=log1p ;;
    active) args=("$data/synthetic_epochs.csv" active 14); season=7; tr=none ;;
    *) echo "unknown series $s" >&2; exit 2 ;;
  esac
  for seed in $seeds; do
    l=$(load)
    r=$("$bin" "${args[@]}" 30 "$season" "$seed" "$tr")
    spe=$(grep -o 'seconds_per_epoch=[0-9.]*' <<<"$r" | cut -d= -f2)
    tot=$(grep -o 'total=[0-9.]*' <<<"$r" | cut -d= -f2)
    mse=$(grep -o ' test_mse=[0-9.e+-]*' <<<"$r" | cut -d= -f2)
    printf '%s\trust\t%s\t%s\t%s\t%s\t-\t%s\n' "$s" "$seed" "$l" "$spe" "$tot" "$mse" >>"$out"
    l=$(load)
    k=$("$py" "$root/keeper/forecast/bench/keras_reference.py" "${args[@]}" 30 "$seed" "$tr" 2>/dev/null)
    spe=$(grep -o 'keras seconds_per_epoch=[0-9.]*' <<<"$k" | cut -d= -f2)
    first=$(grep -o 'first epoch [0-9.]*' <<<"$k" | cut -d' ' -f3)
    tot=$(grep -o 'total=[0-9.]*' <<<"$k" | cut -d= -f2)
    mse=$(grep -o ' test_mse=[0-9.e+-]*' <<<"$k" | cut -d= -f2)
    printf '%s\tkeras\t%s\t%s\t%s\t%s\t%s\t%s\n' "$s" "$seed" "$l" "$spe" "$tot" "$first" "$mse" >>"$out"
    tail -2 "$out"
  done
done
