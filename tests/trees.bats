#!/usr/bin/env bats
# dml-train -a tree / -a forest: CART trees and random forests; forests
# grown on shards merged by dml-ensemble; dml-inspect --tree.

load setup
load helpers

# xor N SEED: N rows of an axis-aligned XOR on a, b in (-1, 1), with a
# third, useless column c; the class is whether a and b have one sign.
# Park-Miller numbers, exact in awk's doubles, so every awk agrees.
xor() {
	awk -v n="$1" -v s="$2" 'function u() { s = (s * 16807) % 2147483647
		return 2 * s / 2147483647 - 1 }
	BEGIN { print "a,b,c,y"
		for (i = 0; i < n; i++) {
			a = u(); b = u(); c = u()
			printf "%.5f,%.5f,%.5f,%s\n", a, b, c,
				(a > 0) == (b > 0) ? "same" : "differ"
		} }'
}

# blobs: 3 overlapping classes, 1000 rows to train (t.csv), 2000 held out
# (h.csv), from one draw so that both have the same class centres.
blobs() {
	synth blobs -n 3000 --classes 3 --features 8 --spread 0.5 --seed 11 \
		> all.csv
	head -n 1001 all.csv > t.csv
	{ head -n 1 all.csv; tail -n 2000 all.csv; } > h.csv
}

accuracy() { # MODEL DATA
	$DML_WRAPPER dml-predict -m "$1" --eval "$2" |
		awk -F'\t' '$1 == "accuracy" { print $2 }'
}

@test "a tree fits an axis-aligned XOR exactly; logistic regression cannot" {
	xor 400 7 > x.csv
	$DML_WRAPPER dml-train -a tree -y y x.csv -o t.dml
	assert_equal "$(accuracy t.dml x.csv)" 1.000000
	# and it generalizes: a fresh draw of the same problem
	xor 1000 99 > x2.csv
	acc=$(accuracy t.dml x2.csv)
	awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' ||
		fail "held-out XOR accuracy $acc < 0.97"
	$DML_WRAPPER dml-train -a logistic -y y x.csv -o l.dml
	acc=$(accuracy l.dml x.csv)
	awk -v a="$acc" 'BEGIN { exit !(a < 0.75) }' ||
		fail "logistic regression fits XOR to $acc"
	# the tree splits only on a and b, never on the useless c
	run $DML_WRAPPER dml-inspect --tree t.dml
	assert_success
	assert_line --partial 'a <= '
	assert_line --partial 'b <= '
	refute_line --partial 'c <= '
	assert_equal "$(json_value t.dml family)" tree
	assert_equal "$(json_value t.dml trees)" 1
}

@test "dml-inspect --tree prints splits and leaves with class counts" {
	printf 'x,y\n1,lo\n2,lo\n3,lo\n10,hi\n11,hi\n' > s.csv
	$DML_WRAPPER dml-train -a tree -y y s.csv -o t.dml
	run --separate-stderr $DML_WRAPPER dml-inspect --tree t.dml
	assert_success
	assert_line '  trees          1: 3 nodes, 2 leaves, depth up to 1'
	assert_line '  parameters     criterion=gini max-depth=64 min-leaf=1 max-features=all seed=1'
	assert_line 'tree 1 of 1'
	assert_line '  x <= 6.5'
	assert_line '    class lo: hi=0 lo=3'
	assert_line '  x > 6.5'
	assert_line '    class hi: hi=2 lo=0'
	printf 'x\n6.5\n6.6\n' > q.csv
	run $DML_WRAPPER dml-predict -m t.dml --proba q.csv
	assert_output $'label\thi\tlo\nlo\t0\t1\nhi\t1\t0'
}

@test "--max-depth and --min-leaf bound the tree; entropy works as gini" {
	xor 400 7 > x.csv
	$DML_WRAPPER dml-train -a tree --max-depth 1 -y y x.csv -o d1.dml
	run $DML_WRAPPER dml-inspect d1.dml
	assert_line '  trees          1: 3 nodes, 2 leaves, depth up to 1'
	$DML_WRAPPER dml-train -a tree --min-leaf 150 -y y x.csv -o m.dml
	run $DML_WRAPPER dml-inspect --tree m.dml
	# every leaf holds at least 150 rows
	printf '%s\n' "$output" | awk '/^ *class / { s = 0
		for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) s += kv[2]
		if (s < 150) exit 1 }' || fail "a leaf under 150 rows"
	$DML_WRAPPER dml-train -a tree --criterion entropy -y y x.csv -o e.dml
	assert_equal "$(accuracy e.dml x.csv)" 1.000000
	run $DML_WRAPPER dml-inspect e.dml
	assert_line --partial 'criterion=entropy'
}

@test "a forest beats a single tree on noisy classes (held-out accuracy)" {
	blobs
	$DML_WRAPPER dml-train -a tree -y label t.csv -o tree.dml
	$DML_WRAPPER dml-train -a forest --trees 50 --seed 3 -y label t.csv \
		-o forest.dml
	t=$(accuracy tree.dml h.csv)
	f=$(accuracy forest.dml h.csv)
	# measured: tree 0.603, forest 0.70
	awk -v t="$t" -v f="$f" 'BEGIN { exit !(f >= t + 0.05) }' ||
		fail "forest $f does not beat tree $t by 0.05"
	assert_equal "$(json_value forest.dml trees)" 50
	assert_equal "$(json_value forest.dml family)" forest
}

@test "forests do not depend on -j, and depend on --seed" {
	blobs
	$DML_WRAPPER dml-train -a forest --trees 20 -j 1 -y label t.csv -o j1.dml
	$DML_WRAPPER dml-train -a forest --trees 20 -j 2 -y label t.csv -o j2.dml
	$DML_WRAPPER dml-train -a forest --trees 20 -j 3 -y label t.csv -o j3.dml
	cmp j1.dml j2.dml
	cmp j1.dml j3.dml
	$DML_WRAPPER dml-train -a forest --trees 20 --seed 2 -y label t.csv \
		-o s2.dml
	! cmp -s j1.dml s2.dml
}

@test "-v reports the out-of-bag accuracy of a forest" {
	blobs
	run --separate-stderr $DML_WRAPPER dml-train -a forest --trees 30 -v \
		-y label t.csv -o f.dml
	assert_success
	[[ $stderr =~ ^dml-train:\ out-of-bag\ accuracy\ (0\.[0-9]+)\ \(1000\ rows\)$ ]] ||
		fail "unexpected: $stderr"
	oob=${BASH_REMATCH[1]}
	held=$(accuracy f.dml h.csv)
	# an honest estimate: within 0.05 of the held-out accuracy
	assert_close "$oob" "$held" 0.05 "out-of-bag vs held-out accuracy"
}

@test "forests grown on 4 shards merge into one forest that predicts" {
	blobs
	$DML_WRAPPER dml-partition -n 4 -o 'shard-%d.csv' t.csv
	for i in 0 1 2 3; do
		$DML_WRAPPER dml-train -a forest --trees 10 --seed $((i + 1)) \
			-y label shard-$i.csv -o f$i.dml
	done
	$DML_WRAPPER dml-ensemble f0.dml f1.dml f2.dml f3.dml -o all.dml
	assert_equal "$(json_value all.dml kind)" model
	assert_equal "$(json_value all.dml family)" forest
	assert_equal "$(json_value all.dml trees)" 40
	assert_equal "$(json_value all.dml samples)" 1000
	assert_equal "$(json_value all.dml contributions)" 4
	acc=$(accuracy all.dml h.csv)
	awk -v a="$acc" 'BEGIN { exit !(a >= 0.65) }' ||
		fail "merged forest accuracy $acc"
	# a forest of forests flattens, in any grouping
	$DML_WRAPPER dml-ensemble f0.dml f1.dml -o a.dml
	$DML_WRAPPER dml-ensemble f2.dml f3.dml -o b.dml
	$DML_WRAPPER dml-ensemble a.dml b.dml -o ab.dml
	$DML_WRAPPER dml-predict -m all.dml --proba h.csv > p1
	$DML_WRAPPER dml-predict -m ab.dml --proba h.csv > p2
	cmp p1 p2
	# the same shard twice is caught by its leaf identity
	run --separate-stderr $DML_WRAPPER dml-ensemble f0.dml f0.dml
	assert_failure 1
	assert_output ""
	[[ $stderr == "dml-ensemble: f0.dml: leaf "*" contributes twice"* ]] ||
		[[ $stderr == "dml-ensemble: f0.dml: "*"twice"* ]] ||
		fail "unexpected: $stderr"
}

@test "tree models cannot be reduced or trained further" {
	xor 100 7 > x.csv
	$DML_WRAPPER dml-train -a tree -y y x.csv -o t.dml
	run --separate-stderr $DML_WRAPPER dml-reduce t.dml t.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: t.dml: record 1: tree models cannot be reduced (give them to dml-ensemble)'
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m t.dml x.csv
	assert_failure 1
	assert_equal "$stderr" 'dml-train: t.dml: a tree model cannot be trained further or take gradients'
	run --separate-stderr $DML_WRAPPER dml-train -a forest --emit stats -y y x.csv
	assert_failure 2
	[[ $stderr == "dml-train: -a forest grows in one process: no --apply or --emit (combine shards' forests with dml-ensemble)"* ]] ||
		fail "unexpected: $stderr"
}

@test "bad tree options are usage errors" {
	xor 20 7 > x.csv
	for bad in '--max-depth 0' '--max-depth 65' '--min-leaf 0' \
		'--trees 0' '--max-features 0' '--criterion log'; do
		# shellcheck disable=SC2086 # words on purpose
		run --separate-stderr $DML_WRAPPER dml-train -a tree $bad -y y x.csv
		assert_failure 2
		assert_output ""
	done
	run --separate-stderr $DML_WRAPPER dml-train -a tree --criterion log -y y x.csv
	[[ $stderr == "dml-train: --criterion: unknown criterion 'log' (gini, entropy, variance)"* ]] ||
		fail "unexpected: $stderr"
	printf 'x,y\n1,a\n2,a\n' > one.csv
	run --separate-stderr $DML_WRAPPER dml-train -a tree -y y one.csv -o t.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-train: one.csv: a tree needs at least 2 classes, found 1'
	assert_file_not_exists t.dml
}
