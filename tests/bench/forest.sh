#!/bin/bash
# tests/bench/forest.sh -- the dml random forest of `make bench': bagging
# across shards as it would run on 4 hosts, here one after another on one
# core.  Partition the training set into 4 shards, grow a forest of
# TREES trees on each (every tree on its own bootstrap sample of its
# shard), merge the 4 forests with dml-ensemble into one.
#
# Usage: forest.sh TRAIN.csv OUTDIR TREES [bootstrap]
#
# With 'bootstrap', the 4 shards are instead 4 bootstrap samples of the
# whole training set (dml-partition -s bootstrap, as bagging across hosts
# sends them), each with its out-of-bag rows.
#
# Prints 'key<TAB>value' lines: oob (the rows-weighted mean of the shards'
# out-of-bag accuracies, each of a TREES-tree forest: within its own shard,
# or, for bootstrap samples, on the rows its sample did not draw),
# oob_rows, trees (of the merged forest).
set -eu
train=$1 out=$2 trees=$3 how=${4:-}
mkdir -p "$out"
if [ "$how" = bootstrap ]; then
	dml-partition -n 4 -s bootstrap --seed 1 -o "$out/shard-%d.csv" \
		--oob "$out/oob-%d.csv" "$train"
else
	dml-partition -n 4 -o "$out/shard-%d.csv" "$train"
fi
for i in 0 1 2 3; do
	dml-train -j1 -a forest --trees "$trees" --seed $((i + 1)) -v \
		-y label "$out/shard-$i.csv" -o "$out/forest-$i.dml" \
		2>"$out/forest-$i.log"
done
dml-ensemble "$out"/forest-[0-3].dml -o "$out/forest.dml"
if [ "$how" = bootstrap ]; then
	for i in 0 1 2 3; do
		dml-predict -m "$out/forest-$i.dml" --eval "$out/oob-$i.csv"
	done | awk -F'\t' '$1 == "accuracy" { a = $2 } $1 == "rows" { s += a * $2; n += $2 }
	END { printf "oob\t%.4f\noob_rows\t%d\n", s / n, n }'
else
sed -n 's/.*out-of-bag accuracy \([0-9.]*\) (\([0-9]*\) rows)/\1 \2/p' \
	"$out"/forest-[0-3].log |
	awk '{ s += $1 * $2; n += $2 }
	END { printf "oob\t%.4f\noob_rows\t%d\n", s / n, n }'
fi
printf 'trees\t%s\n' "$(dml-inspect --json "$out/forest.dml" |
	sed -n 's/.*"trees":\([0-9]*\).*/\1/p')"
