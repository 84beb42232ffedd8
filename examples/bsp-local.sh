#!/usr/bin/env bash
# examples/bsp-local.sh -- distributed training by BSP rounds on local workers.
#
# Splits TRAIN into WORKERS shards with dml-partition, then trains the way a
# cluster would, with GNU parallel running one dml-train per shard:
#
#   1. a stats round: every worker summarises its shard (labels, feature
#      moments), dml-reduce sums the summaries, and dml-train --apply turns
#      the sum into the initial model;
#   2. gradient rounds: every worker computes the loss and gradient of its
#      shard at the current model, dml-reduce sums them, and dml-train
#      --apply takes one L-BFGS step (the line search state lives in the
#      model), until dml-inspect reports a status other than "running".
#
# Then it evaluates the model on TEST and prints, one 'name<TAB>value' per
# line: status (converged, max-iter, ...), rounds (gradient rounds), and
# dml-predict --eval's accuracy, logloss and rows.  Progress goes to stderr.
#
# Usage: examples/bsp-local.sh [TRAIN.csv [TEST.csv]]
#
#   TRAIN     CSV with a header row (default: train.csv)
#   TEST      CSV to evaluate on (default: TRAIN)
#
# Environment:
#   WORKERS    number of shards and of parallel workers (default 4)
#   LABEL      label column (default label)
#   ALGORITHM  model family, softmax or logistic (default softmax)
#   MAX_ITER   bound on the L-BFGS iterations (default 100)
#   MODEL      where the model is written (default model.dml)
#   FORMAT     shard format: csv (default), or bin for binary data records,
#              which the workers read without parsing text every round
#   WORKDIR    where the shards go (default: a temporary directory,
#              removed at exit)
#   TIMEOUT    seconds a round may take (default: no limit): a worker
#              that has not reported by then fails the round
#              (dml-reduce --timeout) and is killed (parallel --timeout,
#              2 s later, so that dml-reduce's message comes first)
#   RESUME     yes: if MODEL exists, continue training it instead of
#              starting afresh -- after the loop was killed, rerun it with
#              the same settings and RESUME=yes.  The shards are made
#              again (the same bytes), the stats round is skipped, and the
#              gradient rounds go on from the model's iteration, so the
#              result is byte-identical to an uninterrupted run
#              (default no)
#
# The dml-* binaries must be on PATH (after a build: PATH=$PWD/build/src:$PATH).
#
# Example:
#   WORKERS=8 examples/bsp-local.sh train.csv test.csv

set -euo pipefail

me=${0##*/}
train=${1:-train.csv}
test=${2:-$train}
workers=${WORKERS:-4}
label=${LABEL:-label}
algorithm=${ALGORITHM:-softmax}
max_iter=${MAX_ITER:-100}
model=${MODEL:-model.dml}
format=${FORMAT:-csv}
timeout=${TIMEOUT:-}

say() { printf '%s: %s\n' "$me" "$*" >&2; }

case $format in
csv) ext=csv; partition_format=() ;;
bin) ext=dml; partition_format=(--format bin -y "$label") ;;
*) say "FORMAT must be csv or bin"; exit 2 ;;
esac

for f in "$train" "$test"; do
	[ -r "$f" ] || { say "$f: cannot read (usage: $me [TRAIN.csv [TEST.csv]])"; exit 2; }
done

if [ -n "${WORKDIR:-}" ]; then
	work=$WORKDIR
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/dml-bsp.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

# With TIMEOUT, a hung worker fails the round: dml-reduce gives up, and
# parallel kills the worker, without which the pipeline would wait for it.
reduce_opts=(--expect "$workers")
parallel_opts=()
if [ -n "$timeout" ]; then
	reduce_opts+=(--timeout "$timeout")
	parallel_opts+=(--timeout $((timeout + 2)))
fi

# Split the data: shard-0.csv ... shard-(WORKERS-1).csv, header repeated
# (or shard-0.dml ...).
rm -f "$work"/shard-*."$ext"
dml-partition -n "$workers" "${partition_format[@]}" \
	-o "$work/shard-%d.$ext" "$train"
shards=()
for ((i = 0; i < workers; i++)); do
	shards+=("$work/shard-$i.$ext")
done

# fanout ARG...: run 'dml-train ARG... SHARD' for every shard at once and
# write all their records to stdout.  -q passes every argument as is;
# --halt stops the round at the first failing worker.
fanout() {
	parallel -q -j "$workers" --halt now,fail=1 "${parallel_opts[@]}" \
		dml-train "$@" {} ::: "${shards[@]}"
}

# Stats round: the initial model, unless resuming from one.  -o writes
# MODEL whole or not at all, so a killed loop leaves the model of its last
# complete round (or none).
if [ "${RESUME:-no}" = yes ] && [ -e "$model" ]; then
	say "resuming $model at iteration $(dml-inspect --field iteration "$model")"
else
	fanout --emit stats -y "$label" |
		dml-reduce "${reduce_opts[@]}" |
		dml-train --apply - -a "$algorithm" --max-iter "$max_iter" -o "$model"
fi

# Gradient rounds: one L-BFGS evaluation each.  Reading and writing the
# model in one pipeline is safe: -o replaces the file only once the new
# model is complete, and dml-train --apply reads the model only after the
# reduced gradient has arrived.
rounds=$(dml-inspect --field iteration "$model") # one per round
status=$(dml-inspect --field status "$model")
while [ "$status" = running ]; do
	fanout --emit gradient -m "$model" |
		dml-reduce "${reduce_opts[@]}" |
		dml-train --apply - -m "$model" -o "$model"
	rounds=$((rounds + 1))
	status=$(dml-inspect --field status "$model")
	say "round $rounds: objective $(printf %.6g "$(dml-inspect --field objective "$model")"), $status"
done

printf 'status\t%s\nrounds\t%s\n' "$status" "$rounds"
dml-predict -m "$model" --eval "$test"
