#!/usr/bin/env bash
# examples/kmeans-bsp.sh -- distributed k-means by BSP rounds on local workers.
#
# Splits DATA into WORKERS shards with dml-partition, then clusters the way
# a cluster of machines would, with GNU parallel running one dml-train per
# shard:
#
#   1. a stats round: every worker summarises its shard, dml-reduce sums the
#      summaries, and dml-train --apply -a kmeans --k K makes the model;
#   2. pass rounds: every worker makes a pass over its shard at the current
#      model (while seeding: the row that wins this round's race; then the
#      per-cluster sums and counts), dml-reduce combines them exactly, and
#      dml-train --apply takes the step -- one seeded center, or one Lloyd
#      step -- until dml-inspect reports a status other than "running".
#
# The centers are those that one `dml-train -a kmeans` on all of DATA
# finds, whatever WORKERS is.  Then it prints, one 'name<TAB>value' per
# line: status (converged or max-iter), rounds (pass rounds), and
# dml-predict --eval's inertia and rows on DATA.  Progress goes to stderr.
#
# Usage: examples/kmeans-bsp.sh [DATA.csv]
#
#   DATA      CSV with a header row (default: data.csv)
#
# Environment:
#   K          number of clusters (default 3)
#   WORKERS    number of shards and of parallel workers (default 4)
#   LABEL      a column to leave out of the features (default: none)
#   SEED       seed of the k-means++ seeding (default 1)
#   MAX_ITER   bound on the Lloyd steps (default 300)
#   MODEL      where the model is written (default kmeans.dml)
#   WORKDIR    where the shards go (default: a temporary directory,
#              removed at exit)
#   RESUME     yes: if MODEL exists, continue it instead of starting
#              afresh -- after the loop was killed, rerun it with the same
#              settings and RESUME=yes; the result is byte-identical to an
#              uninterrupted run (default no)
#
# The dml-* binaries must be on PATH (after a build: PATH=$PWD/build/src:$PATH).
#
# Example:
#   K=10 WORKERS=8 LABEL=label examples/kmeans-bsp.sh train.csv

set -euo pipefail

me=${0##*/}
data=${1:-data.csv}
k=${K:-3}
workers=${WORKERS:-4}
seed=${SEED:-1}
max_iter=${MAX_ITER:-300}
model=${MODEL:-kmeans.dml}
label=()
[ -n "${LABEL:-}" ] && label=(-y "$LABEL")

say() { printf '%s: %s\n' "$me" "$*" >&2; }

[ -r "$data" ] || { say "$data: cannot read (usage: $me [DATA.csv])"; exit 2; }

if [ -n "${WORKDIR:-}" ]; then
	work=$WORKDIR
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/dml-kmeans.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

# Split the data: shard-0.csv ... shard-(WORKERS-1).csv, header repeated.
rm -f "$work"/shard-*.csv
dml-partition -n "$workers" -o "$work/shard-%d.csv" "$data"
shards=()
for ((i = 0; i < workers; i++)); do
	shards+=("$work/shard-$i.csv")
done

# fanout ARG...: run 'dml-train ARG... SHARD' for every shard at once and
# write all their records to stdout; --halt stops the round at the first
# failing worker.
fanout() {
	parallel -q -j "$workers" --halt now,fail=1 \
		dml-train "$@" {} ::: "${shards[@]}"
}

# Stats round: the initial model, unless resuming from one.  -o writes
# MODEL whole or not at all, so a killed loop leaves the model of its last
# complete round (or none).
if [ "${RESUME:-no}" = yes ] && [ -e "$model" ]; then
	say "resuming $model at iteration $(dml-inspect --field iteration "$model")"
else
	fanout -a kmeans --emit stats "${label[@]}" |
		dml-reduce --expect "$workers" |
		dml-train --apply - -a kmeans --k "$k" --seed "$seed" \
			--max-iter "$max_iter" -o "$model"
fi

# Pass rounds: the first K seed the centers, the others are Lloyd steps.
rounds=$(dml-inspect --field iteration "$model")
status=$(dml-inspect --field status "$model")
while [ "$status" = running ]; do
	fanout --emit stats -m "$model" "${label[@]}" |
		dml-reduce --expect "$workers" |
		dml-train --apply - -m "$model" -o "$model"
	rounds=$((rounds + 1))
	status=$(dml-inspect --field status "$model")
	say "round $rounds: inertia $(dml-inspect --field objective "$model"), $status"
done

printf 'status\t%s\nrounds\t%s\n' "$status" "$rounds"
dml-predict -m "$model" --eval "$data"
