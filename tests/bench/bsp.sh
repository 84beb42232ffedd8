#!/bin/bash
# bsp.sh -- distributed softmax training on one machine, as in dml(7):
# partition, one statistics round, then L-BFGS gradient rounds, each fanned
# out with GNU parallel and summed by dml-reduce, until dml-inspect says the
# model is no longer running.  Part of `make bench' (tests/bench/run).
#
# Usage: bsp.sh JOBS SHARDS TRAIN.csv DIR MAX_ITER
#
# The shards are binary data records (dml-partition --format bin).
#
#   JOBS      parallel workers (parallel -jJOBS)
#   SHARDS    shards to split TRAIN.csv into (dml-partition -n SHARDS)
#   DIR       working directory: shards and model.dml are written there
#   MAX_ITER  L-BFGS iterations, as dml-train --max-iter
#
# The dml-* binaries are taken from PATH.  Prints 'rounds<TAB>N' (gradient
# rounds run) and 'status<TAB>S' (the model's final optimizer status).

set -euo pipefail

if [ $# -ne 5 ]; then
	echo 'usage: bsp.sh JOBS SHARDS TRAIN.csv DIR MAX_ITER' >&2
	exit 2
fi
jobs=$1 nshards=$2 train=$3 dir=$4 max_iter=$5

mkdir -p "$dir"
cd "$dir"
shards=$(seq 0 $((nshards - 1)))

# Binary shards: later passes cost memory bandwidth, not CSV parsing.
dml-partition -n "$nshards" --format bin -y label -o 'shard-%d.bin' "$train"

# Statistics round: labels and feature moments of every shard, summed,
# make the initial model (with its scaler and hyper-parameters).
# shellcheck disable=SC2086 # one word per shard
parallel -j"$jobs" --halt now,fail=1 \
	dml-train -j1 --emit stats -y label 'shard-{}.bin' ::: $shards |
	dml-reduce --expect "$nshards" |
	dml-train --apply - -a softmax --max-iter "$max_iter" -o model.dml

# Gradient rounds: one L-BFGS evaluation each.  A line search may take
# several evaluations per iteration, so allow more rounds than iterations,
# but never loop forever.
rounds=0
limit=$((10 * max_iter + 10))
while [ "$(dml-inspect --field status model.dml)" = running ]; do
	rounds=$((rounds + 1))
	if [ "$rounds" -gt "$limit" ]; then
		echo "bsp.sh: model still running after $limit rounds" >&2
		exit 1
	fi
	# shellcheck disable=SC2086
	parallel -j"$jobs" --halt now,fail=1 \
		dml-train -j1 --emit gradient -m model.dml 'shard-{}.bin' ::: $shards |
		dml-reduce --expect "$nshards" |
		dml-train --apply - -m model.dml -o model.dml
done

printf 'rounds\t%s\n' "$rounds"
printf 'status\t%s\n' "$(dml-inspect --field status model.dml)"
