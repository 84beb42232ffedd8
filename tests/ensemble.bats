#!/usr/bin/env bats
# dml-ensemble: --combine vote|average|weighted, --weights, --weigh-by,
# --stack; members of any family; what cannot be combined.

load setup
load helpers

# blobs: 3 classes, t.csv to train (600 rows), v.csv held out for
# weighing and stacking (600), h.csv to test (1200), one draw.
blobs() {
	synth blobs -n 2400 --classes 3 --features 6 --spread 0.6 --seed 21 \
		> all.csv
	head -n 601 all.csv > t.csv
	{ head -n 1 all.csv; sed -n '602,1201p' all.csv; } > v.csv
	{ head -n 1 all.csv; tail -n 1200 all.csv; } > h.csv
}

accuracy() { # MODEL DATA
	$DML_WRAPPER dml-predict -m "$1" --eval "$2" |
		awk -F'\t' '$1 == "accuracy" { print $2 }'
}

# useless.dml: softmax on the same features, but fitted to labels
# shuffled (a fixed rotation of the label column): it knows nothing.
useless() {
	awk -F, -v OFS=, 'NR == 1 { print; next } { x[NR] = $0; y[NR] = $NF }
	END { for (i = 2; i <= NR; i++) {
		j = 2 + (i * 7919) % (NR - 1); $0 = x[i]; $NF = y[j]; print } }' \
		t.csv > shuffled.csv
	$DML_WRAPPER dml-train -a softmax -y label shuffled.csv -o useless.dml
}

@test "voting of identical models predicts exactly like one model" {
	blobs
	$DML_WRAPPER dml-train -a softmax -y label t.csv -o m.dml
	$DML_WRAPPER dml-ensemble --combine vote m.dml m.dml m.dml -o v.dml
	$DML_WRAPPER dml-predict -m m.dml h.csv > p1
	$DML_WRAPPER dml-predict -m v.dml h.csv > p2
	cmp p1 p2
	# votes are shares of the members: all three agree, so 1 and 0
	$DML_WRAPPER dml-predict -m v.dml --proba h.csv | sed 1d |
		cut -f2- | tr '\t' '\n' | sort -u > shares
	assert_equal "$(cat shares)" $'0\n1'
	run $DML_WRAPPER dml-inspect v.dml
	assert_line '  members        3'
	assert_line '  combine        vote'
	assert_equal "$(json_value v.dml combine)" vote
}

@test "voting: the majority of three models wins, ties to the first class" {
	blobs
	$DML_WRAPPER dml-train -a softmax -y label t.csv -o a.dml
	$DML_WRAPPER dml-train -a tree -y label t.csv -o b.dml
	$DML_WRAPPER dml-train -a forest --trees 10 -y label t.csv -o c.dml
	$DML_WRAPPER dml-ensemble --combine vote a.dml b.dml c.dml -o v.dml
	for m in a b c v; do
		$DML_WRAPPER dml-predict -m $m.dml h.csv > $m.txt
	done
	# the majority of a, b, c row by row (all differ: the first class
	# in label order that got a vote, as classes are class-1..3)
	paste a.txt b.txt c.txt | awk '{
		if ($1 == $2 || $1 == $3) print $1
		else if ($2 == $3) print $2
		else { m = $1; if ($2 < m) m = $2; if ($3 < m) m = $3; print m } }' \
		> majority.txt
	cmp majority.txt v.txt
}

@test "weighted: --weights 1,0 is the first model, --weigh-by uses accuracy" {
	blobs
	$DML_WRAPPER dml-train -a softmax -y label t.csv -o m.dml
	useless
	$DML_WRAPPER dml-ensemble --weights 1,0 m.dml useless.dml -o w.dml
	$DML_WRAPPER dml-predict -m m.dml --proba h.csv > p1
	$DML_WRAPPER dml-predict -m w.dml --proba h.csv > p2
	cmp p1 p2
	run $DML_WRAPPER dml-inspect w.dml
	assert_line '  members        2'
	assert_line '  combine        weighted'
	assert_line --partial '  member 2       softmax, 600 samples, weight 0'
	$DML_WRAPPER dml-ensemble --weigh-by v.dml.csv m.dml useless.dml \
		-o b.dml 2>/dev/null && fail "a missing file was accepted"
	$DML_WRAPPER dml-ensemble --weigh-by v.csv m.dml useless.dml -o b.dml
	# the weights are the accuracies on v.csv
	am=$(accuracy m.dml v.csv)
	au=$(accuracy useless.dml v.csv)
	run $DML_WRAPPER dml-inspect --json b.dml
	[[ $output =~ \"weights\":\[([0-9.e-]+),([0-9.e-]+)\] ]] ||
		fail "no weights in $output"
	assert_close "${BASH_REMATCH[1]}" "$am" 1e-6 "weight 1"
	assert_close "${BASH_REMATCH[2]}" "$au" 1e-6 "weight 2"
}

@test "stacking learns to ignore a useless member" {
	blobs
	$DML_WRAPPER dml-train -a softmax -y label t.csv -o good.dml
	useless
	good=$(accuracy good.dml h.csv)
	bad=$(accuracy useless.dml h.csv)
	$DML_WRAPPER dml-ensemble --stack v.csv good.dml useless.dml -o s.dml
	stacked=$(accuracy s.dml h.csv)
	# measured: good 0.69, useless 0.44
	awk -v g="$good" -v b="$bad" 'BEGIN { exit !(g > b + 0.2) }' ||
		fail "the members are not what the test needs: $good $bad"
	assert_close "$stacked" "$good" 0.015 "stacked vs good member accuracy"
	run $DML_WRAPPER dml-inspect s.dml
	assert_line '  members        2'
	assert_line '  combine        stack'
	assert_line '  meta-model     softmax on 6 member outputs'
	# the stacked ensemble survives being written and read again
	$DML_WRAPPER dml-predict -m s.dml --proba h.csv > p1
	awk -F'\t' 'NR > 1 { s = $2 + $3 + $4
		if (s < 0.99999 || s > 1.00001) exit 1 }' p1 ||
		fail "probabilities do not sum to 1"
}

@test "ensembles of models of other schemas, classes or rules are refused" {
	blobs
	$DML_WRAPPER dml-train -a softmax -y label t.csv -o m.dml
	cut -d, -f2- t.csv > fewer.csv
	$DML_WRAPPER dml-train -a forest --trees 3 -y label fewer.csv -o f.dml
	run --separate-stderr $DML_WRAPPER dml-ensemble m.dml f.dml -o e.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-ensemble: f.dml: record 1: member 2 has another feature schema than member 1'
	assert_file_not_exists e.dml
	awk -F, -v OFS=, 'NR > 1 && $NF == "class-3" { next } { print }' \
		t.csv > two.csv
	$DML_WRAPPER dml-train -a tree -y label two.csv -o two.dml
	run --separate-stderr $DML_WRAPPER dml-ensemble m.dml two.dml
	assert_failure 1
	assert_output ""
	assert_equal "$stderr" 'dml-ensemble: two.dml: record 1: member 2 has other classes than member 1'
	# a voting ensemble cannot be flattened into another
	$DML_WRAPPER dml-ensemble --combine vote m.dml m.dml -o v.dml
	run --separate-stderr $DML_WRAPPER dml-ensemble v.dml m.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-ensemble: v.dml: record 1: an ensemble that does not combine by averaging cannot be a member (only averaging ensembles flatten)'
	: > empty.dml
	run --separate-stderr $DML_WRAPPER dml-ensemble empty.dml
	assert_failure 1
	assert_equal "$stderr" 'dml-ensemble: empty.dml: empty input (no record)'
}

@test "bad combine options are usage errors" {
	blobs
	$DML_WRAPPER dml-train -a softmax -y label t.csv -o m.dml
	check() { # MESSAGE ARGS...
		local msg=$1
		shift
		run --separate-stderr $DML_WRAPPER dml-ensemble "$@"
		assert_failure 2
		assert_output ""
		assert_equal "$stderr" "dml-ensemble: $msg
Try 'dml-ensemble --help' for more information."
	}
	check "--combine: unknown rule 'mean' (average, vote, weighted)" \
		--combine mean m.dml
	check '--combine weighted needs --weights or --weigh-by' \
		--combine weighted m.dml
	check '--weights: 1 weights for 2 members' --weights 1 m.dml m.dml
	check '--weights and --weigh-by go with --combine weighted' \
		--combine vote --weights 1,1 m.dml m.dml
	check '--stack is a combine rule of its own: no --combine, --weights or --weigh-by' \
		--stack t.csv --combine vote m.dml
	run --separate-stderr $DML_WRAPPER dml-ensemble --weights 1,-1 m.dml m.dml
	assert_failure 2
}
