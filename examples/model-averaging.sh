#!/usr/bin/env bash
# examples/model-averaging.sh -- distributed training by model averaging
# (local SGD).
#
# Splits TRAIN into WORKERS shards with dml-partition and makes the initial
# model from a stats round (as in bsp-local.sh).  Then, ROUNDS times, every
# worker starts from the shared model, runs EPOCHS epochs of mini-batch SGD
# over its own shard (dml-train --emit model -m MODEL --optimizer sgd), and
# dml-reduce replaces the shared model by the average of the workers' models,
# weighted by their rows.  Workers exchange one model per round instead of
# one gradient per step, so this suits slow links; BSP with L-BFGS
# (bsp-local.sh) reaches a better optimum in more rounds.
#
# It prints the accuracy and log-loss on TEST after every round on stderr, and at the
# end, one 'name<TAB>value' per line: rounds, then dml-predict --eval's
# accuracy, logloss and rows.
#
# Usage: examples/model-averaging.sh [TRAIN.csv [TEST.csv]]
#
#   TRAIN     CSV with a header row (default: train.csv)
#   TEST      CSV to evaluate on (default: TRAIN)
#
# Environment:
#   WORKERS        number of shards and of parallel workers (default 4)
#   ROUNDS         averaging rounds (default 10)
#   EPOCHS         SGD epochs per worker per round (default 1)
#   LEARNING_RATE  SGD initial step (default: dml-train's)
#   LABEL          label column (default label)
#   ALGORITHM      model family, softmax or logistic (default softmax)
#   MODEL          where the model is written (default model.dml)
#   WORKDIR        where the shards go (default: a temporary directory,
#                  removed at exit)
#
# The dml-* binaries must be on PATH.
#
# Example:
#   ROUNDS=20 WORKERS=8 examples/model-averaging.sh train.csv test.csv

set -euo pipefail

me=${0##*/}
train=${1:-train.csv}
test=${2:-$train}
workers=${WORKERS:-4}
rounds=${ROUNDS:-10}
epochs=${EPOCHS:-1}
label=${LABEL:-label}
algorithm=${ALGORITHM:-softmax}
model=${MODEL:-model.dml}
sgd=(--optimizer sgd --epochs "$epochs")
if [ -n "${LEARNING_RATE:-}" ]; then
	sgd+=(--learning-rate "$LEARNING_RATE")
fi

say() { printf '%s: %s\n' "$me" "$*" >&2; }

for f in "$train" "$test"; do
	[ -r "$f" ] || { say "$f: cannot read (usage: $me [TRAIN.csv [TEST.csv]])"; exit 2; }
done

if [ -n "${WORKDIR:-}" ]; then
	work=$WORKDIR
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/dml-avg.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

rm -f "$work"/shard-*.csv
dml-partition -n "$workers" -o "$work/shard-%d.csv" "$train"
shards=()
for ((i = 0; i < workers; i++)); do
	shards+=("$work/shard-$i.csv")
done

# fanout ARG...: 'dml-train ARG... SHARD' for every shard at once.
fanout() {
	parallel -q -j "$workers" --halt now,fail=1 dml-train "$@" {} ::: "${shards[@]}"
}

# The initial model: the label set and the feature scaling of all shards.
fanout --emit stats -y "$label" |
	dml-reduce --expect "$workers" |
	dml-train --apply - -a "$algorithm" -o "$model"

# Rounds: local SGD from the shared model, then the weighted average.  The
# seed changes every round, so the workers visit their rows in a new order.
for ((r = 1; r <= rounds; r++)); do
	fanout --emit model -m "$model" "${sgd[@]}" --seed "$r" |
		dml-reduce --expect "$workers" -o "$model"
	say "round $r: $(dml-predict -m "$model" --eval "$test" |
		awk '$1 != "rows" { printf "%s%s %s", n++ ? ", " : "", $1, $2 }')"
done

printf 'rounds\t%s\n' "$rounds"
dml-predict -m "$model" --eval "$test"
