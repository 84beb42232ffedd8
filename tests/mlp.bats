#!/usr/bin/env bats
# -a mlp: multilayer perceptrons learn what linear models cannot, in one
# process, by BSP gradient rounds and by model averaging; gradient sums
# are exact and runs are deterministic.

load setup
load helpers

# xor_grid: 400 points of a 20 x 20 grid in [-1, 1]^2, labelled by the
# sign of x*y: no line separates the two classes.
xor_grid() {
	awk 'BEGIN {
		print "x,y,label"
		for (i = 0; i < 20; i++)
			for (j = 0; j < 20; j++) {
				x = -0.95 + 0.1 * i; y = -0.95 + 0.1 * j
				printf "%.2f,%.2f,%s\n", x, y,
					(x * y > 0) ? "same" : "diff"
			}
	}'
}

# rings N OFFSET: an N x N grid, three classes by the distance to the
# centre (inner < 0.45 <= middle < 0.8 <= outer).
rings() {
	awk -v n="$1" -v off="$2" 'BEGIN {
		print "x,y,ring"
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++) {
				x = (i - off) / (n / 2); y = (j - off) / (n / 2)
				r = sqrt(x * x + y * y)
				printf "%.4f,%.4f,%s\n", x, y,
					r < 0.45 ? "inner" : r < 0.8 ? "middle" : "outer"
			}
	}'
}

accuracy() { # MODEL DATA
	$DML_WRAPPER dml-predict -m "$1" --eval "$2" |
		awk -F'\t' '$1 == "accuracy" { print $2 }'
}

@test "mlp learns XOR exactly where logistic regression cannot" {
	xor_grid > xor.csv
	$DML_WRAPPER dml-train -a mlp --hidden 16 --epochs 100 --batch 20 \
		-y label xor.csv -o m.dml
	assert_equal "$(accuracy m.dml xor.csv)" 1.000000
	$DML_WRAPPER dml-train -a logistic -y label xor.csv -o l.dml
	acc=$(accuracy l.dml xor.csv)
	awk -v a="$acc" 'BEGIN { exit !(a < 0.6) }' ||
		fail "logistic regression reached $acc on XOR"
	# probabilities: a header, then two columns that sum to 1
	run $DML_WRAPPER dml-predict -m m.dml --proba xor.csv
	assert_success
	assert_line -n 0 "label	diff	same"
	# (-0.95, -0.95) is deep in 'same'
	echo "$output" | awk -F'\t' 'NR == 2 { exit !($1 == "same" && $3 > 0.99) }' ||
		fail "first row: ${lines[1]}"
	echo "$output" | awk -F'\t' 'NR > 1 { s = $2 + $3
		if (s < 0.99999 || s > 1.00001) exit 1 }' ||
		fail "probabilities do not sum to 1"
}

@test "mlp: three rings, on points it has not seen, above 0.97 (softmax below 0.6)" {
	rings 30 14.5 > train.csv
	rings 29 14 > test.csv
	$DML_WRAPPER dml-train -a mlp --hidden 32 --epochs 100 --batch 20 \
		-y ring train.csv -o m.dml
	acc=$(accuracy m.dml test.csv)
	awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' ||
		fail "mlp test accuracy $acc < 0.97"
	# two tanh layers learn it too
	$DML_WRAPPER dml-train -a mlp --hidden 32,16 --activation tanh \
		--epochs 100 --batch 20 -y ring train.csv -o t.dml
	acc=$(accuracy t.dml test.csv)
	awk -v a="$acc" 'BEGIN { exit !(a >= 0.95) }' ||
		fail "tanh mlp test accuracy $acc < 0.95"
	$DML_WRAPPER dml-train -a softmax -y ring train.csv -o s.dml
	acc=$(accuracy s.dml test.csv)
	awk -v a="$acc" 'BEGIN { exit !(a < 0.6) }' ||
		fail "softmax reached $acc on rings"
}

@test "dml-inspect shows the layers of an mlp" {
	xor_grid > xor.csv
	$DML_WRAPPER dml-train -a mlp --hidden 16,8 --activation tanh \
		--epochs 1 -y label xor.csv -o m.dml
	run $DML_WRAPPER dml-inspect m.dml
	assert_success
	assert_line "  family         mlp"
	assert_line "  layers         2 16 8 2 (tanh, softmax output)"
	# (2+1)*16 + (16+1)*8 + (8+1)*2
	assert_line "  weights        202"
	assert_line --partial "optimizer=adam "
	run $DML_WRAPPER dml-inspect --json m.dml
	assert_output --partial '"layers":[2,16,8,2],"activation":"tanh"'
}

@test "mlp: the same seed gives the same bytes, any -j; another seed does not" {
	rings 30 14.5 > d.csv
	$DML_WRAPPER dml-train -j 1 -a mlp --hidden 20 --epochs 5 -y ring \
		d.csv -o a.dml
	$DML_WRAPPER dml-train -j 1 -a mlp --hidden 20 --epochs 5 -y ring \
		d.csv -o b.dml
	cmp a.dml b.dml
	$DML_WRAPPER dml-train -j 2 -a mlp --hidden 20 --epochs 5 -y ring \
		d.csv -o c.dml
	cmp a.dml c.dml
	$DML_WRAPPER dml-train -j 1 -a mlp --hidden 20 --epochs 5 --seed 2 \
		-y ring d.csv -o e.dml
	! cmp -s a.dml e.dml
	# gradient passes: threads take chunks in any order, same bits
	$DML_WRAPPER dml-train -j 1 --emit gradient -m a.dml d.csv -o g1.dml
	$DML_WRAPPER dml-train -j 2 --emit gradient -m a.dml d.csv -o g2.dml
	cmp g1.dml g2.dml
}

@test "mlp: reduced shard gradients are the whole set's gradient, bit for bit" {
	rings 30 14.5 > d.csv
	# contiguous shards that start on 256-row chunk boundaries
	head -n 513 d.csv > a.csv
	{ head -n 1 d.csv; tail -n +514 d.csv; } > b.csv
	for s in a b; do
		$DML_WRAPPER dml-train --emit stats -y ring "$s.csv" -o "st-$s.dml"
	done
	$DML_WRAPPER dml-reduce st-a.dml st-b.dml |
		$DML_WRAPPER dml-train --apply - -a mlp --hidden 12 -o m.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml d.csv -o whole.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml a.csv -o g-a.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml b.csv -o g-b.dml
	$DML_WRAPPER dml-reduce g-b.dml g-a.dml > sum.dml
	assert_equal "$(json_value sum.dml samples)" 900
	# the sums section comes first: section header, count, 24-byte sums
	# for the loss and (2+1)*12 + (12+1)*3 = 75 weights
	cmp -i 80 -n $((16 + 8 + 24 * 76)) whole.dml sum.dml
	# and it is a gradient: one L-BFGS step from it lowers the objective
	$DML_WRAPPER dml-train --apply sum.dml -m m.dml -o m1.dml
	assert_equal "$(json_value m1.dml iteration)" 1
	f0=$(json_value m1.dml objective)
	awk -v f="$f0" 'BEGIN { exit !(f > 0.5 && f < 2) }' ||
		fail "objective at the initial weights: $f0"
}

@test "mlp: BSP rounds of gradient sums and L-BFGS steps learn XOR" {
	xor_grid > d.csv
	dml-partition -n 2 -o 's%d.csv' d.csv
	for i in 0 1; do
		$DML_WRAPPER dml-train --emit stats -y label "s$i.csv" -o "st$i.dml"
	done
	$DML_WRAPPER dml-reduce st0.dml st1.dml |
		$DML_WRAPPER dml-train --apply - -a mlp --hidden 8 -o m.dml
	for r in $(seq 1 60); do
		for i in 0 1; do
			$DML_WRAPPER dml-train --emit gradient -m m.dml "s$i.csv" \
				-o "g$i.dml"
		done
		$DML_WRAPPER dml-reduce g0.dml g1.dml |
			$DML_WRAPPER dml-train --apply - -m m.dml -o m.dml
		[[ $(json_value m.dml status) == running ]] || break
	done
	assert_equal "$(accuracy m.dml d.csv)" 1.000000
	assert_equal "$(json_value m.dml optimizer)" lbfgs
}

@test "mlp: model averaging rounds learn XOR, in any reduce order" {
	xor_grid > d.csv
	dml-partition -n 2 -o 's%d.csv' d.csv
	for i in 0 1; do
		$DML_WRAPPER dml-train --emit stats -y label "s$i.csv" -o "st$i.dml"
	done
	$DML_WRAPPER dml-reduce st0.dml st1.dml |
		$DML_WRAPPER dml-train --apply - -a mlp --hidden 16 -o m.dml
	cp m.dml init.dml
	for r in 1 2 3 4 5; do
		for i in 0 1; do
			$DML_WRAPPER dml-train --emit model -m m.dml --epochs 20 \
				--batch 20 "s$i.csv" -o "m$i.dml"
		done
		$DML_WRAPPER dml-reduce m0.dml m1.dml > m.dml
	done
	$DML_WRAPPER dml-reduce m1.dml m0.dml | cmp - m.dml
	assert_equal "$(json_value m.dml iteration)" 5
	assert_equal "$(json_value m.dml contributions)" 2
	assert_equal "$(json_value m.dml samples)" 400
	assert_equal "$(accuracy m.dml d.csv)" 1.000000
	# a model with other layers does not average with these
	$DML_WRAPPER dml-reduce st0.dml st1.dml |
		$DML_WRAPPER dml-train --apply - -a mlp --hidden 15 -o o.dml
	$DML_WRAPPER dml-train --emit model -m init.dml --epochs 1 s0.csv \
		-o r0.dml
	$DML_WRAPPER dml-train --emit model -m o.dml --epochs 1 s1.csv -o r1.dml
	run --separate-stderr $DML_WRAPPER dml-reduce r0.dml r1.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-reduce: r1.dml: record 1: models differ in classes, scaler or parameters: they do not come from the same initial model"
}

# usage_error MESSAGE ARG...: dml-train exits 2 with the message.
usage_error() {
	local msg=$1
	shift
	run --separate-stderr $DML_WRAPPER dml-train "$@"
	assert_failure 2
	assert_output ""
	assert_equal "$stderr" "dml-train: $msg
Try 'dml-train --help' for more information."
}

@test "mlp: bad layer sizes, activations and families are usage errors" {
	xor_grid > d.csv
	usage_error "--hidden: layer sizes must be 1..65536, found '0'" \
		-a mlp --hidden 0 -y label d.csv
	usage_error "--hidden: 'abc' is not a list of layer sizes such as 100 or 256,128" \
		-a mlp --hidden abc -y label d.csv
	usage_error "--hidden: '10,' is not a list of layer sizes such as 100 or 256,128" \
		-a mlp --hidden 10, -y label d.csv
	usage_error "--hidden: at most 8 hidden layers" \
		-a mlp --hidden 1,2,3,4,5,6,7,8,9 -y label d.csv
	usage_error "--activation: unknown activation 'sigmoid' (relu, tanh)" \
		-a mlp --activation sigmoid -y label d.csv
	usage_error "--hidden and --activation are for -a mlp only" \
		-a softmax --hidden 10 -y label d.csv
	$DML_WRAPPER dml-train -a mlp --epochs 1 -y label d.csv -o m.dml
	usage_error "--hidden/--activation: the layers come from the model (-m)" \
		-m m.dml --hidden 5 d.csv
	[[ ! -e out.dml ]]
}

@test "mlp: gradients do not apply across families; missing columns are named" {
	xor_grid > d.csv
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o st.dml
	$DML_WRAPPER dml-train --apply st.dml -a mlp --hidden 4 -o mlp.dml
	$DML_WRAPPER dml-train --apply st.dml -a softmax -o sm.dml
	$DML_WRAPPER dml-train --emit gradient -m mlp.dml d.csv -o g-mlp.dml
	$DML_WRAPPER dml-train --emit gradient -m sm.dml d.csv -o g-sm.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply g-mlp.dml \
		-m sm.dml -o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: g-mlp.dml: gradient of a mlp model applied to a softmax model"
	run --separate-stderr $DML_WRAPPER dml-train --apply g-sm.dml \
		-m mlp.dml -o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: g-sm.dml: gradient of a softmax model applied to a mlp model"
	[[ ! -e out.dml ]]
	cut -d, -f1,3 d.csv > missing.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m mlp.dml missing.csv
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-predict: missing.csv:1: column 'y' not found (the model needs 2 features)"
}

@test "the initial mlp of tests/files/golden-stats.dml is golden-mlp.dml" {
	$DML_WRAPPER dml-train --apply "$DML_SRCDIR/tests/files/golden-stats.dml" \
		-a mlp --hidden 3 --activation tanh -o model.dml
	cmp model.dml "$DML_SRCDIR/tests/files/golden-mlp.dml"
	run $DML_WRAPPER dml-inspect model.dml
	assert_line "  layers         2 3 2 (tanh, softmax output)"
	assert_line "  weights        17"
	# another seed draws other weights
	$DML_WRAPPER dml-train --apply "$DML_SRCDIR/tests/files/golden-stats.dml" \
		-a mlp --hidden 3 --activation tanh --seed 2 -o other.dml
	! cmp -s other.dml model.dml
}

# wave N OFF: an N x N grid in [-2, 2]^2 (shifted by OFF cells), with the
# target y = sin(2 x1) + x2^2: no plane fits it.
wave() {
	awk -v n="$1" -v off="$2" 'BEGIN {
		print "x1,x2,y"
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++) {
				a = -2 + 4 * (i + off) / n
				b = -2 + 4 * (j + off) / n
				printf "%.4f,%.4f,%.6f\n", a, b, sin(2 * a) + b * b
			}
	}'
}

metric() { # MODEL DATA NAME
	$DML_WRAPPER dml-predict -m "$1" --eval "$2" |
		awk -F'\t' -v k="$3" '$1 == k { print $2 }'
}

# below VALUE BOUND: VALUE < BOUND, or fail naming both
below() {
	[[ $1 =~ ^-?[0-9.]+(e-?[0-9]+)?$ && $2 =~ ^-?[0-9.]+(e-?[0-9]+)?$ ]] ||
		fail "below: '$1' or '$2' is not a number"
	awk -v v="$1" -v b="$2" 'BEGIN { exit !(v + 0 < b + 0) }' ||
		fail "$1 is not below $2"
}

@test "mlp --task regression learns sin(2 x1) + x2^2, 40x better than -a linear" {
	wave 30 0 > train.csv
	wave 29 0.5 > test.csv
	$DML_WRAPPER dml-train -a mlp --task regression --hidden 32 \
		--epochs 200 --batch 20 -y y train.csv -o m.dml
	# measured: rmse 0.0283, r2 0.99957 on the points between the grid's
	below "$(metric m.dml test.csv rmse)" 0.06
	below 0.998 "$(metric m.dml test.csv r2)"
	assert_equal "$(metric m.dml test.csv rows)" 841
	# -a linear: rmse 1.3546, r2 0.0088
	$DML_WRAPPER dml-train -a linear -y y train.csv -o l.dml
	below 1.3 "$(metric l.dml test.csv rmse)"
	below "$(metric l.dml test.csv r2)" 0.02
	# predictions are numbers on the target's scale, one per row
	run $DML_WRAPPER dml-predict -m m.dml test.csv
	assert_success
	assert_equal "${#lines[@]}" 841
	paste <(tail -n +2 test.csv | cut -d, -f3) <(echo "$output") |
		awk '{ e = $1 - $2; if (e < -0.2 || e > 0.2) exit 1 }' ||
		fail "a prediction is off by more than 0.2"
	run $DML_WRAPPER dml-inspect m.dml
	assert_success
	assert_line "  layers         2 32 1 (relu, linear output)"
	assert_line "  task           regression"
	refute_line --partial "classes"
	# the target's mean and sd, from the statistics
	want=$(tail -n +2 train.csv | awk -F, '{ s += $3; q += $3 * $3 }
		END { m = s / NR; printf "%.9f %.9f", m, sqrt(q / NR - m * m) }')
	got=$(echo "$output" | awk '$1 == "target" { printf "%.9f %.9f", $3, $5 }')
	assert_equal "$got" "$want"
	run $DML_WRAPPER dml-inspect --json m.dml
	assert_output --partial '"layers":[2,32,1],"activation":"relu","task":"regression","target_mean":'
	run $DML_WRAPPER dml-predict -m m.dml --proba test.csv
	assert_failure 2
	# an L-BFGS fit in one process learns it too (measured: rmse 0.064)
	$DML_WRAPPER dml-train -a mlp --task regression --hidden 16 \
		--optimizer lbfgs --max-iter 200 -y y train.csv -o b.dml
	below "$(metric b.dml test.csv rmse)" 0.12
	# a classifier's inspect says so
	xor_grid > xor.csv
	$DML_WRAPPER dml-train -a mlp --task classification --epochs 1 \
		-y label xor.csv -o c.dml
	run $DML_WRAPPER dml-inspect c.dml
	assert_line "  task           classification"
}

@test "regression mlp: reduced shard gradients are the whole set's, bit for bit" {
	wave 30 0 > d.csv
	# contiguous shards that start on 256-row chunk boundaries
	head -n 513 d.csv > a.csv
	{ head -n 1 d.csv; tail -n +514 d.csv; } > b.csv
	for s in a b; do
		$DML_WRAPPER dml-train --emit stats -a mlp --task regression \
			-y y "$s.csv" -o "st-$s.dml"
	done
	$DML_WRAPPER dml-reduce st-a.dml st-b.dml |
		$DML_WRAPPER dml-train --apply - -a mlp --task regression \
			--hidden 12 -o m.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml d.csv -o whole.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml a.csv -o g-a.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml b.csv -o g-b.dml
	$DML_WRAPPER dml-reduce g-b.dml g-a.dml > sum.dml
	assert_equal "$(json_value sum.dml samples)" 900
	# the loss and (2+1)*12 + (12+1)*1 = 49 weights
	cmp -i 80 -n $((16 + 8 + 24 * 50)) whole.dml sum.dml
	# threads take chunks in any order: the same bits
	$DML_WRAPPER dml-train -j 2 --emit gradient -m m.dml d.csv -o whole2.dml
	cmp whole.dml whole2.dml
	# the objective at the start: half the mean squared error of the
	# standardized target (variance 1) and a small net (measured 0.576)
	$DML_WRAPPER dml-train --apply sum.dml -m m.dml -o m1.dml
	f0=$(json_value m1.dml objective)
	below 0.5 "$f0"
	below "$f0" 0.7
}

@test "regression mlp: BSP rounds and model averaging learn the wave" {
	wave 30 0 > d.csv
	wave 29 0.5 > test.csv
	dml-partition -n 2 -o 's%d.csv' d.csv
	for i in 0 1; do
		$DML_WRAPPER dml-train --emit stats -a mlp --task regression \
			-y y "s$i.csv" -o "st$i.dml"
	done
	$DML_WRAPPER dml-reduce st0.dml st1.dml |
		$DML_WRAPPER dml-train --apply - -a mlp --task regression \
			--hidden 16 -o m.dml
	cp m.dml init.dml
	for r in $(seq 1 120); do
		for i in 0 1; do
			$DML_WRAPPER dml-train --emit gradient -m m.dml "s$i.csv" \
				-o "g$i.dml"
		done
		$DML_WRAPPER dml-reduce g0.dml g1.dml |
			$DML_WRAPPER dml-train --apply - -m m.dml -o m.dml
		[[ $(json_value m.dml status) == running ]] || break
	done
	# measured: 107 rounds (100 L-BFGS steps), rmse 0.0769
	below "$(metric m.dml test.csv rmse)" 0.15
	# model averaging from the same start (measured: rmse 0.0701)
	cp init.dml m.dml
	for r in 1 2 3 4 5; do
		for i in 0 1; do
			$DML_WRAPPER dml-train --emit model -m m.dml --epochs 40 \
				--batch 20 --task regression "s$i.csv" -o "m$i.dml"
		done
		$DML_WRAPPER dml-reduce m0.dml m1.dml > m.dml
	done
	$DML_WRAPPER dml-reduce m1.dml m0.dml | cmp - m.dml
	assert_equal "$(json_value m.dml iteration)" 5
	assert_equal "$(json_value m.dml samples)" 900
	below "$(metric m.dml test.csv rmse)" 0.15
	# a classifier of the same columns does not average with it
	awk -F, -v OFS=, 'NR > 1 { $3 = $3 > 1 ? "hi" : "lo" } 1' d.csv > c.csv
	$DML_WRAPPER dml-train -a mlp --hidden 16 --epochs 1 -y y c.csv \
		-o c.dml
	$DML_WRAPPER dml-train --emit model -m init.dml --epochs 1 s0.csv \
		-o r0.dml
	run --separate-stderr $DML_WRAPPER dml-reduce r0.dml c.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-reduce: c.dml: record 1: models differ in classes, scaler or parameters: they do not come from the same initial model"
}

@test "regression mlp: the same seed gives the same bytes, any -j" {
	wave 30 0 > d.csv
	for j in 1 2; do
		$DML_WRAPPER dml-train -j $j -a mlp --task regression \
			--hidden 20 --epochs 5 -y y d.csv -o "j$j.dml"
	done
	cmp j1.dml j2.dml
	$DML_WRAPPER dml-train -j 1 -a mlp --task regression --hidden 20 \
		--epochs 5 -y y d.csv -o again.dml
	cmp j1.dml again.dml
	$DML_WRAPPER dml-train -j 1 -a mlp --task regression --hidden 20 \
		--epochs 5 --seed 2 -y y d.csv -o other.dml
	! cmp -s j1.dml other.dml
}

@test "regression mlp: a target that is not a number, and tasks that do not fit" {
	wave 30 0 > d.csv
	{ head -n 3 d.csv; echo "0.5,0.25,abc"; tail -n 2 d.csv; } > bad.csv
	for args in "" "--emit stats"; do
		# shellcheck disable=SC2086 # the words of args
		run --separate-stderr $DML_WRAPPER dml-train -a mlp \
			--task regression $args -y y bad.csv -o out.dml
		assert_failure 1
		assert_output ""
		assert_equal "$stderr" "dml-train: bad.csv:4:3: target 'abc' is not a finite number"
	done
	$DML_WRAPPER dml-train -a mlp --task regression --epochs 1 -y y d.csv \
		-o m.dml
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m m.dml \
		bad.csv -o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: bad.csv:4:3: target 'abc' is not a finite number"
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval bad.csv
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" "dml-predict: bad.csv:4:3: target 'abc' is not a finite number"
	usage_error "--task: unknown task 'ranking' (classification, regression)" \
		-a mlp --task ranking -y y d.csv
	usage_error "--task is for -a mlp, tree and forest only (-a linear has one task)" \
		-a linear --task regression -y y d.csv
	# the task of a model (-m) is its own
	run --separate-stderr $DML_WRAPPER dml-train --emit gradient -m m.dml \
		--task classification d.csv -o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: m.dml: is a regression mlp, not a classification one (--task)"
	# statistics of the other task
	$DML_WRAPPER dml-train --emit stats -a mlp --task regression -y y \
		d.csv -o st.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply st.dml -a mlp \
		-o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: st.dml: statistics of a regression target given to a mlp model (use --task regression)"
	xor_grid > xor.csv
	$DML_WRAPPER dml-train --emit stats -y label xor.csv -o cst.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply cst.dml -a mlp \
		--task regression -o out.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: cst.dml: a regression mlp needs statistics of a numeric target (make them with -a mlp --task regression)"
	[[ ! -e out.dml ]]
}
