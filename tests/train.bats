#!/usr/bin/env bats
# dml-train against known answers: separable data is learned exactly, the
# softmax optimum matches an independent solver, and distributing the work
# (BSP rounds over 1, 2 or 5 shards) does not change the answer.

load setup
load helpers

@test "logistic learns separable data to 100% and predicts the label strings" {
	synth separable -n 400 --features 4 --seed 11 > sep.csv
	run --separate-stderr $DML_WRAPPER dml-train -a logistic -y label \
		sep.csv -o m.dml
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" ""
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval sep.csv
	assert_success
	assert_line --index 0 $'accuracy\t1.000000'
	assert_line --index 2 $'rows\t400'
	# every prediction is the row's own label, spelled as in the input
	$DML_WRAPPER dml-predict -m m.dml sep.csv > pred
	label_column sep.csv > truth
	grep -qx benign truth && grep -qx malignant truth
	cmp pred truth
}

@test "softmax learns separable data to 100% and predicts the label strings" {
	synth separable -n 400 --features 3 --seed 12 > sep.csv
	$DML_WRAPPER dml-train -a softmax -y label sep.csv -o m.dml
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval sep.csv
	assert_success
	assert_line --index 0 $'accuracy\t1.000000'
	$DML_WRAPPER dml-predict -m m.dml sep.csv > pred
	label_column sep.csv | cmp pred -
}

@test "numeric labels in the first column, chosen by number" {
	synth separable -n 300 --features 3 --seed 13 --label-first \
		--numeric-labels > sep.csv
	$DML_WRAPPER dml-train -a logistic -y 1 sep.csv -o m.dml
	run $DML_WRAPPER dml-inspect --field classes m.dml
	assert_output 2
	$DML_WRAPPER dml-predict -m m.dml sep.csv > pred
	label_column sep.csv 1 | cmp pred -
	sort -u pred | tr '\n' ' ' | grep -qx '0 1 '
}

@test "a model remembers the label column: -y by number names it" {
	synth separable -n 100 --features 2 --seed 14 > sep.csv
	$DML_WRAPPER dml-train -a logistic -y 3 sep.csv -o by-number.dml
	$DML_WRAPPER dml-train -a logistic -y label sep.csv -o by-name.dml
	cmp by-number.dml by-name.dml
	run $DML_WRAPPER dml-predict -m by-number.dml --eval sep.csv
	assert_line --index 0 $'accuracy\t1.000000'
}

@test "softmax reaches the optimum of an independent reference solver" {
	require_ref_softmax
	synth blobs -n 600 --classes 3 --features 5 --seed 7 > blobs.csv
	ref=$("$REF_SOFTMAX" blobs.csv 2>/dev/null)
	$DML_WRAPPER dml-train -a softmax -y label --tol 1e-9 \
		--max-iter 1000 blobs.csv -o m.dml
	run $DML_WRAPPER dml-inspect --field status m.dml
	assert_output converged
	got=$($DML_WRAPPER dml-inspect --field objective m.dml)
	assert_close "$got" "$ref" 1e-6 "dml and the reference objective"
	# the overlap is real: the optimum is not near zero loss
	assert_not_close "$got" 0 0.05 "objective and zero"
}

@test "softmax with --l2 0.05 matches the reference with the same penalty" {
	require_ref_softmax
	synth blobs -n 500 --classes 4 --features 3 --seed 8 > blobs.csv
	ref=$("$REF_SOFTMAX" --l2 0.05 blobs.csv 2>/dev/null)
	ref_default=$("$REF_SOFTMAX" blobs.csv 2>/dev/null)
	# the penalty moves the optimum far more than the tolerance below
	assert_not_close "$ref" "$ref_default" 1e-3 "the two optima"
	$DML_WRAPPER dml-train -a softmax -y label --l2 0.05 --tol 1e-9 \
		--max-iter 1000 blobs.csv -o m.dml
	got=$($DML_WRAPPER dml-inspect --field objective m.dml)
	assert_close "$got" "$ref" 1e-6 "dml and the reference objective"
}

@test "gradient descent (--optimizer gd) reaches the same optimum" {
	require_ref_softmax
	synth blobs -n 300 --classes 3 --features 3 --seed 9 > blobs.csv
	ref=$("$REF_SOFTMAX" blobs.csv 2>/dev/null)
	$DML_WRAPPER dml-train -a softmax -y label --optimizer gd --tol 1e-8 \
		--max-iter 5000 blobs.csv -o m.dml
	[[ $(json_value m.dml optimizer) == gd ]]
	got=$($DML_WRAPPER dml-inspect --field objective m.dml)
	assert_close "$got" "$ref" 1e-6 "dml (gd) and the reference objective"
}

@test "mini-batch SGD learns separable data to 100%" {
	synth separable -n 300 --features 3 --seed 15 > sep.csv
	$DML_WRAPPER dml-train -a logistic -y label --optimizer sgd sep.csv \
		-o m.dml
	run $DML_WRAPPER dml-predict -m m.dml --eval sep.csv
	assert_line --index 0 $'accuracy\t1.000000'
}

@test "the same inputs give byte-identical records, from a file or stdin" {
	synth blobs -n 200 --classes 3 --features 3 --seed 21 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o a.dml
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o b.dml
	$DML_WRAPPER dml-train -a softmax -y label < d.csv > c.dml
	$DML_WRAPPER dml-train -a softmax -y label - < d.csv > d.dml
	cmp a.dml b.dml
	cmp a.dml c.dml
	cmp a.dml d.dml
	$DML_WRAPPER dml-train --emit stats -y label d.csv > s1.dml
	$DML_WRAPPER dml-train --emit stats -y label d.csv > s2.dml
	cmp s1.dml s2.dml
	# and a different seed of the data gives a different model
	synth blobs -n 200 --classes 3 --features 3 --seed 22 > e.csv
	$DML_WRAPPER dml-train -a softmax -y label e.csv -o e.dml
	! cmp -s a.dml e.dml
}

@test "several input files are one data set" {
	synth blobs -n 300 --classes 3 --features 3 --seed 23 > d.csv
	$DML_WRAPPER dml-partition -n 2 -s range d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o one.dml
	$DML_WRAPPER dml-train -a softmax -y label shard-0.csv shard-1.csv \
		-o two.dml
	assert_equal "$(json_value two.dml samples)" 300
	assert_equal "$($DML_WRAPPER dml-inspect --field objective two.dml)" \
		"$($DML_WRAPPER dml-inspect --field objective one.dml)"
}

@test "--verbose prints one objective line per gradient evaluation" {
	synth blobs -n 200 --classes 3 --features 2 --seed 24 > d.csv
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label \
		--warm-start 0 --verbose d.csv -o m.dml
	assert_success
	evals=$(json_value m.dml evaluations)
	((evals > 2))
	assert_equal "$(grep -c '' <<< "$stderr")" "$evals"
	assert_equal "$(grep -c '^dml-train: .*objective' <<< "$stderr")" \
		"$evals"
	# without --verbose, nothing at all
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label \
		--warm-start 0 d.csv -o m2.dml
	assert_equal "$stderr" ""
	cmp m.dml m2.dml
}

@test "BSP rounds over 1, 2 and 5 shards reach the same objective" {
	synth blobs -n 300 --classes 3 --features 4 --seed 31 > d.csv
	BSP_OPTS=(--tol 1e-10) # still running after 15 rounds
	for n in 1 2 5; do
		mkdir "p$n"
		$DML_WRAPPER dml-partition -n "$n" -o "p$n/shard-%d.csv" d.csv
		shards=("p$n"/shard-*.csv)
		assert_equal "${#shards[@]}" "$n"
		bsp_init "p$n/m.dml" "${shards[@]}"
		bsp_rounds "p$n/m.dml" 15 "${shards[@]}"
		assert_equal "$(json_value "p$n/m.dml" iteration)" 15
		assert_equal "$(json_value "p$n/m.dml" evaluations)" 15
		assert_equal "$(json_value "p$n/m.dml" contributions)" "$n"
		assert_equal "$(json_value "p$n/m.dml" samples)" 300
		assert_equal "$(json_value "p$n/m.dml" status)" running
		obj[n]=$($DML_WRAPPER dml-inspect --field objective "p$n/m.dml")
	done
	assert_close "${obj[2]}" "${obj[1]}" 1e-9 "objectives of 1 and 2 shards"
	assert_close "${obj[5]}" "${obj[1]}" 1e-9 "objectives of 1 and 5 shards"
	# 15 evaluations got well below the starting loss log(3) = 1.0986
	assert_not_close "${obj[1]}" 1.0986 0.1 "objective and log(3)"
	# and they predict alike
	$DML_WRAPPER dml-predict -m p1/m.dml d.csv > pred1
	$DML_WRAPPER dml-predict -m p5/m.dml d.csv > pred5
	cmp pred1 pred5
}

@test "one-process fit and 1-shard BSP with as many evaluations are identical" {
	# The default fit starts with SGD epochs (--warm-start), which BSP
	# rounds do not have: without them, the two take the same steps.
	synth blobs -n 300 --classes 3 --features 4 --seed 32 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label --max-iter 8 \
		--warm-start 0 d.csv -o fit.dml
	assert_equal "$(json_value fit.dml status)" max-iter
	evals=$(json_value fit.dml evaluations)
	((evals >= 8))
	# the same parameters in the BSP model, and as many rounds
	$DML_WRAPPER dml-partition -n 1 d.csv
	cmp d.csv shard-0.csv
	BSP_OPTS=(--max-iter 8 --warm-start 0)
	bsp_init bsp.dml shard-0.csv
	bsp_rounds bsp.dml "$evals" shard-0.csv
	assert_equal "$(json_value bsp.dml evaluations)" "$evals"
	assert_equal "$($DML_WRAPPER dml-inspect --field objective bsp.dml)" \
		"$($DML_WRAPPER dml-inspect --field objective fit.dml)"
	cmp fit.dml bsp.dml
	# a further round on a finished model changes nothing
	bsp_rounds bsp.dml 1 shard-0.csv
	cmp fit.dml bsp.dml
}

@test "an L-BFGS fit and BSP rounds agree evaluation by evaluation" {
	synth blobs -n 200 --classes 3 --features 3 --seed 33 > d.csv
	$DML_WRAPPER dml-partition -n 1 d.csv
	bsp_init bsp.dml shard-0.csv
	for k in 4 9; do
		$DML_WRAPPER dml-train -a softmax -y label --max-iter "$k" \
			--warm-start 0 d.csv -o "fit$k.dml"
		evals=$(json_value "fit$k.dml" evaluations)
		cp bsp.dml "bsp$k.dml"
		bsp_rounds "bsp$k.dml" "$evals" shard-0.csv
		assert_equal "$(json_value "bsp$k.dml" objective)" \
			"$(json_value "fit$k.dml" objective)"
		assert_equal "$(json_value "bsp$k.dml" iterations)" "$k"
	done
}

@test "model averaging: --emit model on each shard, then dml-reduce" {
	synth separable -n 400 --features 3 --seed 34 > d.csv
	$DML_WRAPPER dml-partition -n 4 -s random --seed 3 d.csv
	shards=(shard-0.csv shard-1.csv shard-2.csv shard-3.csv)
	for s in "${shards[@]}"; do
		$DML_WRAPPER dml-train --emit stats -y label "$s"
	done | $DML_WRAPPER dml-reduce | $DML_WRAPPER dml-train --apply - \
		-a logistic -o m0.dml
	for s in "${shards[@]}"; do
		$DML_WRAPPER dml-train -m m0.dml --emit model "$s"
	done | $DML_WRAPPER dml-reduce --expect 4 > m1.dml
	assert_equal "$(json_value m1.dml kind)" model
	assert_equal "$(json_value m1.dml iteration)" 1
	assert_equal "$(json_value m1.dml samples)" 400
	assert_equal "$(json_value m1.dml contributions)" 4
	run $DML_WRAPPER dml-predict -m m1.dml --eval d.csv
	assert_line --index 0 $'accuracy\t1.000000'
	# a second round starts from the average
	for s in "${shards[@]}"; do
		$DML_WRAPPER dml-train -m m1.dml --emit model "$s"
	done | $DML_WRAPPER dml-reduce --expect 4 > m2.dml
	assert_equal "$(json_value m2.dml iteration)" 2
}

@test "a feature constant in training does not sway predictions" {
	# A constant feature carries no information; the model gives it
	# scale 0, so whatever value it takes later cannot matter.
	synth blobs -n 300 --classes 3 --features 3 --seed 35 > d.csv
	awk -F, -v OFS=, 'NR == 1 { print $0, "c"; next } { print $0, 0.3 }' \
		d.csv > train.csv
	$DML_WRAPPER dml-train -a softmax -y label train.csv -o m.dml
	$DML_WRAPPER dml-predict -m m.dml --proba train.csv > p1
	sed 's/,0\.3$/,0.4/' train.csv > moved.csv
	! cmp -s train.csv moved.csv
	$DML_WRAPPER dml-predict -m m.dml --proba moved.csv > p2
	cmp p1 p2
}

@test "training on tests/files/golden.csv reproduces golden-model.dml" {
	cp "$DML_SRCDIR/tests/files/golden.csv" .
	$DML_WRAPPER dml-train -a logistic -y label golden.csv -o model.dml
	cmp model.dml "$DML_SRCDIR/tests/files/golden-model.dml"
	$DML_WRAPPER dml-train --emit stats -y label golden.csv -o stats.dml
	cmp stats.dml "$DML_SRCDIR/tests/files/golden-stats.dml"
}

# bytes_csv ROWS FEATURES SEED: whole numbers 0..255 in three overlapping
# classes, label first.
bytes_csv() {
	awk -v n="$1" -v f="$2" -v seed="$3" 'BEGIN {
		srand(seed); printf "label"
		for (j = 1; j <= f; j++) printf ",p%d", j
		print ""
		for (i = 0; i < n; i++) {
			c = i % 3; printf "c%d", c
			for (j = 1; j <= f; j++)
				printf ",%d", (j * c * 7 + int(rand() * 60)) % 256
			print ""
		}
	}'
}

@test "a -j1 fit gives the -j2 model when the rows it holds as bytes turn to doubles" {
	bytes_csv 3000 20 5 > b.csv
	# a fraction, a value past 255 (both in a block after the first
	# growth of the store), and -0 in the first row, whose standardized
	# value differs from 0's in its sign
	awk -F, -v OFS=, 'NR == 2501 { $5 = $5 + 0.5 } 1' b.csv > frac.csv
	awk -F, -v OFS=, 'NR == 2501 { $5 = 300 } 1' b.csv > big.csv
	awk -F, -v OFS=, 'NR == 2 { $5 = "-0" } 1' b.csv > neg0.csv
	for f in b frac big neg0; do
		$DML_WRAPPER dml-train -j1 -a softmax -y label $f.csv -o $f-1.dml
		$DML_WRAPPER dml-train -j2 -a softmax -y label $f.csv -o $f-2.dml
		cmp $f-1.dml $f-2.dml
		# -j2 reads a pipe and a binary shard as a stream too
		cat $f.csv | $DML_WRAPPER dml-train -j2 -a softmax -y label -o $f-p.dml
		cmp $f-1.dml $f-p.dml
		$DML_WRAPPER dml-partition -n 1 --format bin --dtype f64 -y label -o $f.bin $f.csv
		$DML_WRAPPER dml-train -j1 -a softmax -y label $f.bin -o $f-b1.dml
		$DML_WRAPPER dml-train -j2 -a softmax -y label $f.bin -o $f-b2.dml
		cmp $f-b1.dml $f-b2.dml
	done
	# several inputs are held as doubles: the same model either way
	$DML_WRAPPER dml-train -j1 -a softmax -y label b.csv frac.csv -o two-1.dml
	$DML_WRAPPER dml-train -j2 -a softmax -y label b.csv frac.csv -o two-2.dml
	cmp two-1.dml two-2.dml
	for a in logistic hinge; do
		awk -F, 'NR == 1 || $1 != "c2"' b.csv > two.csv
		$DML_WRAPPER dml-train -j1 -a $a -y label two.csv -o t1.dml
		$DML_WRAPPER dml-train -j2 -a $a -y label two.csv -o t2.dml
		cmp t1.dml t2.dml
	done
	$DML_WRAPPER dml-train -j1 -a softmax --optimizer adam -y label b.csv -o a1.dml
	$DML_WRAPPER dml-train -j2 -a softmax --optimizer adam -y label b.csv -o a2.dml
	cmp a1.dml a2.dml
}

@test "a -j2 fit parses a large file in parallel into bytes: the -j1 model, or its error" {
	# 5.4 MB: past the 4 MiB from which a file is parsed by all threads
	bytes_csv 6000 300 6 > p.csv
	(( $(stat -c %s p.csv) > 4194304 ))
	# a fraction late (in the second thread's half), one early, and a
	# value past 255 in the last row: read again as doubles
	awk -F, -v OFS=, 'NR == 5000 { $9 = $9 + 0.25 } 1' p.csv > late.csv
	awk -F, -v OFS=, 'NR == 3 { $9 = $9 + 0.25 } 1' p.csv > early.csv
	awk -F, -v OFS=, 'NR == 6001 { $300 = 256 } 1' p.csv > last.csv
	for f in p late early last; do
		$DML_WRAPPER dml-train -j1 -a softmax -y label --max-iter 5 $f.csv -o $f-1.dml
		$DML_WRAPPER dml-train -j2 -a softmax -y label --max-iter 5 $f.csv -o $f-2.dml
		cmp $f-1.dml $f-2.dml
	done
	# an error in the second half, after a value that is not a byte in
	# the first: the same words as one thread
	awk -F, -v OFS=, 'NR == 100 { $9 = 0.5 } NR == 5500 { $9 = "x" } 1' p.csv > bad.csv
	run -1 --separate-stderr $DML_WRAPPER dml-train -j2 -a softmax -y label bad.csv -o m.dml
	assert_equal "$stderr" "dml-train: bad.csv:5500:9: not a number: 'x'"
	[ ! -e m.dml ]
	run -1 --separate-stderr $DML_WRAPPER dml-train -j1 -a softmax -y label bad.csv -o m.dml
	assert_equal "$stderr" "dml-train: bad.csv:5500:9: not a number: 'x'"
}

@test "a fit holds whole numbers 0..255 in an eighth of the memory of doubles" {
	require_plain_binaries
	# 30000 rows x 784: 188 MB as doubles, 24 MB as bytes, a 78 MB file
	bytes_csv 30000 784 7 > px.csv
	sed '2s/$/.5/' px.csv > half.csv
	dml-train -j2 -a softmax -y label --max-iter 2 px.csv -o m.dml
	# one arena for all threads: the limit is on the rows, not on
	# malloc's reserve for each thread
	export MALLOC_ARENA_MAX=1
	for j in 1 2; do
		run --separate-stderr bash -c "ulimit -v 204800 &&
			dml-train -j$j -a softmax -y label --max-iter 2 px.csv -o m$j.dml"
		assert_success
		assert_equal "$stderr" ""
		cmp m.dml m$j.dml
		# one value with a fraction, in the first row: doubles, which
		# do not fit under the same limit
		run --separate-stderr bash -c "ulimit -v 204800 &&
			dml-train -j$j -a softmax -y label --max-iter 2 half.csv -o h.dml"
		assert_failure 1
		assert_regex "$stderr" '^dml-train: half\.csv(:[0-9]+)?: out of memory$'
		[ ! -e h.dml ]
	done
}
