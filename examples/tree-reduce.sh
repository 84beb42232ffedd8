#!/usr/bin/env bash
# examples/tree-reduce.sh -- a two-level reduction tree, checked against a
# flat one.
#
# In a cluster, each rack head reduces the records of its own workers and the
# root reduces the rack results, so no machine receives every worker's
# record.  dml-reduce sums exactly, so the tree must give the same bytes as
# one flat dml-reduce over all the workers.  This script shows the tree and
# checks that claim on real records of all three kinds:
#
#   stats     the first round of training (dml-train --emit stats)
#   gradient  a BSP round at the initial model (dml-train --emit gradient)
#   model     a model-averaging round (one SGD epoch per shard)
#
# For each kind it runs WORKERS local workers with GNU parallel, split into
# RACKS groups of consecutive shards; every group is reduced by its own
# dml-reduce (the groups run at the same time), then a root dml-reduce
# combines the group results.  The flat reduce gets the same worker records
# in another order.  It prints one line per kind,
#
#   stats: tree (8 workers in 2 groups) and flat reduce are byte-identical
#
# and exits 1 if any pair differs.
#
# Usage: examples/tree-reduce.sh [TRAIN.csv]
#
#   TRAIN     CSV with a header row (default: train.csv)
#
# Environment:
#   WORKERS    number of shards (default 8)
#   KINDS      which kinds to check (default: stats gradient model)
#   RACKS      number of groups (default 2); WORKERS is split among them as
#              evenly as possible
#   LABEL      label column (default label)
#   ALGORITHM  model family, softmax or logistic (default softmax)
#   WORKDIR    where shards and records go (default: a temporary directory,
#              removed at exit); the pairs are WORKDIR/KIND-tree.dml and
#              WORKDIR/KIND-flat.dml
#
# The dml-* binaries must be on PATH.
#
# Example:
#   WORKERS=12 RACKS=3 examples/tree-reduce.sh train.csv

set -euo pipefail

me=${0##*/}
train=${1:-train.csv}
workers=${WORKERS:-8}
ngroups=${RACKS:-2}
label=${LABEL:-label}
algorithm=${ALGORITHM:-softmax}
kinds=" ${KINDS:-stats gradient model} "

say() { printf '%s: %s\n' "$me" "$*" >&2; }

[ -r "$train" ] || { say "$train: cannot read (usage: $me [TRAIN.csv])"; exit 2; }
if [ "$ngroups" -lt 1 ] || [ "$ngroups" -gt "$workers" ]; then
	say "RACKS must be between 1 and WORKERS ($workers)"
	exit 2
fi

if [ -n "${WORKDIR:-}" ]; then
	work=$WORKDIR
	mkdir -p "$work"
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/dml-tree.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi

rm -f "$work"/shard-*.csv "$work"/group-*.dml
dml-partition -n "$workers" -o "$work/shard-%d.csv" "$train"

# tree OUT ARG...: every group runs 'dml-train ARG... SHARD' on its shards
# and reduces them to WORKDIR/group-G.dml; the root reduces the groups.
tree() {
	local out=$1 g i first last pids=()
	shift
	for ((g = 0; g < ngroups; g++)); do
		first=$((g * workers / ngroups))
		last=$(((g + 1) * workers / ngroups))
		local shards=()
		for ((i = first; i < last; i++)); do
			shards+=("$work/shard-$i.csv")
		done
		parallel -q -j "${#shards[@]}" --halt now,fail=1 \
			dml-train "$@" {} ::: "${shards[@]}" |
			dml-reduce --expect "${#shards[@]}" -o "$work/group-$g.dml" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do
		wait "$i"
	done
	local groups=()
	for ((g = 0; g < ngroups; g++)); do
		groups+=("$work/group-$g.dml")
	done
	dml-reduce --expect "$workers" -o "$out" "${groups[@]}"
}

# flat OUT ARG...: one dml-reduce over every worker's record, with the
# workers listed last shard first.
flat() {
	local out=$1 i shards=()
	shift
	for ((i = workers - 1; i >= 0; i--)); do
		shards+=("$work/shard-$i.csv")
	done
	parallel -q -j "$workers" --halt now,fail=1 \
		dml-train "$@" {} ::: "${shards[@]}" |
		dml-reduce --expect "$workers" -o "$out"
}

status=0
check() {
	local kind=$1
	if cmp -s "$work/$kind-tree.dml" "$work/$kind-flat.dml"; then
		echo "$kind: tree ($workers workers in $ngroups groups) and flat reduce are byte-identical"
	else
		echo "$kind: tree ($workers workers in $ngroups groups) and flat reduce DIFFER"
		status=1
	fi
}

# The records of every kind, by tree and flat; the model for the gradient
# and model rounds comes from the stats.
tree "$work/stats-tree.dml" --emit stats -y "$label"
case $kinds in *" stats "*)
	flat "$work/stats-flat.dml" --emit stats -y "$label"
	check stats ;;
esac

dml-train --apply "$work/stats-tree.dml" -a "$algorithm" -o "$work/model.dml"

case $kinds in *" gradient "*)
	tree "$work/gradient-tree.dml" --emit gradient -m "$work/model.dml"
	flat "$work/gradient-flat.dml" --emit gradient -m "$work/model.dml"
	check gradient ;;
esac

case $kinds in *" model "*)
	tree "$work/model-tree.dml" --emit model -m "$work/model.dml" \
		--optimizer sgd --epochs 1
	flat "$work/model-flat.dml" --emit model -m "$work/model.dml" \
		--optimizer sgd --epochs 1
	check model ;;
esac

exit "$status"
