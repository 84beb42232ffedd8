#!/usr/bin/env bats
# The linear-model families beyond logistic and softmax: least squares
# (ridge, lasso, the exact normal equations), hinge, squared hinge and
# perceptron, against planted answers, in one process and distributed.

load setup
load helpers

# planted N SEED: rows a,b,c,noise,y with y = 2a - 3b + 0.5c + 7 exactly
# (the features are rounded first, so the target is exact for them);
# b has a large offset, so that standardizing matters.
planted() {
	awk -v n="$1" -v seed="$2" 'BEGIN {
		srand(seed); print "a,b,c,noise,y"
		for (i = 0; i < n; i++) {
			a = sprintf("%.4f", rand() * 10 - 5) + 0
			b = sprintf("%.4f", rand() * 4 + 100) + 0
			c = sprintf("%.4f", rand() - 0.5) + 0
			z = sprintf("%.4f", rand()) + 0
			printf "%.4f,%.4f,%.4f,%.4f,%.17g\n", a, b, c, z,
				2 * a - 3 * b + 0.5 * c + 7
		}
	}'
}

# probes: the origin and the unit vectors, to read a model's raw weights
# back from its predictions.
probes() {
	printf 'a,b,c,noise\n0,0,0,0\n1,0,0,0\n0,1,0,0\n0,0,1,0\n0,0,0,1\n'
}

# assert_weights MODEL TOL W_A W_B W_C W_NOISE BIAS
assert_weights() {
	probes > probes.csv
	$DML_WRAPPER dml-predict -m "$1" probes.csv > p.txt
	local tol=$2 p
	mapfile -t p < p.txt
	assert_equal "${#p[@]}" 5
	assert_close "${p[0]}" "$7" "$tol" bias
	local want=("$3" "$4" "$5" "$6") j
	for j in 1 2 3 4; do
		assert_close "$(awk -v x="${p[j]}" -v o="${p[0]}" \
			'BEGIN { printf "%.17g", x - o }')" "${want[j - 1]}" \
			"$tol" "weight $j"
	done
}

# separable3 N SEED: three well separated classes in 3 features.
separable3() {
	awk -v n="$1" -v seed="$2" 'BEGIN {
		srand(seed); print "x1,x2,x3,label"
		cx[0] = 0; cy[0] = 0; cx[1] = 6; cy[1] = 0; cx[2] = 3; cy[2] = 6
		for (i = 0; i < n; i++) {
			k = i % 3
			printf "%.4f,%.4f,%.4f,class-%d\n", cx[k] + rand() * 2 - 1,
				cy[k] + rand() * 2 - 1, rand() * 10, k + 1
		}
	}'
}

@test "linear --solver normal recovers a planted solution to 1e-6" {
	planted 500 7 > reg.csv
	run --separate-stderr $DML_WRAPPER dml-train -a linear -y y \
		--solver normal --l2 0 reg.csv -o n.dml
	assert_success
	assert_equal "$stderr" ""
	assert_weights n.dml 1e-6 2 -3 0.5 0 7
	run $DML_WRAPPER dml-predict -m n.dml --eval reg.csv
	assert_success
	assert_equal "${#lines[@]}" 4
	[[ ${lines[0]} == rmse$'\t'* && ${lines[1]} == mae$'\t'* ]]
	assert_equal "${lines[2]}" $'r2\t1.000000'
	assert_equal "${lines[3]}" $'rows\t500'
	assert_close "${lines[0]#*$'\t'}" 0 1e-6 rmse
	# every prediction is the target
	$DML_WRAPPER dml-predict -m n.dml reg.csv > pred
	tail -n +2 reg.csv | cut -d, -f5 | paste - pred |
		awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6) bad++ }
		     END { exit bad > 0 }'
	assert_equal "$(json_value n.dml family)" linear
	run $DML_WRAPPER dml-inspect n.dml
	assert_line '  parameters     l2=0 optimizer=lbfgs max-iter=100 tol=1e-05 solver=normal'
	assert_line --partial '  optimizer      lbfgs, converged, 0 iterations'
	refute_line --partial 'classes'
	# it is a model from statistics: no -m
	run $DML_WRAPPER dml-train -m n.dml --solver normal reg.csv
	assert_failure 2
	assert_line --index 0 "dml-train: --solver normal makes a model from statistics: drop -m"
}

@test "linear with L-BFGS and no penalty recovers the planted solution" {
	planted 500 8 > reg.csv
	$DML_WRAPPER dml-train -a linear -y y --l2 0 --tol 1e-10 reg.csv \
		-o l.dml
	assert_weights l.dml 1e-6 2 -3 0.5 0 7
	# a ridge penalty shrinks the weights, measurably
	$DML_WRAPPER dml-train -a linear -y y --l2 0.5 --tol 1e-10 reg.csv \
		-o r.dml
	$DML_WRAPPER dml-predict -m r.dml probes.csv > pr.txt
	wa=$(awk 'NR == 1 { o = $1 } NR == 2 { printf "%.17g", $1 - o }' pr.txt)
	assert_not_close "$wa" 2 1e-3 "ridge weight of a"
	awk -v w="$wa" 'BEGIN { exit !(w > 0 && w < 2) }'
	# ridge by L-BFGS is the ridge of the normal equations
	$DML_WRAPPER dml-train -a linear -y y --l2 0.5 --solver normal \
		reg.csv -o rn.dml
	$DML_WRAPPER dml-predict -m rn.dml probes.csv > prn.txt
	paste pr.txt prn.txt | while read -r x y; do
		assert_close "$x" "$y" 1e-6 "ridge prediction"
	done
}

@test "lasso (--l1) sets the weight of an irrelevant feature to exactly 0" {
	planted 400 9 > reg.csv
	# the same rows with another noise column
	awk -F, -v OFS=, 'NR > 1 { $4 = (NR * 7919) % 1000 / 1000 } 1' \
		reg.csv > other.csv
	$DML_WRAPPER dml-train -a linear -y y --l1 0.1 --l2 0 reg.csv -o l1.dml
	run $DML_WRAPPER dml-inspect l1.dml
	assert_line '  parameters     l2=0 optimizer=lbfgs max-iter=100 tol=1e-05 l1=0.1'
	$DML_WRAPPER dml-predict -m l1.dml reg.csv > p1
	$DML_WRAPPER dml-predict -m l1.dml other.csv > p2
	cmp p1 p2
	# without L1 the noise column has a (tiny) weight: predictions move
	$DML_WRAPPER dml-train -a linear -y y --l2 1e-3 reg.csv -o l2.dml
	$DML_WRAPPER dml-predict -m l2.dml reg.csv > q1
	$DML_WRAPPER dml-predict -m l2.dml other.csv > q2
	! cmp -s q1 q2
	# the relevant weights survive, shrunk
	probes > probes.csv
	$DML_WRAPPER dml-predict -m l1.dml probes.csv > p.txt
	assert_equal "$(sed -n 1p p.txt)" "$(sed -n 5p p.txt)"
	wa=$(awk 'NR == 1 { o = $1 } NR == 2 { printf "%.17g", $1 - o }' p.txt)
	awk -v w="$wa" 'BEGIN { exit !(w > 1.9 && w < 2) }'
	# elastic net too
	$DML_WRAPPER dml-train -a linear -y y --l1 0.1 --l2 0.01 reg.csv \
		-o en.dml
	$DML_WRAPPER dml-predict -m en.dml reg.csv > e1
	$DML_WRAPPER dml-predict -m en.dml other.csv > e2
	cmp e1 e2
}

@test "normal equations over 3 shards in one round equal one process" {
	planted 600 10 > reg.csv
	dml-partition -n 3 reg.csv
	$DML_WRAPPER dml-train -a linear -y y --solver normal --l2 0.01 \
		reg.csv -o one.dml
	for i in 0 1 2; do
		$DML_WRAPPER dml-train -a linear --solver normal --emit stats \
			-y y "shard-$i.csv"
	done | $DML_WRAPPER dml-reduce --expect 3 |
		$DML_WRAPPER dml-train --apply - -a linear --solver normal \
			--l2 0.01 -o dist.dml
	$DML_WRAPPER dml-predict -m one.dml reg.csv > p1
	$DML_WRAPPER dml-predict -m dist.dml reg.csv > p2
	cmp p1 p2
	# the reduction does not depend on the order of the shards
	for i in 2 0 1; do
		$DML_WRAPPER dml-train -a linear --solver normal --emit stats \
			-y y "shard-$i.csv"
	done | $DML_WRAPPER dml-reduce > r2.dml
	for i in 0 1 2; do
		$DML_WRAPPER dml-train -a linear --solver normal --emit stats \
			-y y "shard-$i.csv"
	done | $DML_WRAPPER dml-reduce > r1.dml
	cmp r1.dml r2.dml
	assert_equal "$(json_value dist.dml contributions)" 3
	# one-round model is finished: a gradient step changes nothing
	$DML_WRAPPER dml-inspect dist.dml | grep -q 'converged'
}

@test "linear by BSP gradient rounds over 3 shards matches one process" {
	planted 450 11 > reg.csv
	dml-partition -n 3 reg.csv
	$DML_WRAPPER dml-train -a linear -y y --l2 0.001 --tol 1e-9 \
		--warm-start 0 reg.csv -o one.dml
	for i in 0 1 2; do
		$DML_WRAPPER dml-train -a linear --emit stats -y y "shard-$i.csv"
	done | $DML_WRAPPER dml-reduce --expect 3 |
		$DML_WRAPPER dml-train --apply - -a linear --l2 0.001 \
			--tol 1e-9 -o b.dml
	for ((r = 0; r < 60; r++)); do
		for i in 0 1 2; do
			$DML_WRAPPER dml-train --emit gradient -m b.dml \
				"shard-$i.csv"
		done | $DML_WRAPPER dml-reduce --expect 3 |
			$DML_WRAPPER dml-train --apply - -m b.dml -o b.dml
	done
	$DML_WRAPPER dml-inspect b.dml | grep -q 'lbfgs, converged'
	$DML_WRAPPER dml-predict -m one.dml reg.csv > p1
	$DML_WRAPPER dml-predict -m b.dml reg.csv > p2
	paste p1 p2 | awk '{ d = $1 - $2; if (d < 0) d = -d
		if (d > 1e-6) bad++ } END { exit bad > 0 }'
}

@test "hinge, squared-hinge and perceptron learn separable 2-class data" {
	synth separable -n 400 --features 4 --seed 21 > sep.csv
	label_column sep.csv > truth
	for a in hinge squared-hinge perceptron; do
		run --separate-stderr $DML_WRAPPER dml-train -a "$a" -y label \
			sep.csv -o "$a.dml"
		assert_success
		assert_equal "$stderr" ""
		run $DML_WRAPPER dml-predict -m "$a.dml" --eval sep.csv
		assert_success
		# accuracy and rows: no log loss without probabilities
		assert_equal "$output" $'accuracy\t1.000000\nrows\t400'
		$DML_WRAPPER dml-predict -m "$a.dml" sep.csv | cmp - truth
		assert_equal "$(json_value "$a.dml" family)" "$a"
	done
}

@test "hinge, squared-hinge and perceptron: one-vs-rest on 3 classes" {
	separable3 600 22 > s3.csv
	for a in hinge squared-hinge perceptron; do
		$DML_WRAPPER dml-train -a "$a" -y label s3.csv -o "$a.dml"
		run $DML_WRAPPER dml-predict -m "$a.dml" --eval s3.csv
		assert_success
		assert_equal "$output" $'accuracy\t1.000000\nrows\t600'
		$DML_WRAPPER dml-predict -m "$a.dml" s3.csv | sort | uniq -c |
			awk '{ print $1 }' | tr '\n' ' ' > counts
		assert_equal "$(cat counts)" "200 200 200 "
	done
	# a model with 3 one-vs-rest columns
	$DML_WRAPPER dml-inspect hinge.dml | grep -q 'weights  *4 x 3'
}

@test "margin classifiers by BSP gradient rounds and by model averaging" {
	synth separable -n 600 --features 4 --seed 23 > sep.csv
	dml-partition -n 2 sep.csv
	for a in squared-hinge hinge; do
		for i in 0 1; do
			$DML_WRAPPER dml-train -a "$a" --emit stats -y label \
				"shard-$i.csv"
		done | $DML_WRAPPER dml-reduce --expect 2 |
			$DML_WRAPPER dml-train --apply - -a "$a" -o b.dml
		for ((r = 0; r < 25; r++)); do
			for i in 0 1; do
				$DML_WRAPPER dml-train --emit gradient -m b.dml \
					"shard-$i.csv"
			done | $DML_WRAPPER dml-reduce --expect 2 |
				$DML_WRAPPER dml-train --apply - -m b.dml -o b.dml
		done
		run $DML_WRAPPER dml-predict -m b.dml --eval sep.csv
		acc=$(sed -n 's/^accuracy\t//p' <<<"$output")
		awk -v a="$acc" 'BEGIN { exit !(a >= 0.99) }' ||
			fail "$a by BSP: accuracy $acc"
	done
	# model averaging of perceptrons: two local rounds from a shared model
	for i in 0 1; do
		$DML_WRAPPER dml-train -a perceptron --emit stats -y label \
			"shard-$i.csv"
	done | $DML_WRAPPER dml-reduce | $DML_WRAPPER dml-train --apply - \
		-a perceptron -o avg.dml
	for ((r = 0; r < 2; r++)); do
		for i in 0 1; do
			$DML_WRAPPER dml-train -m avg.dml "shard-$i.csv"
		done | $DML_WRAPPER dml-reduce --expect 2 > next.dml
		mv next.dml avg.dml
	done
	run $DML_WRAPPER dml-predict -m avg.dml --eval sep.csv
	acc=$(sed -n 's/^accuracy\t//p' <<<"$output")
	awk -v a="$acc" 'BEGIN { exit !(a >= 0.99) }' ||
		fail "averaged perceptron: accuracy $acc"
	# local rounds of a perceptron take its own defaults: SGD, no penalty
	run $DML_WRAPPER dml-inspect avg.dml
	assert_line '  parameters     l2=0 optimizer=sgd max-iter=100 tol=1e-05'
}

@test "same input and seed give byte-identical linear-family models" {
	planted 300 12 > reg.csv
	synth separable -n 300 --features 3 --seed 24 > sep.csv
	for j in 1 2; do
		$DML_WRAPPER dml-train -j "$j" -a linear -y y --l1 0.01 \
			reg.csv -o "l$j.dml"
		$DML_WRAPPER dml-train -j "$j" -a hinge -y label sep.csv \
			-o "h$j.dml"
	done
	cmp l1.dml l2.dml
	cmp h1.dml h2.dml
}

@test "bad input to the linear families: messages and exit codes" {
	planted 20 13 > reg.csv
	sed '4s/,[^,]*$/,abc/' reg.csv > bad.csv
	run --separate-stderr $DML_WRAPPER dml-train -a linear -y y bad.csv \
		-o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: bad.csv:4:5: target 'abc' is not a finite number"
	assert_file_not_exists out.dml
	run --separate-stderr $DML_WRAPPER dml-train -a linear --emit stats \
		-y y bad.csv
	assert_failure 1
	assert_equal "$output" ""
	assert_equal "$stderr" "dml-train: bad.csv:4:5: target 'abc' is not a finite number"
	$DML_WRAPPER dml-train -a linear -y y --solver normal reg.csv -o n.dml
	run --separate-stderr $DML_WRAPPER dml-predict -m n.dml --eval bad.csv
	assert_failure 1
	assert_equal "$output" ""
	assert_equal "$stderr" "dml-predict: bad.csv:4:5: target 'abc' is not a finite number"

	synth separable -n 50 --features 4 --seed 25 > sep.csv
	run $DML_WRAPPER dml-train -a hinge --l1 0.1 \
		-y label sep.csv
	assert_failure 2
	assert_line --index 0 "dml-train: --l1 is not supported for -a hinge (use squared-hinge)"
	run $DML_WRAPPER dml-train -a logistic \
		--solver normal -y label sep.csv
	assert_failure 2
	assert_line --index 0 "dml-train: --solver normal is for -a linear only"
	run $DML_WRAPPER dml-train -a linear --solver simplex -y y reg.csv
	assert_failure 2
	assert_line --index 0 "dml-train: --solver: unknown solver 'simplex' (iterative, normal)"

	# a hinge gradient applied to a linear model
	$DML_WRAPPER dml-train -a hinge --emit stats -y label sep.csv |
		$DML_WRAPPER dml-train --apply - -a hinge -o h0.dml
	$DML_WRAPPER dml-train --emit gradient -m h0.dml sep.csv > hg.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply hg.dml -m n.dml \
		-o x.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: hg.dml: gradient of a hinge model applied to a linear model"
	assert_file_not_exists x.dml

	# statistics of classes made into a regression, and the reverse
	$DML_WRAPPER dml-train --emit stats -y y reg.csv > cls.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply cls.dml -a linear
	assert_failure 1
	assert_equal "$stderr" "dml-train: cls.dml: linear regression needs statistics of a numeric target (make them with -a linear)"
	$DML_WRAPPER dml-train --emit stats -a linear -y y reg.csv > tgt.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply tgt.dml -a softmax
	assert_failure 1
	assert_equal "$stderr" "dml-train: tgt.dml: statistics of a regression target given to a softmax model"
	# statistics without X'X cannot be solved exactly
	run --separate-stderr $DML_WRAPPER dml-train --apply tgt.dml -a linear \
		--solver normal
	assert_failure 1
	assert_equal "$stderr" "dml-train: tgt.dml: the statistics hold no X'X sums (make them with -a linear --solver normal --emit stats)"
	# statistics with and without X'X do not reduce together
	$DML_WRAPPER dml-train --emit stats -a linear --solver normal -y y \
		reg.csv > gram.dml
	head -n 11 reg.csv > half.csv
	$DML_WRAPPER dml-train --emit stats -a linear -y y half.csv > tgt2.dml
	run --separate-stderr $DML_WRAPPER dml-reduce gram.dml tgt2.dml
	assert_failure 1
	assert_equal "$output" ""
	assert_equal "$stderr" "dml-reduce: tgt2.dml: record 1: statistics with 2 target sums among statistics with 16"

	# collinear features and no penalty: a singular system, said so
	awk -F, -v OFS=, '{ $4 = NR == 1 ? "d" : 2 * $1 } 1' reg.csv > col.csv
	run --separate-stderr $DML_WRAPPER dml-train -a linear -y y \
		--solver normal --l2 0 col.csv
	assert_failure 1
	assert_equal "$stderr" "dml-train: col.csv: the normal equations are singular (collinear features): add --l2"

	# no probabilities from margin classifiers or regressions
	$DML_WRAPPER dml-train -a perceptron -y label sep.csv -o p.dml
	for m in p.dml n.dml; do
		run $DML_WRAPPER dml-predict -m "$m" --proba sep.csv
		assert_failure 2
	done
	run $DML_WRAPPER dml-predict -m p.dml --proba sep.csv
	assert_line --index 0 "dml-predict: --proba: a perceptron model gives no probabilities"
}

@test "--optimizer minibatch and adam fit the linear families" {
	synth separable -n 400 --features 4 --seed 31 > sep.csv
	separable3 600 32 > s3.csv
	for opt in minibatch adam; do
		for a in logistic hinge squared-hinge; do
			$DML_WRAPPER dml-train -a "$a" -y label --optimizer "$opt" \
				--epochs 20 --learning-rate 0.05 sep.csv -o m.dml
			run $DML_WRAPPER dml-predict -m m.dml --eval sep.csv
			assert_line --index 0 $'accuracy\t1.000000'
		done
		$DML_WRAPPER dml-train -a softmax -y label --optimizer "$opt" \
			--epochs 20 --learning-rate 0.05 s3.csv -o m.dml
		run $DML_WRAPPER dml-predict -m m.dml --eval s3.csv
		assert_line --index 0 $'accuracy\t1.000000'
	done
	# regression: Adam gets close to the planted solution, and the
	# optimizers are really different
	planted 500 33 > reg.csv
	$DML_WRAPPER dml-train -a linear -y y --optimizer adam --epochs 300 \
		--learning-rate 0.05 --schedule constant reg.csv -o a.dml
	run $DML_WRAPPER dml-predict -m a.dml --eval reg.csv
	rmse=$(sed -n 's/^rmse\t//p' <<<"$output")
	awk -v r="$rmse" 'BEGIN { exit !(r < 0.05) }' || fail "adam rmse $rmse"
	$DML_WRAPPER dml-train -a linear -y y --optimizer minibatch \
		--epochs 5 reg.csv -o mb.dml
	$DML_WRAPPER dml-train -a linear -y y --optimizer sgd \
		--epochs 5 reg.csv -o sgd.dml
	! cmp -s mb.dml sgd.dml
	run $DML_WRAPPER dml-inspect a.dml
	assert_line --partial 'optimizer=adam'
}

@test "--schedule: constant, invscaling and decay steps differ; bad names refused" {
	synth separable -n 300 --features 3 --seed 34 > sep.csv
	for s in decay constant invscaling; do
		$DML_WRAPPER dml-train -a hinge -y label --schedule "$s" \
			sep.csv -o "$s.dml"
		run $DML_WRAPPER dml-predict -m "$s.dml" --eval sep.csv
		assert_line --index 0 $'accuracy\t1.000000'
	done
	! cmp -s decay.dml constant.dml
	! cmp -s decay.dml invscaling.dml
	! cmp -s constant.dml invscaling.dml
	# decay is the default
	$DML_WRAPPER dml-train -a hinge -y label sep.csv -o default.dml
	cmp default.dml decay.dml
	run $DML_WRAPPER dml-train -a hinge -y label --schedule cosine sep.csv
	assert_failure 2
	assert_line --index 0 "dml-train: --schedule: unknown schedule 'cosine' (decay, invscaling, constant)"
	run $DML_WRAPPER dml-train -a hinge -y label --optimizer rmsprop sep.csv
	assert_failure 2
	assert_line --index 0 "dml-train: --optimizer: unknown optimizer 'rmsprop' (lbfgs, gd, sgd, minibatch, adam)"
	run $DML_WRAPPER dml-train -a hinge -y label --holdout 1 sep.csv
	assert_failure 2
	assert_line --index 0 "dml-train: --holdout: 1 is out of range 0..0.99"
}

@test "--holdout stops SGD early, on rows chosen independently of order and shards" {
	synth blobs -n 3000 --classes 3 --features 5 --seed 35 > b.csv
	run --separate-stderr $DML_WRAPPER dml-train -a softmax -y label \
		--optimizer sgd --schedule constant --learning-rate 0.3 \
		--holdout 0.1 --epochs 100 -v b.csv -o m.dml
	assert_success
	epochs=$(grep -c 'SGD epoch' <<<"$stderr")
	((epochs >= 4 && epochs < 100)) || fail "$epochs epochs"
	held=$(sed -n 's/.*: \([0-9]*\) of 3000 rows held out$/\1/p' <<<"$stderr")
	((held > 240 && held < 360)) || fail "$held rows held out"
	run $DML_WRAPPER dml-predict -m m.dml --eval b.csv
	acc=$(sed -n 's/^accuracy\t//p' <<<"$output")
	# as good as L-BFGS to convergence (0.7757) on these overlapping blobs
	awk -v a="$acc" 'BEGIN { exit !(a > 0.77) }' || fail "accuracy $acc"
	# the same rows in reverse order: the same number held out
	{ head -n 1 b.csv; tail -n +2 b.csv | tac; } > rev.csv
	$DML_WRAPPER dml-train -a softmax -y label --optimizer sgd \
		--holdout 0.1 --epochs 1 -v rev.csv -o r.dml 2> rev.err
	grep -qx "dml-train: $held of 3000 rows held out" rev.err
	# shards hold out the rows that one process would
	dml-partition -n 3 b.csv
	sum=0
	for i in 0 1 2; do
		$DML_WRAPPER dml-train -a softmax -y label --optimizer sgd \
			--holdout 0.1 --epochs 1 -v "shard-$i.csv" -o s.dml \
			2> s.err
		n=$(sed -n 's/.*: \([0-9]*\) of [0-9]* rows held out$/\1/p' s.err)
		sum=$((sum + n))
	done
	assert_equal "$sum" "$held"
}

@test "-j with --hogwild: lock-free SGD still learns; -j 1 is reproducible" {
	synth separable -n 4000 --features 5 --seed 36 > sep.csv
	for i in 1 2; do
		$DML_WRAPPER dml-train -a hinge -y label -j 1 --hogwild \
			--batch 8 sep.csv -o "one$i.dml"
	done
	cmp one1.dml one2.dml
	# -j 1 with and without --hogwild: the same single-thread SGD
	$DML_WRAPPER dml-train -a hinge -y label -j 1 --batch 8 sep.csv \
		-o plain.dml
	cmp one1.dml plain.dml
	# without --hogwild, threads do not change SGD
	$DML_WRAPPER dml-train -a hinge -y label -j 3 --batch 8 sep.csv \
		-o three.dml
	cmp plain.dml three.dml
	for a in hinge perceptron logistic; do
		$DML_WRAPPER dml-train -a "$a" -y label -j 3 --hogwild \
			--optimizer sgd --batch 8 sep.csv -o "h-$a.dml"
		run $DML_WRAPPER dml-predict -m "h-$a.dml" --eval sep.csv
		acc=$(sed -n 's/^accuracy\t//p' <<<"$output")
		awk -v a="$acc" 'BEGIN { exit !(a >= 0.995) }' ||
			fail "hogwild $a: accuracy $acc"
	done
}

@test "an ensemble of regressions predicts the mean of its members" {
	planted 200 37 > reg.csv
	dml-partition -n 2 reg.csv
	$DML_WRAPPER dml-train -a linear -y y --solver normal shard-0.csv \
		-o a.dml
	# a second member that is off by a known amount: ridge with a big
	# penalty on the other shard
	$DML_WRAPPER dml-train -a linear -y y --solver normal --l2 10 \
		shard-1.csv -o b.dml
	$DML_WRAPPER dml-ensemble a.dml b.dml -o ens.dml
	$DML_WRAPPER dml-predict -m a.dml reg.csv > pa
	$DML_WRAPPER dml-predict -m b.dml reg.csv > pb
	$DML_WRAPPER dml-predict -m ens.dml reg.csv > pe
	paste pa pb pe | awk '{ m = ($1 + $2) / 2; d = m - $3
		if (d < 0) d = -d; if (d > 1e-9 * (m < 0 ? -m : m)) bad++ }
		END { exit bad > 0 }'
	! cmp -s pa pb
	run $DML_WRAPPER dml-predict -m ens.dml --eval reg.csv
	assert_success
	assert_line --index 3 $'rows\t200'
}

@test "a regression with a distinct target on every row trains in linear time" {
	[[ -z $DML_WRAPPER ]] || skip "timing is meaningless under $DML_WRAPPER"
	awk 'BEGIN { srand(5); print "a,b,y"
		for (i = 0; i < 60000; i++) {
			a = int(rand() * 1e6) / 1e3; b = int(rand() * 1e6) / 1e3
			printf "%.3f,%.3f,%.3f\n", a, b, 3 * a - b + i / 1e3
		} }' > many.csv
	# every target is distinct: none of them may become a class
	for opts in "" "--solver normal" "--emit stats"; do
		# shellcheck disable=SC2086 # word splitting wanted
		run timeout 20 dml-train -a linear -y y $opts many.csv -o out.dml
		assert_success
	done
	run dml-inspect --json out.dml
	assert_output --partial '"classes":[]'
	assert_output --partial '"samples":60000'
}

@test "examples/regression.sh: one round of normal equations equals L-BFGS rounds" {
	require_program parallel
	planted 600 38 > reg.csv
	if [[ -n ${DML_WRAPPER-} ]]; then
		mkdir -p bin
		for p in dml-partition dml-train dml-reduce dml-predict dml-inspect; do
			printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$DML_WRAPPER" \
				"$DML_BUILDDIR/src/$p" > "bin/$p"
			chmod +x "bin/$p"
		done
		PATH=$PWD/bin:$PATH
	fi
	WORKERS=3 L2=0 run --separate-stderr "$DML_SRCDIR/examples/regression.sh" reg.csv
	assert_success
	assert_line $'normal_r2\t1.000000'
	assert_line $'lbfgs_r2\t1.000000'
	assert_line $'normal_rows\t600'
	rmse=$(sed -n 's/^normal_rmse\t//p' <<<"$output")
	assert_close "$rmse" 0 1e-6 "normal-equation rmse"
	rmse=$(sed -n 's/^lbfgs_rmse\t//p' <<<"$output")
	assert_close "$rmse" 0 1e-6 "L-BFGS rmse"
	rounds=$(sed -n 's/^rounds\t//p' <<<"$output")
	((rounds > 2))
	[[ $stderr == *"normal equations solved in one round"* ]]
}

@test "--l1 (OWL-QN) zeroes an irrelevant feature of logistic and softmax models" {
	synth separable -n 400 --features 3 --seed 41 |
		awk -F, -v OFS=, 'NR == 1 { $0 = "noise," $0 }
			NR > 1 { $0 = (NR * 7919) % 1000 / 1000 "," $0 } 1' > ln.csv
	awk -F, -v OFS=, 'NR > 1 { $1 = (NR * 104729) % 997 / 997 } 1' \
		ln.csv > other.csv
	for a in logistic softmax; do
		$DML_WRAPPER dml-train -a "$a" -y label --l1 0.01 ln.csv -o l1.dml
		run $DML_WRAPPER dml-predict -m l1.dml --eval ln.csv
		assert_line --index 0 $'accuracy\t1.000000'
		$DML_WRAPPER dml-predict -m l1.dml --proba ln.csv > p1
		$DML_WRAPPER dml-predict -m l1.dml --proba other.csv > p2
		cmp p1 p2
		# the same without L1: the noise feature has a weight
		$DML_WRAPPER dml-train -a "$a" -y label ln.csv -o l2.dml
		$DML_WRAPPER dml-predict -m l2.dml --proba ln.csv > q1
		$DML_WRAPPER dml-predict -m l2.dml --proba other.csv > q2
		! cmp -s q1 q2
	done
}
