#!/usr/bin/env bats
# dml-inspect: what a record holds, as text, JSON or one field; the golden
# records in tests/files.

load setup
load helpers

@test "text output names kind, family, iteration, samples, contributions" {
	synth blobs -n 120 --classes 3 --features 2 --seed 71 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	run --separate-stderr $DML_WRAPPER dml-inspect m.dml
	assert_success
	assert_equal "$stderr" ""
	assert_line --index 0 'm.dml: record 1'
	assert_line '  kind           model'
	assert_line '  family         softmax'
	assert_line --regexp '^  format         version 1, [0-9]+ bytes, checksums ok$'
	assert_line '  features       2: f1 f2'
	assert_line '  label column   label'
	assert_line '  classes        3: class-1 class-2 class-3'
	assert_line --regexp '^  iteration      [1-9][0-9]*$'
	assert_line '  samples        120'
	assert_line '  contributions  1'
	assert_line '  weights        3 x 3'
	assert_line --regexp '^  optimizer      lbfgs, converged, [0-9]+ iterations, [0-9]+ evaluations, objective 0\.[0-9]+$'
	# the size is the file's
	assert_line "  format         version 1, $(wc -c < m.dml) bytes, checksums ok"
}

@test "stats and gradient records: class counts, the model a gradient was taken at" {
	printf '%s\n' x,label 1,b 2,a 3,b 4,b > d.csv
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o s.dml
	run $DML_WRAPPER dml-inspect s.dml
	assert_line '  kind           stats'
	assert_line '  classes        2: a (1) b (3)'
	assert_line '  samples        4'
	$DML_WRAPPER dml-train --apply s.dml -a logistic -o m.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml d.csv -o g.dml
	run $DML_WRAPPER dml-inspect g.dml
	assert_line '  kind           gradient'
	assert_line '  family         logistic'
	assert_line --regexp '^  taken at       model [0-9a-f]{16}$'
	# the leaf of the gradient is the leaf of the stats: the same data
	leaf_s=$($DML_WRAPPER dml-inspect s.dml | grep '^  leaves')
	leaf_g=$($DML_WRAPPER dml-inspect g.dml | grep '^  leaves')
	assert_equal "$leaf_g" "$leaf_s"
}

@test "--field prints one value per record" {
	synth blobs -n 90 --classes 3 --features 2 --seed 72 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o s.dml
	cat m.dml s.dml > both.dml
	run $DML_WRAPPER dml-inspect --field kind both.dml
	assert_output $'model\nstats'
	run $DML_WRAPPER dml-inspect -f family both.dml
	assert_output $'softmax\nnone'
	run $DML_WRAPPER dml-inspect -f samples both.dml
	assert_output $'90\n90'
	run $DML_WRAPPER dml-inspect -f contributions m.dml
	assert_output 1
	run $DML_WRAPPER dml-inspect -f features m.dml
	assert_output 2
	run $DML_WRAPPER dml-inspect -f classes both.dml
	assert_output $'3\n3'
	run $DML_WRAPPER dml-inspect -f status both.dml
	assert_output $'converged\n-'
	run $DML_WRAPPER dml-inspect -f iteration s.dml
	assert_output 0
	run $DML_WRAPPER dml-inspect -f objective m.dml
	assert_output --regexp '^0\.[0-9]+$'
	objective=$output
	# the same from standard input, and in the JSON
	run --separate-stderr $DML_WRAPPER dml-inspect --field objective < m.dml
	assert_success
	assert_output "$objective"
	assert_equal "$(json_value m.dml objective)" "$objective"
	# a stats record has no objective
	run $DML_WRAPPER dml-inspect -f objective s.dml
	assert_equal "$output" -
}

@test "--json prints one parseable object per record" {
	synth blobs -n 60 --classes 3 --features 2 --seed 73 > d.csv
	$DML_WRAPPER dml-train -a softmax -y label d.csv -o m.dml
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o s.dml
	$DML_WRAPPER dml-train --emit gradient -m m.dml d.csv -o g.dml
	$DML_WRAPPER dml-ensemble m.dml m.dml -o e.dml
	cat m.dml s.dml g.dml e.dml > all.dml
	run --separate-stderr $DML_WRAPPER dml-inspect --json all.dml
	assert_success
	assert_equal "${#lines[@]}" 4
	assert_line --index 0 --regexp '^\{"file":"all.dml","record":1,"kind":"model","family":"softmax",.*"samples":60,"contributions":1,.*\}$'
	assert_line --index 1 --partial '"record":2,"kind":"stats"'
	assert_line --index 2 --partial '"record":3,"kind":"gradient"'
	assert_line --index 3 --partial '"record":4,"kind":"ensemble"'
	assert_line --index 3 --partial '"members":2'
	if [[ -x /usr/bin/python3 ]]; then
		printf '%s\n' "$output" | /usr/bin/python3 -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
assert [r["kind"] for r in recs] == ["model", "stats", "gradient", "ensemble"]
assert recs[0]["features"] == ["f1", "f2"], recs[0]
assert recs[0]["classes"] == ["class-1", "class-2", "class-3"]
assert recs[1]["class_counts"] == [int(c) for c in sys.argv[1].split()]
assert recs[0]["objective"] > 0 and recs[0]["evaluations"] >= recs[0]["iterations"]
assert recs[2]["leaves"] == recs[1]["leaves"]
' "$(label_column d.csv | sort | uniq -c | awk '{ print $1 }')"
	else
		printf '%s\n' "$output" | grep -c '^{.*}$' | grep -qx 4
	fi
	# a name that needs escaping
	cp m.dml 'we"ird\name.dml'
	run $DML_WRAPPER dml-inspect --json 'we"ird\name.dml'
	assert_output --partial '{"file":"we\"ird\\name.dml",'
}

@test "several records in a stream are numbered; a damaged one stops with exit 1" {
	synth blobs -n 60 --seed 74 > d.csv
	$DML_WRAPPER dml-train --emit stats -y label d.csv -o s.dml
	cat s.dml s.dml s.dml > three.dml
	run $DML_WRAPPER dml-inspect --field kind three.dml
	assert_output $'stats\nstats\nstats'
	run $DML_WRAPPER dml-inspect < three.dml
	assert_line --index 0 '(standard input): record 1'
	assert_line '(standard input): record 3'
	# the third record cut short: the first two are described first
	size=$(wc -c < s.dml)
	head -c $((3 * size - 5)) three.dml > cut.dml
	run --separate-stderr $DML_WRAPPER dml-inspect --field samples cut.dml
	assert_failure 1
	assert_output $'60\n60'
	assert_equal "$stderr" "dml-inspect: cut.dml: record 3: stream ends before the checksum"
}

@test "dml-inspect of golden-model.dml gives golden-model.txt" {
	cd "$DML_SRCDIR/tests/files"
	run --separate-stderr $DML_WRAPPER dml-inspect golden-model.dml
	assert_success
	diff -u golden-model.txt <(printf '%s\n' "$output")
	run --separate-stderr $DML_WRAPPER dml-inspect golden-stats.dml
	assert_success
	diff -u golden-stats.txt <(printf '%s\n' "$output")
}
