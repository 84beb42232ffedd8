#!/usr/bin/env bats
# tests/kmeans.bats -- k-means (-a kmeans): separated blobs found exactly,
# distributed rounds over any number of shards give the centers of one
# process, -j does not change a bit, a killed loop resumes, bad input is
# refused with a clear message.

load setup
load helpers

# blobs N: N rows of three separated blobs in the plane, around (0,0),
# (10,0) and (0,10), noise in [-1,1]; column 'blob' says which.
blobs() {
	awk -v n="$1" 'BEGIN {
		srand(7); print "x,y,blob"
		split("0 10 0", cx, " "); split("0 0 10", cy, " ")
		for (i = 0; i < n; i++) {
			b = i % 3 + 1
			printf "%.6f,%.6f,%d\n", cx[b] + 2 * rand() - 1,
				cy[b] + 2 * rand() - 1, b
		}
	}'
}

# cloud N: N rows of four overlapping blobs in 3 dimensions, so that Lloyd
# takes several steps.
cloud() {
	awk -v n="$1" 'BEGIN {
		srand(11); print "a,b,c"
		for (i = 0; i < n; i++) {
			b = i % 4
			printf "%.6f,%.6f,%.6f\n", b + 3 * rand(), (b % 2) * 2 + 3 * rand(),
				int(b / 2) * 2 + 3 * rand()
		}
	}'
}

# centers MODEL: one center per line, coordinates tab-separated.
centers() {
	$DML_WRAPPER dml-inspect --json "$1" | jq -r '.centers[] | @tsv'
}

# same_centers A B TOL: the centers of models A and B agree within TOL.
same_centers() {
	paste <(centers "$1") <(centers "$2") | awk -F'\t' -v t="$3" '
	{ h = NF / 2; for (i = 1; i <= h; i++) {
		d = $i - $(i + h); if (d < 0) d = -d
		if (d > t) { print "row " NR ": " $0; bad = 1 } } n++ }
	END { exit bad || n == 0 }' || fail "centers of $1 and $2 differ by more than $3"
}

# check_stderr [--partial|--regexp] TEXT: what the last `run
# --separate-stderr' wrote to stderr.
check_stderr() {
	case $1 in
	--partial) [[ $stderr == *"$2"* ]] || fail "stderr lacks '$2': $stderr" ;;
	--regexp) [[ $stderr =~ $2 ]] || fail "stderr does not match '$2': $stderr" ;;
	*) assert_equal "$stderr" "$1" ;;
	esac
}

# bsp MODEL K SHARD...: the whole distributed loop, as examples do it.
bsp() {
	local model=$1 k=$2 s
	shift 2
	for s in "$@"; do
		$DML_WRAPPER dml-train -a kmeans --emit stats "$s" || return 1
	done | $DML_WRAPPER dml-reduce --expect $# |
		$DML_WRAPPER dml-train --apply - -a kmeans --k "$k" -o "$model" || return 1
	bsp_more "$model" 1000 "$@"
}

# bsp_more MODEL ROUNDS SHARD...: at most ROUNDS more rounds, until done.
bsp_more() {
	local model=$1 n=$2 r s
	shift 2
	for ((r = 0; r < n; r++)); do
		[[ $($DML_WRAPPER dml-inspect -f status "$model") == running ]] || return 0
		for s in "$@"; do
			$DML_WRAPPER dml-train --emit stats -m "$model" "$s" || return 1
		done | $DML_WRAPPER dml-reduce --expect $# |
			$DML_WRAPPER dml-train --apply - -m "$model" -o "$model" || return 1
	done
}

@test "kmeans finds separated blobs: centers are the blob means, rows their blob" {
	blobs 300 >b.csv
	run $DML_WRAPPER dml-train -a kmeans --k 3 -y blob -o m.dml b.csv
	assert_success
	assert_output ""
	run $DML_WRAPPER dml-inspect -f family,status,features m.dml
	assert_output "$(printf 'kmeans\tconverged\t2')"
	# every center is the mean of one blob, to 1e-6
	tail -n +2 b.csv | awk -F, '{ sx[$3] += $1; sy[$3] += $2; n[$3]++ }
		END { for (b = 1; b <= 3; b++) printf "%.10f\t%.10f\n", sx[b] / n[b], sy[b] / n[b] }' >means.tsv
	centers m.dml >got.tsv
	[ "$(wc -l <got.tsv)" -eq 3 ]
	while IFS=$'\t' read -r mx my; do
		awk -F'\t' -v x="$mx" -v y="$my" '
			function a(v) { return v < 0 ? -v : v }
			a($1 - x) <= 1e-6 && a($2 - y) <= 1e-6 { found = 1 }
			END { exit !found }' got.tsv || fail "no center at the blob mean $mx $my"
	done <means.tsv
	# each blob is one cluster, and the three clusters differ
	$DML_WRAPPER dml-predict -m m.dml b.csv >pred.tsv
	[ "$(wc -l <pred.tsv)" -eq 300 ]
	paste -d'\t' <(tail -n +2 b.csv | cut -d, -f3) pred.tsv | sort -u | cut -f1,2 | sort -u >pairs
	[ "$(wc -l <pairs)" -eq 3 ]
	[ "$(cut -f1 pairs | sort -u | wc -l)" -eq 3 ]
	[ "$(cut -f2 pairs | sort -u | wc -l)" -eq 3 ]
	# clusters are numbered from 0, distances are not negative and small
	awk -F'\t' '$1 !~ /^[012]$/ || $2 < 0 || $2 > 1.5 { exit 1 }' pred.tsv
}

@test "kmeans --eval prints the inertia (the model's) and the rows; --threshold flags far rows" {
	blobs 300 >b.csv
	$DML_WRAPPER dml-train -a kmeans --k 3 -y blob -o m.dml b.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --eval b.csv
	assert_success
	assert_line --index 1 "$(printf 'rows\t300')"
	inertia=$(awk -F'\t' '$1 == "inertia" { print $2 }' <<<"$output")
	assert_close "$inertia" "$(json_value m.dml objective)" 1e-9 inertia
	# the inertia is the sum of the squared distances printed per row
	sum=$($DML_WRAPPER dml-predict -m m.dml b.csv | awk -F'\t' '{ s += $2 * $2 } END { printf "%.10g", s }')
	assert_close "$inertia" "$sum" 1e-8 "sum of squared distances"
	# a far point is flagged, a near one not
	printf 'x,y\n0.1,0.1\n30,30\n' >probe.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --threshold 2 probe.csv
	assert_success
	assert_equal "$(cut -f3 <<<"$output" | tr '\n' ' ')" "0 1 "
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --threshold 2 --eval probe.csv
	assert_line "$(printf 'flagged\t1')"
}

@test "kmeans over 1, 2 and 3 shards gives the centers of one process, to 1e-9" {
	cloud 900 >c.csv
	$DML_WRAPPER dml-train -a kmeans --k 4 --seed 5 -o one.dml c.csv
	steps=$(json_value one.dml lloyd_steps)
	[ "$steps" -ge 3 ] || fail "only $steps Lloyd steps: too easy a test"
	for n in 1 2 3; do
		$DML_WRAPPER dml-partition -n "$n" -o "s$n-%d.csv" c.csv
		shards=()
		for ((i = 0; i < n; i++)); do shards+=("s$n-$i.csv"); done
		for s in "${shards[@]}"; do
			$DML_WRAPPER dml-train -a kmeans --emit stats "$s"
		done | $DML_WRAPPER dml-reduce --expect "$n" |
			$DML_WRAPPER dml-train --apply - -a kmeans --k 4 --seed 5 -o "d$n.dml"
		bsp_more "d$n.dml" 1000 "${shards[@]}"
		assert_equal "$($DML_WRAPPER dml-inspect -f status,iteration "d$n.dml")" \
			"$($DML_WRAPPER dml-inspect -f status,iteration one.dml)"
		same_centers one.dml "d$n.dml" 1e-9
		assert_close "$(json_value "d$n.dml" objective)" "$(json_value one.dml objective)" 1e-6 inertia
	done
	# the seeds and the data decide: another seed, other centers
	$DML_WRAPPER dml-train -a kmeans --k 4 --seed 6 -o other.dml c.csv
	run same_centers one.dml other.dml 1e-3
	assert_failure
}

# wide N D SCALE: N rows of D features, six overlapping blobs times SCALE,
# and a last column that is always 7.
wide() {
	awk -v n="$1" -v d="$2" -v sc="$3" 'BEGIN {
		srand(13)
		for (j = 1; j <= d; j++) printf "f%d,", j
		print "k"
		for (i = 0; i < n; i++) {
			b = i % 6
			for (j = 1; j <= d; j++)
				printf "%.9g,", sc * ((j % 6 == b) * 0.5 + 2 * rand())
			print 7
		}
	}'
}

@test "kmeans in 40 dimensions, values beyond 2^40 and a constant column: shards give the centers of one process" {
	for sc in 1 6e11; do
		wide 3000 40 "$sc" >w.csv
		$DML_WRAPPER dml-train -a kmeans --k 6 -o one.dml w.csv
		steps=$(json_value one.dml lloyd_steps)
		[ "$steps" -ge 5 ] || fail "only $steps Lloyd steps: too easy a test"
		$DML_WRAPPER dml-partition -n 2 -o "s-%d.csv" w.csv
		bsp two.dml 6 s-0.csv s-1.csv
		assert_equal "$($DML_WRAPPER dml-inspect -f status,iteration two.dml)" \
			"$($DML_WRAPPER dml-inspect -f status,iteration one.dml)"
		same_centers one.dml two.dml "$(awk -v s="$sc" 'BEGIN { print 1e-9 * s }')"
		assert_close "$(json_value two.dml objective)" "$(json_value one.dml objective)" 1e-9 inertia
		# the constant column is 7 in every center
		centers one.dml | awk -F'\t' '$NF != 7 { exit 1 }' || fail "constant column moved"
	done
}

@test "kmeans: -j 1 and -j 2 give the same bytes, fitting and in passes" {
	cloud 10000 >c.csv
	$DML_WRAPPER dml-train -a kmeans --k 5 -j 1 -o j1.dml c.csv
	$DML_WRAPPER dml-train -a kmeans --k 5 -j 2 -o j2.dml c.csv
	cmp j1.dml j2.dml
	$DML_WRAPPER dml-train -a kmeans --emit stats c.csv |
		$DML_WRAPPER dml-train --apply - -a kmeans --k 5 -o m.dml
	for ((r = 0; r < 7; r++)); do
		$DML_WRAPPER dml-train --emit stats -m m.dml -j 1 -o p1.dml c.csv
		$DML_WRAPPER dml-train --emit stats -m m.dml -j 2 -o p2.dml c.csv
		cmp p1.dml p2.dml
		$DML_WRAPPER dml-train --apply p1.dml -m m.dml -o m.dml
	done
	run $DML_WRAPPER dml-inspect -f iteration m.dml
	assert_output 7
	# the model may come on standard input (as over ssh), with -a kmeans
	$DML_WRAPPER dml-train -a kmeans --emit stats -m - -o p3.dml c.csv <m.dml
	$DML_WRAPPER dml-train --emit stats -m m.dml -o p1.dml c.csv
	cmp p1.dml p3.dml
}

@test "kmeans: a loop killed half-way resumes to the same bytes" {
	cloud 900 >c.csv
	$DML_WRAPPER dml-partition -n 2 -o "s-%d.csv" c.csv
	bsp whole.dml 4 s-0.csv s-1.csv
	# the same, stopped after 5 rounds (seeding and a Lloyd step), then
	# picked up again from the model file
	for s in s-0.csv s-1.csv; do
		$DML_WRAPPER dml-train -a kmeans --emit stats "$s"
	done | $DML_WRAPPER dml-reduce --expect 2 |
		$DML_WRAPPER dml-train --apply - -a kmeans --k 4 -o part.dml
	bsp_more part.dml 5 s-0.csv s-1.csv
	run $DML_WRAPPER dml-inspect -f status,iteration part.dml
	assert_output "$(printf 'running\t5')"
	# a round killed before its apply leaves the model as it was
	$DML_WRAPPER dml-train --emit stats -m part.dml s-0.csv >half.dml
	cmp <($DML_WRAPPER dml-inspect -f iteration part.dml) <(echo 5)
	bsp_more part.dml 1000 s-0.csv s-1.csv
	cmp whole.dml part.dml
	# a pass of the old round is refused by the new model
	run --separate-stderr $DML_WRAPPER dml-train --apply half.dml -m part.dml -o x.dml
	assert_failure 1
	check_stderr --partial "pass was taken at iteration 5"
	assert_file_not_exists x.dml
}

@test "kmeans bad input: k above the rows, missing or zero --k, fewer distinct rows than k" {
	printf 'a,b\n1,2\n3,4\n5,6\n' >three.csv
	run --separate-stderr $DML_WRAPPER dml-train -a kmeans --k 5 -o m.dml three.csv
	assert_failure 1
	check_stderr "dml-train: three.csv: --k 5 is larger than the number of rows (3)"
	assert_file_not_exists m.dml
	run --separate-stderr $DML_WRAPPER dml-train -a kmeans -o m.dml three.csv
	assert_failure 2
	check_stderr --partial "kmeans needs the number of clusters (--k)"
	run --separate-stderr $DML_WRAPPER dml-train -a kmeans --k 0 three.csv
	assert_failure 2
	check_stderr --partial "--k"
	# the distributed path says the same at its first --apply
	$DML_WRAPPER dml-train -a kmeans --emit stats -o st.dml three.csv
	run --separate-stderr $DML_WRAPPER dml-train --apply st.dml -a kmeans --k 4 -o m.dml
	assert_failure 1
	check_stderr "dml-train: st.dml: --k 4 is larger than the number of rows (3)"
	run --separate-stderr $DML_WRAPPER dml-train --apply st.dml -a kmeans -o m.dml
	assert_failure 2
	check_stderr --partial "kmeans needs the number of clusters (--k)"
	# four rows, two distinct: three centers cannot be seeded
	printf 'a,b\n1,2\n1,2\n3,4\n3,4\n' >dup.csv
	run --separate-stderr $DML_WRAPPER dml-train -a kmeans --k 3 -o m.dml dup.csv
	assert_failure 1
	check_stderr "dml-train: dup.csv: the data have only 2 distinct rows: fewer than --k 3"
	assert_file_not_exists m.dml
}

@test "kmeans and linear models do not mix: --apply, dml-reduce" {
	make_train_test 200 50
	$DML_WRAPPER dml-train -a kmeans --k 3 -y label -o km.dml train.csv
	$DML_WRAPPER dml-train --emit stats -y label train.csv |
		$DML_WRAPPER dml-train --apply - -a logistic -o lr.dml 2>/dev/null ||
		$DML_WRAPPER dml-train --emit stats -y label train.csv |
		$DML_WRAPPER dml-train --apply - -a softmax -o lr.dml
	$DML_WRAPPER dml-train --emit gradient -m lr.dml train.csv >lr-grad.dml
	$DML_WRAPPER dml-train --emit stats -m km.dml train.csv >km-pass.dml
	run --separate-stderr $DML_WRAPPER dml-train --apply lr-grad.dml -m km.dml -o out.dml
	assert_failure 1
	check_stderr --regexp "^dml-train: lr-grad.dml: gradient of a (logistic|softmax) model applied to a kmeans model$"
	run --separate-stderr $DML_WRAPPER dml-train --apply km-pass.dml -m lr.dml -o out.dml
	assert_failure 1
	check_stderr --regexp "^dml-train: km-pass.dml: gradient of a kmeans model applied to a (logistic|softmax) model$"
	assert_file_not_exists out.dml
	run --separate-stderr $DML_WRAPPER dml-train -a kmeans --emit stats -m lr.dml train.csv
	assert_failure 1
	check_stderr --regexp "lr.dml: is a (logistic|softmax) model, not kmeans"
	run --separate-stderr $DML_WRAPPER dml-reduce km.dml km.dml
	assert_failure 1
	check_stderr --partial "kmeans models cannot be averaged"
	run --separate-stderr $DML_WRAPPER dml-ensemble -o ens.dml km.dml lr.dml
	assert_failure 1
	check_stderr "dml-ensemble: km.dml: record 1: a kmeans model, not a linear one (logistic or softmax)"
	assert_file_not_exists ens.dml
}

@test "kmeans predict: columns by name, a missing feature column is an error" {
	blobs 30 >b.csv
	$DML_WRAPPER dml-train -a kmeans --k 3 -y blob -o m.dml b.csv
	# columns in another order, an extra one: the same answers
	awk -F, -v OFS=, '{ print $3, $2, "z", $1 }' b.csv >swapped.csv
	cmp <($DML_WRAPPER dml-predict -m m.dml b.csv) <($DML_WRAPPER dml-predict -m m.dml swapped.csv)
	cut -d, -f1,3 b.csv >noy.csv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml -o out.tsv noy.csv
	assert_failure 1
	check_stderr --partial "noy.csv"
	check_stderr --partial "'y'"
	assert_file_not_exists out.tsv
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml --proba b.csv
	assert_failure 2
}

@test "kmeans: dml-inspect tells the phase; a model still seeding does not predict" {
	blobs 30 >b.csv
	$DML_WRAPPER dml-train -a kmeans --emit stats -y blob b.csv |
		$DML_WRAPPER dml-train --apply - -a kmeans --k 3 -o m.dml
	run $DML_WRAPPER dml-inspect -f status,iteration,objective m.dml
	assert_output "$(printf 'running\t0\tnan')"
	run --separate-stderr $DML_WRAPPER dml-predict -m m.dml b.csv
	assert_failure 1
	check_stderr --partial "still seeding (0 of 3 centers)"
	bsp_more m.dml 1000 b.csv
	run $DML_WRAPPER dml-inspect -f status m.dml
	assert_output converged
	run $DML_WRAPPER dml-inspect m.dml
	assert_line --partial "k-means        k=3, 3 centers"
}
