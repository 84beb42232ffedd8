#!/usr/bin/env bash
# examples/regression.sh -- linear regression over shards, two ways.
#
# Splits TRAIN into WORKERS shards with dml-partition, then fits least
# squares on the numeric column TARGET:
#
#   1. exactly, in one round: every worker sums X'X and X'y over its
#      shard (dml-train -a linear --solver normal --emit stats), dml-reduce
#      adds the sums exactly, and dml-train --apply solves the normal
#      equations;
#   2. iteratively, by BSP gradient rounds (L-BFGS), as for any family.
#
# Then it prints, one 'name<TAB>value' per line: rounds (gradient rounds of
# way 2), and dml-predict --eval's rmse, mae, r2 and rows on TEST for each
# way, the names prefixed with normal_ and lbfgs_.  Progress goes to
# stderr.
#
# Usage: examples/regression.sh [TRAIN.csv [TEST.csv]]
#
#   TRAIN     CSV with a header row (default: train.csv)
#   TEST      CSV to evaluate on (default: TRAIN)
#
# Environment:
#   WORKERS   number of shards and of parallel workers (default 4)
#   TARGET    the numeric target column (default y)
#   L2        ridge penalty (default 1e-3)
#   L1        lasso penalty, for way 2 only (default 0)
#   WORKDIR   where the shards and models go (default: a temporary
#             directory, removed at exit)
#
# The dml-* binaries must be on PATH (after a build: PATH=$PWD/build/src:$PATH).
#
# Example:
#   TARGET=price WORKERS=8 examples/regression.sh houses.csv

set -euo pipefail

me=${0##*/}
train=${1:-train.csv}
test=${2:-$train}
workers=${WORKERS:-4}
target=${TARGET:-y}
l2=${L2:-1e-3}
l1=${L1:-0}

say() { printf '%s: %s\n' "$me" "$*" >&2; }

for f in "$train" "$test"; do
	[ -r "$f" ] || { say "$f: cannot read (usage: $me [TRAIN.csv [TEST.csv]])"; exit 2; }
done

if [ -n "${WORKDIR:-}" ]; then
	work=$WORKDIR
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/dml-regression.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

dml-partition -n "$workers" -o "$work/shard-%d.csv" "$train"
shards=()
for ((i = 0; i < workers; i++)); do
	shards+=("$work/shard-$i.csv")
done

# fanout ARG...: 'dml-train ARG... SHARD' for every shard at once.
fanout() {
	parallel -q -j "$workers" --halt now,fail=1 \
		dml-train "$@" {} ::: "${shards[@]}"
}

# 1. the normal equations: one round
fanout -a linear --solver normal --emit stats -y "$target" |
	dml-reduce --expect "$workers" |
	dml-train --apply - -a linear --solver normal --l2 "$l2" \
		-o "$work/normal.dml"
say "normal equations solved in one round"

# 2. gradient rounds, until L-BFGS (OWL-QN with L1) stops
fanout -a linear --emit stats -y "$target" |
	dml-reduce --expect "$workers" |
	dml-train --apply - -a linear --l2 "$l2" --l1 "$l1" --tol 1e-8 \
		-o "$work/lbfgs.dml"
rounds=0
while [ "$(dml-inspect --field status "$work/lbfgs.dml")" = running ]; do
	fanout --emit gradient -m "$work/lbfgs.dml" |
		dml-reduce --expect "$workers" |
		dml-train --apply - -m "$work/lbfgs.dml" -o "$work/lbfgs.dml"
	rounds=$((rounds + 1))
done
say "L-BFGS: $rounds gradient rounds"

printf 'rounds\t%s\n' "$rounds"
dml-predict -m "$work/normal.dml" --eval "$test" | sed 's/^/normal_/'
dml-predict -m "$work/lbfgs.dml" --eval "$test" | sed 's/^/lbfgs_/'
