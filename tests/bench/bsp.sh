#!/bin/bash
# bsp.sh -- distributed softmax training on one machine, as in dml(7):
# partition, one statistics round, then L-BFGS gradient rounds, each fanned
# out with xargs -P and summed by dml-reduce, until dml-inspect says the
# model is no longer running.  Part of `make bench' (tests/bench/run).
#
# xargs rather than GNU parallel (as examples/bsp-local.sh uses): parallel's
# own start-up, a Perl program, takes about 0.3 s a round on the two-core
# machine the bench was written on, a serial cost of every round that is
# no part of dml.  The workers write their records to files (-o), which
# dml-reduce reads.
#
# Usage: bsp.sh JOBS SHARDS TRAIN.csv DIR MAX_ITER
#
# The shards are binary data records (dml-partition --format bin).
#
#   JOBS      workers at once (xargs -PJOBS)
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
# fan SUB...: run `SUB... -o out-I.dml shard-I.bin' for every shard I,
# JOBS at once; fails if any fails.
fan() {
	rm -f out-*.dml
	printf '%s\n' $shards |
		xargs -P "$jobs" -I{} "$@" -o 'out-{}.dml' 'shard-{}.bin'
}

fan dml-train -j1 --emit stats -y label
dml-reduce --expect "$nshards" out-*.dml |
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
	fan dml-train -j1 --emit gradient -m model.dml
	dml-reduce --expect "$nshards" out-*.dml |
		dml-train --apply - -m model.dml -o model.dml
done

printf 'rounds\t%s\n' "$rounds"
printf 'status\t%s\n' "$(dml-inspect --field status model.dml)"
