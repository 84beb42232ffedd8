#!/usr/bin/env bats
# tests/examples.bats -- run the example scripts in examples/ on small
# synthetic data and check what they claim: BSP training converges to an
# accurate model, a reduction tree gives the same bytes as a flat reduce,
# model averaging learns.
#
# The examples call the dml binaries through PATH; when DML_WRAPPER is set
# (valgrind, ...), setup_file puts shims first in PATH that run each binary
# under it.

load setup

setup_file() {
	bats_require_minimum_version 1.5.0
	cd "$BATS_FILE_TMPDIR" || return 1
	make_train_test 1200 400
	# the reference: one dml-train process on all the training rows
	$DML_WRAPPER dml-train -a softmax -y label -o one.dml train.csv
	$DML_WRAPPER dml-predict -m one.dml --eval test.csv >one.eval
	if [[ -n ${DML_WRAPPER-} ]]; then
		mkdir -p bin
		local p
		for p in dml-partition dml-train dml-reduce dml-predict dml-inspect dml-ensemble; do
			printf '#!/bin/sh\nexec %s "%s" "$@"\n' "$DML_WRAPPER" \
				"$DML_BUILDDIR/src/$p" >"bin/$p"
			chmod +x "bin/$p"
		done
	fi
}

setup() {
	dml_setup
	require_program parallel
	TRAIN=$BATS_FILE_TMPDIR/train.csv
	TEST=$BATS_FILE_TMPDIR/test.csv
	EX=$DML_SRCDIR/examples
	if [[ -n ${DML_WRAPPER-} ]]; then
		PATH=$BATS_FILE_TMPDIR/bin:$PATH
	fi
}

# field NAME: the value of the 'NAME<TAB>value' line of $output.
field() {
	awk -F '\t' -v k="$1" '$1 == k { print $2 }' <<<"$output"
}

# near NAME TOLERANCE: the metric NAME of $output is within TOLERANCE of
# the one-process model's.
near() {
	local ref
	ref=$(awk -F '\t' -v k="$1" '$1 == k { print $2 }' "$BATS_FILE_TMPDIR/one.eval")
	awk -v a="$(field "$1")" -v b="$ref" -v t="$2" -v k="$1" 'BEGIN {
		d = a - b
		if (d < 0) d = -d
		if (a == "" || d > t) {
			printf "%s %s is not within %s of the one-process %s\n", k, a, t, b
			exit 1
		}
	}'
}

# at_least NAME MIN: the metric NAME of $output is at least MIN.
at_least() {
	awk -v a="$(field "$1")" -v m="$2" -v k="$1" 'BEGIN {
		if (a == "" || a + 0 < m) { printf "%s %s < %s\n", k, a, m; exit 1 }
	}'
}

@test "bsp-local.sh trains to convergence and reports the metrics" {
	WORKERS=3 MAX_ITER=100 run --separate-stderr "$EX/bsp-local.sh" "$TRAIN" "$TEST"
	assert_success
	assert_equal "$(field status)" converged
	assert_equal "$(field rows)" 400
	(($(field rounds) > 5))
	# the same optimum as one process on all the rows
	at_least accuracy 0.8
	near accuracy 0.01
	near logloss 0.005
	# the model it wrote, in the current directory, holds the three shards
	run dml-inspect --field contributions model.dml
	assert_output 3
	run dml-inspect --field samples model.dml
	assert_output 1200
	# one progress line per round on stderr
	[[ $stderr == *"round 1: objective "* ]]
}

@test "bsp-local.sh stops at MAX_ITER and writes MODEL" {
	WORKERS=2 MAX_ITER=3 MODEL=m.dml WORKDIR=work \
		run --separate-stderr "$EX/bsp-local.sh" "$TRAIN"
	assert_success
	assert_equal "$(field status)" max-iter
	assert_equal "$(field rows)" 1200
	(($(field rounds) >= 3 && $(field rounds) <= 10))
	assert_file_exists m.dml
	assert_file_exists work/shard-0.csv
	assert_file_exists work/shard-1.csv
	run dml-inspect --field status m.dml
	assert_output max-iter
}

@test "bsp-local.sh: the same model for the same shards, run twice" {
	WORKERS=2 MAX_ITER=5 MODEL=a.dml run "$EX/bsp-local.sh" "$TRAIN"
	assert_success
	WORKERS=2 MAX_ITER=5 MODEL=b.dml run "$EX/bsp-local.sh" "$TRAIN"
	assert_success
	cmp a.dml b.dml
}

@test "bsp-local.sh FORMAT=bin trains on binary shards" {
	WORKERS=2 FORMAT=bin WORKDIR=work run --separate-stderr "$EX/bsp-local.sh" "$TRAIN" "$TEST"
	assert_success
	assert_equal "$(field status)" converged
	near accuracy 0.01
	run dml-inspect --field kind work/shard-0.dml
	assert_success
	assert_line --index 0 data
}

@test "bsp-local.sh: a missing input is a usage error" {
	run "$EX/bsp-local.sh" no-such.csv
	assert_failure 2
	assert_output --partial 'no-such.csv: cannot read'
}

@test "tree-reduce.sh: stats, gradients and averaged models by a tree equal the flat reduce" {
	WORKERS=6 RACKS=3 WORKDIR=work run "$EX/tree-reduce.sh" "$TRAIN"
	assert_success
	assert_output - <<-'EOF'
		stats: tree (6 workers in 3 groups) and flat reduce are byte-identical
		gradient: tree (6 workers in 3 groups) and flat reduce are byte-identical
		model: tree (6 workers in 3 groups) and flat reduce are byte-identical
	EOF
	# check the claim here too, on the files it left
	local kind
	for kind in stats gradient model; do
		cmp "work/$kind-tree.dml" "work/$kind-flat.dml"
		run dml-inspect --field kind "work/$kind-tree.dml"
		assert_output "$kind"
		run dml-inspect --field contributions "work/$kind-tree.dml"
		assert_output 6
		run dml-inspect --field samples "work/$kind-tree.dml"
		assert_output 1200
	done
}

@test "tree-reduce.sh: uneven groups, one kind" {
	WORKERS=5 RACKS=2 KINDS=gradient run "$EX/tree-reduce.sh" "$TRAIN"
	assert_success
	assert_output 'gradient: tree (5 workers in 2 groups) and flat reduce are byte-identical'
}

@test "tree-reduce.sh: RACKS out of range is a usage error" {
	WORKERS=2 RACKS=3 run "$EX/tree-reduce.sh" "$TRAIN"
	assert_failure 2
	assert_output --partial 'RACKS must be between 1 and WORKERS'
}

@test "model-averaging.sh learns in a few rounds" {
	WORKERS=3 ROUNDS=3 LEARNING_RATE=0.5 \
		run --separate-stderr "$EX/model-averaging.sh" "$TRAIN" "$TEST"
	assert_success
	assert_equal "$(field rounds)" 3
	assert_equal "$(field rows)" 400
	at_least accuracy 0.8
	near accuracy 0.03
	# it learned: the initial model's log-loss is ln 3 = 1.0986
	awk -v l="$(field logloss)" 'BEGIN { exit !(l < 0.6) }'
	[[ $stderr == *"round 3: accuracy "* ]]
	run dml-inspect --field contributions model.dml
	assert_output 3
	run dml-inspect --field kind model.dml
	assert_output model
}

@test "kmeans-bsp.sh clusters like one process, and resumes after a kill" {
	dml-train -a kmeans --k 3 -y label -o one-km.dml "$TRAIN"
	one=$(dml-predict -m one-km.dml --eval "$TRAIN" | awk -F'\t' '$1 == "inertia" { print $2 }')
	K=3 WORKERS=3 LABEL=label MODEL=a.dml run --separate-stderr "$EX/kmeans-bsp.sh" "$TRAIN"
	assert_success
	assert_equal "$(field status)" converged
	assert_equal "$(field rows)" 1200
	assert_equal "$(field rounds)" "$(dml-inspect --field iteration one-km.dml)"
	[[ $stderr == *"round 1: inertia nan, running"* ]]
	# the same centers and inertia as one process
	awk -v a="$(field inertia)" -v b="$one" 'BEGIN { d = (a - b) / b; exit !(d < 1e-9 && d > -1e-9) }'
	paste <(dml-inspect --json a.dml | jq -r '.centers[] | @tsv') \
		<(dml-inspect --json one-km.dml | jq -r '.centers[] | @tsv') |
		awk -F'\t' '{ n++; for (i = 1; i <= NF / 2; i++) { d = $i - $(i + NF / 2); if (d > 1e-9 || d < -1e-9) exit 1 } }
			END { exit n != 3 }'
	# killed after a few rounds (its 7th dml-inspect fails), then resumed:
	# the same bytes
	mkdir kill
	printf '#!/bin/sh\nn=$(cat %s/n 2>/dev/null || echo 0)\necho $((n + 1)) >%s/n\n[ "$n" -lt 6 ] || exit 1\nexec %s "$@"\n' \
		"$PWD/kill" "$PWD/kill" "$(command -v dml-inspect)" >kill/dml-inspect
	chmod +x kill/dml-inspect
	K=3 WORKERS=3 LABEL=label MODEL=b.dml PATH=$PWD/kill:$PATH run "$EX/kmeans-bsp.sh" "$TRAIN"
	assert_failure
	run dml-inspect -f status,iteration b.dml
	assert_output "$(printf 'running\t3')"
	K=3 WORKERS=3 LABEL=label MODEL=b.dml RESUME=yes run "$EX/kmeans-bsp.sh" "$TRAIN"
	assert_success
	cmp a.dml b.dml
}
