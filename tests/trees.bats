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

# ---- regression trees and forests (--task regression) ----

# steps N SEED: y = 3 if x1 > 0.5 else -1, plus 2 if x2 > 0.2, with a
# useless x3: piecewise constant, axis-aligned.
steps() {
	awk -v n="$1" -v s="$2" 'function u() { s = (s * 16807) % 2147483647
		return s / 2147483647 }
	BEGIN { print "x1,x2,x3,y"
		for (i = 0; i < n; i++) {
			a = u(); b = u(); c = u()
			printf "%.5f,%.5f,%.5f,%d\n", a, b, c,
				(a > 0.5 ? 3 : -1) + (b > 0.2 ? 2 : 0)
		} }'
}

# wave N SEED: y = sin(3 a) + 2 b^2 + d [c > 0] + noise (sd 0.3, the sum
# of 3 uniforms) on a..e in (-1, 1); e is useless.
wave() {
	awk -v n="$1" -v s="$2" 'function u() { s = (s * 16807) % 2147483647
		return 2 * s / 2147483647 - 1 }
	BEGIN { print "a,b,c,d,e,y"
		for (i = 0; i < n; i++) {
			a = u(); b = u(); c = u(); d = u(); e = u()
			z = 0.3 * (u() + u() + u())
			printf "%.5f,%.5f,%.5f,%.5f,%.5f,%.5f\n", a, b, c, d, e,
				sin(3 * a) + 2 * b * b + (c > 0) * d + z
		} }'
}

metric() { # NAME MODEL DATA
	$DML_WRAPPER dml-predict -m "$2" --eval "$3" |
		awk -F'\t' -v k="$1" '$1 == k { print $2 }'
}

@test "a regression tree fits a piecewise-constant target exactly" {
	# 5000 rows: more values than bins, cut points at quantiles
	steps 5000 3 > big.csv
	$DML_WRAPPER dml-train -a tree --task regression -y y big.csv -o b.dml
	run $DML_WRAPPER dml-predict -m b.dml --eval big.csv
	assert_success
	assert_output $'rmse\t0\nmae\t0\nr2\t1.000000\nrows\t5000'
	rmse=$(metric rmse b.dml big.csv)
	awk -v r="$rmse" 'BEGIN { exit !(r < 1e-9) }' || fail "rmse $rmse"
	# 250 rows: a cut between every two values, the four true leaves
	steps 250 7 > s.csv
	$DML_WRAPPER dml-train -a tree --task regression -y y s.csv -o t.dml
	assert_equal "$(metric rmse t.dml s.csv)" 0
	# four leaves, the four values, split on x1 and x2 only
	run $DML_WRAPPER dml-inspect --tree t.dml
	assert_success
	assert_line '  task           regression (leaves hold mean targets)'
	assert_line '  trees          1: 7 nodes, 4 leaves, depth up to 2'
	assert_line '  parameters     criterion=variance max-depth=64 min-leaf=1 max-features=all seed=1'
	refute_line --partial 'classes'
	refute_line --partial 'x3 <= '
	for v in -1 1 3 5; do
		assert_line --regexp "^      value $v: n=[0-9]+\$"
	done
	# fresh rows of the same rule: wrong only near the thresholds
	steps 2000 99 > s2.csv
	rmse=$(metric rmse t.dml s2.csv)
	# measured: 0.253 (the cut points are midpoints of the sample)
	awk -v r="$rmse" 'BEGIN { exit !(r < 0.5) }' || fail "held-out rmse $rmse"
	printf 'x1,x2,x3\n0.9,0.9,0\n0.1,0.1,0\n' > q.csv
	run $DML_WRAPPER dml-predict -m t.dml q.csv
	assert_output $'5\n-1'
	assert_equal "$(json_value t.dml family)" tree
}

@test "a regression tree on a tiny set: leaves hold means and counts" {
	printf 'x,y\n1,1\n2,2\n3,3\n10,10\n11,12\n' > s.csv
	$DML_WRAPPER dml-train -a tree --task regression --max-depth 1 \
		-y y s.csv -o t.dml
	run $DML_WRAPPER dml-inspect --tree t.dml
	assert_line '  x <= 6.5'
	assert_line '    value 2: n=3'
	assert_line '  x > 6.5'
	assert_line '    value 11: n=2'
	printf 'x\n0\n100\n' > q.csv
	run $DML_WRAPPER dml-predict -m t.dml q.csv
	assert_output $'2\n11'
	# --min-leaf 3 leaves one split with 3 rows a side at most: none
	$DML_WRAPPER dml-train -a tree --task regression --min-leaf 3 \
		-y y s.csv -o m.dml
	run $DML_WRAPPER dml-inspect --tree m.dml
	assert_line '  value 5.6: n=5'
}

@test "a regression forest beats a tree and -a linear on a noisy wave" {
	wave 2000 3 > t.csv
	wave 2000 77 > h.csv
	$DML_WRAPPER dml-train -a linear -y y t.csv -o l.dml
	$DML_WRAPPER dml-train -a tree --task regression -y y t.csv -o t.dml
	run --separate-stderr $DML_WRAPPER dml-train -a forest \
		--task regression --trees 100 -v -y y t.csv -o f.dml
	assert_success
	[[ $stderr =~ ^dml-train:\ out-of-bag\ rmse\ ([0-9.]+)\ r2\ (0\.[0-9]+)\ \(2000\ rows\)$ ]] ||
		fail "unexpected: $stderr"
	oob=${BASH_REMATCH[1]} oobr2=${BASH_REMATCH[2]}
	l=$(metric rmse l.dml h.csv)
	t=$(metric rmse t.dml h.csv)
	f=$(metric rmse f.dml h.csv)
	# measured: linear 0.822, tree 0.532, forest 0.367 (noise sd 0.3)
	awk -v t="$t" -v f="$f" -v l="$l" 'BEGIN {
		exit !(f < t - 0.1 && f < l - 0.3 && f < 0.42) }' ||
		fail "forest $f, tree $t, linear $l"
	# the out-of-bag estimate is honest: near the held-out figures
	assert_close "$oob" "$f" 0.04 "out-of-bag vs held-out rmse"
	assert_close "$oobr2" "$(metric r2 f.dml h.csv)" 0.04 "oob vs held-out r2"
	# all 5 features per split by default: better here than a third
	run $DML_WRAPPER dml-inspect f.dml
	assert_line '  parameters     criterion=variance max-depth=64 min-leaf=1 max-features=all seed=1'
	$DML_WRAPPER dml-train -a forest --task regression --trees 100 \
		--max-features 1 -y y t.csv -o f1.dml
	f1=$(metric rmse f1.dml h.csv)
	# measured: 0.432 with one feature per split
	awk -v f="$f" -v f1="$f1" 'BEGIN { exit !(f < f1 - 0.03) }' ||
		fail "all features $f, one feature $f1"
	assert_equal "$(json_value f.dml trees)" 100
}

@test "regression forests do not depend on -j, and depend on --seed" {
	wave 500 5 > t.csv
	$DML_WRAPPER dml-train -a forest --task regression --trees 20 -j 1 \
		-y y t.csv -o j1.dml
	$DML_WRAPPER dml-train -a forest --task regression --trees 20 -j 2 \
		-y y t.csv -o j2.dml
	cmp j1.dml j2.dml
	$DML_WRAPPER dml-train -a forest --task regression --trees 20 \
		--seed 2 -y y t.csv -o s2.dml
	! cmp -s j1.dml s2.dml
}

@test "regression forests of 2 shards merge by averaging and predict" {
	wave 2000 3 > t.csv
	wave 1000 77 > h.csv
	$DML_WRAPPER dml-partition -n 2 -o 'shard-%d.csv' t.csv
	for i in 0 1; do
		$DML_WRAPPER dml-train -a forest --task regression --trees 25 \
			--seed $((i + 1)) -y y shard-$i.csv -o f$i.dml
	done
	$DML_WRAPPER dml-ensemble f0.dml f1.dml -o all.dml
	assert_equal "$(json_value all.dml kind)" model
	assert_equal "$(json_value all.dml family)" forest
	assert_equal "$(json_value all.dml trees)" 50
	assert_equal "$(json_value all.dml samples)" 2000
	# the merged forest predicts the mean of the two forests
	$DML_WRAPPER dml-predict -m all.dml h.csv > pm
	$DML_WRAPPER dml-predict -m f0.dml h.csv > p0
	$DML_WRAPPER dml-predict -m f1.dml h.csv > p1
	paste p0 p1 pm | awk '{ d = ($1 + $2) / 2 - $3; if (d < 0) d = -d
		if (d > 1e-5 * (1 + ($3 < 0 ? -$3 : $3))) exit 1 }' ||
		fail "merged forest is not the average of its shards"
	f=$(metric rmse all.dml h.csv)
	f0=$(metric rmse f0.dml h.csv)
	f1=$(metric rmse f1.dml h.csv)
	# measured: shards 0.417 and 0.401, merged 0.381
	awk -v f="$f" -v a="$f0" -v b="$f1" 'BEGIN {
		exit !(f < 0.4 && f < a - 0.01 && f < b - 0.01) }' ||
		fail "merged rmse $f, shards $f0 $f1"
	# --weights average too; a vote of numbers is refused
	$DML_WRAPPER dml-ensemble --weights 1,1 f0.dml f1.dml -o w.dml
	assert_equal "$(json_value w.dml kind)" ensemble
	run $DML_WRAPPER dml-predict -m w.dml --eval h.csv
	assert_line --regexp '^rmse	0\.[0-4]'
	run --separate-stderr $DML_WRAPPER dml-ensemble --combine vote f0.dml f1.dml -o v.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-ensemble: f0.dml: regression models combine by average or --weights only (not --combine vote)'
	assert_file_not_exists v.dml
}

@test "regression trees: bad targets, criteria, merges and --proba" {
	printf 'x,y\n1,2.5\n2,3\n3,abc\n' > bad.csv
	run --separate-stderr $DML_WRAPPER dml-train -a tree --task regression \
		-y y bad.csv -o t.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-train: bad.csv:4:2: target 'abc' is not a finite number"
	assert_file_not_exists t.dml
	steps 50 7 > s.csv
	run --separate-stderr $DML_WRAPPER dml-train -a tree --task regression \
		--criterion gini -y y s.csv -o t.dml
	assert_failure 2
	assert_output ""
	[[ $stderr == "dml-train: --criterion gini is for classification: a regression tree splits by variance"* ]] ||
		fail "unexpected: $stderr"
	run --separate-stderr $DML_WRAPPER dml-train -a forest --task regression \
		--criterion entropy -y y s.csv
	assert_failure 2
	[[ $stderr == "dml-train: --criterion entropy is for classification: a regression forest splits by variance"* ]] ||
		fail "unexpected: $stderr"
	run --separate-stderr $DML_WRAPPER dml-train -a tree --criterion variance \
		-y y s.csv
	assert_failure 2
	[[ $stderr == "dml-train: --criterion variance is for regression (--task regression)"* ]] ||
		fail "unexpected: $stderr"
	# --criterion variance with --task regression is the default spelled out
	$DML_WRAPPER dml-train -a tree --task regression -y y s.csv -o r1.dml
	$DML_WRAPPER dml-train -a tree --task regression --criterion variance \
		-y y s.csv -o r2.dml
	cmp r1.dml r2.dml
	# a regression forest and a classification forest do not merge
	xor 50 7 > x.csv
	$DML_WRAPPER dml-train -a forest --trees 3 -y y x.csv -o c.dml
	sed 's/^x1,x2,x3,/a,b,c,/' s.csv > s3.csv
	$DML_WRAPPER dml-train -a forest --task regression --trees 3 -y y \
		s3.csv -o r.dml
	run --separate-stderr $DML_WRAPPER dml-ensemble r.dml c.dml -o m.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-ensemble: c.dml: record 1: member 2 is a classification model, member 1 a regression one: regression and classification do not combine"
	assert_file_not_exists m.dml
	run --separate-stderr $DML_WRAPPER dml-ensemble c.dml r.dml -o m.dml
	assert_failure 1
	assert_equal "$stderr" "dml-ensemble: r.dml: record 1: member 2 is a regression model, member 1 a classification one: regression and classification do not combine"
	# no probabilities from numbers
	run --separate-stderr $DML_WRAPPER dml-predict -m r1.dml --proba s.csv
	assert_failure 2
	assert_output ""
	[[ $stderr == "dml-predict: --proba: a regression tree model gives no probabilities"* ]] ||
		fail "unexpected: $stderr"
}

# craft IN OUT EDIT: rewrite the single model record IN with the python
# statement EDIT (on p, the bytes; params(key) the offset of a Params
# value, tree(i) that of tree section i's data) and reseal its CRCs.
craft() {
	/usr/bin/python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
p = bytearray(open(sys.argv[1], 'rb').read())
def crc(b):
    c = 0xffffffff
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ (0x82f63b78 if c & 1 else 0)
    return c ^ 0xffffffff
def sections():
    pos, end = 80, 80 + struct.unpack_from('<Q', p, 24)[0]
    while pos + 16 <= end:
        tag, _, n = struct.unpack_from('<IIQ', p, pos)
        yield tag, pos + 16, n
        pos += 16 + ((n + 7) & ~7)
def params(key):
    for tag, at, n in sections():
        if tag == 4:
            for o in range(at, at + n, 16):
                if struct.unpack_from('<I', p, o)[0] == key:
                    return o + 8
def tree(i):
    return [at for tag, at, n in sections() if tag == 25][i]
exec(sys.argv[3])
end = 80 + struct.unpack_from('<Q', p, 24)[0]
struct.pack_into('<I', p, 76, crc(p[:76]))
struct.pack_into('<I', p, end, crc(p[:end]))
open(sys.argv[2], 'wb').write(p)
PY
}

@test "crafted regression tree records: classes, leaf values, criterion" {
	[[ -x /usr/bin/python3 ]] || skip "no python3 to craft records"
	printf 'x,y\n1,1\n2,2\n3,3\n10,10\n11,12\n' > s.csv
	$DML_WRAPPER dml-train -a tree --task regression --max-depth 1 \
		-y y s.csv -o r.dml
	# resealed but unchanged: still good
	craft r.dml same.dml 'pass'
	cmp r.dml same.dml
	# the criterion (key 50) of gini: a classifier of no classes
	craft r.dml gini.dml "struct.pack_into('<Q', p, params(50), 0)"
	run --separate-stderr $DML_WRAPPER dml-predict -m gini.dml s.csv
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-predict: gini.dml: 0 classes for a tree model"
	# a criterion beyond variance
	craft r.dml c3.dml "struct.pack_into('<Q', p, params(50), 3)"
	run --separate-stderr $DML_WRAPPER dml-inspect c3.dml
	assert_failure 1
	[[ $stderr == *"c3.dml: record 1: malformed parameters" ]] ||
		fail "unexpected: $stderr"
	# the first leaf (node 1) of 0 rows, then of a mean that is NaN;
	# leaf values follow the 16-byte head and 3 nodes of 24 bytes
	craft r.dml n0.dml "struct.pack_into('<d', p, tree(0) + 88 + 8, 0)"
	run --separate-stderr $DML_WRAPPER dml-predict -m n0.dml s.csv
	assert_failure 1
	assert_equal "$stderr" "dml-predict: n0.dml: tree 1: leaf value 0 malformed"
	craft r.dml nan.dml "struct.pack_into('<d', p, tree(0) + 88, float('nan'))"
	run --separate-stderr $DML_WRAPPER dml-predict -m nan.dml s.csv
	assert_failure 1
	assert_equal "$stderr" "dml-predict: nan.dml: tree 1: leaf value 0 malformed"
	# a classification tree marked variance: a regression tree of classes
	printf 'x,y\n1,a\n2,a\n3,b\n' > c.csv
	$DML_WRAPPER dml-train -a tree -y y c.csv -o c.dml
	craft c.dml v.dml "struct.pack_into('<Q', p, params(50), 2)"
	run --separate-stderr $DML_WRAPPER dml-inspect v.dml
	assert_failure 1
	[[ $stderr == *"v.dml: record 1: 2 classes for a regression tree model" ]] ||
		fail "unexpected: $stderr"
}
