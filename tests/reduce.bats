#!/usr/bin/env bats
# dml-reduce: sums are exact, so the same leaf records reduced in any
# grouping and any order give byte-identical output.

load setup
load helpers

# make_leaves: d.csv in six shards s0..s5.csv, their stats st-a..st-f.dml,
# the initial model m.dml, gradients g-a..g-f.dml at it, and one local
# round of model averaging mo-a..mo-f.dml from it.
make_leaves() {
	synth blobs -n 600 --classes 3 --features 4 --seed 41 > d.csv
	$DML_WRAPPER dml-partition -n 6 -s random --seed 5 -o 's%d.csv' d.csv
	local i=0 x
	for x in a b c d e f; do
		$DML_WRAPPER dml-train --emit stats -y label "s$i.csv" \
			-o "st-$x.dml"
		i=$((i + 1))
	done
	$DML_WRAPPER dml-reduce st-?.dml |
		$DML_WRAPPER dml-train --apply - -a softmax -o m.dml
	i=0
	for x in a b c d e f; do
		$DML_WRAPPER dml-train --emit gradient -m m.dml "s$i.csv" \
			-o "g-$x.dml"
		$DML_WRAPPER dml-train --emit model -m m.dml "s$i.csv" \
			-o "mo-$x.dml"
		i=$((i + 1))
	done
}

# same_in_every_shape PREFIX: reduce PREFIX-a..f.dml in many shapes and
# orders; every result must be byte-identical to the flat one.
same_in_every_shape() {
	local p=$1
	$DML_WRAPPER dml-reduce "$p"-{a,b,c,d,e,f}.dml > flat.dml
	$DML_WRAPPER dml-reduce "$p"-{f,e,d,c,b,a}.dml > reverse.dml
	$DML_WRAPPER dml-reduce "$p"-{c,a,f,b,e,d}.dml > shuffled.dml
	# ((a b) (c d) (e f))
	$DML_WRAPPER dml-reduce "$p"-a.dml "$p"-b.dml > ab.dml
	$DML_WRAPPER dml-reduce "$p"-c.dml "$p"-d.dml > cd.dml
	$DML_WRAPPER dml-reduce "$p"-e.dml "$p"-f.dml > ef.dml
	$DML_WRAPPER dml-reduce ab.dml cd.dml ef.dml > pairs.dml
	# (a (b (c (d (e f)))))
	cp ef.dml chain.dml
	local x
	for x in d c b a; do
		$DML_WRAPPER dml-reduce "$p-$x.dml" chain.dml > next.dml
		mv next.dml chain.dml
	done
	# ((f e d) (c b a)) as streams: cat, standard input, '-' among files
	cat "$p"-{f,e,d}.dml | $DML_WRAPPER dml-reduce > fed.dml
	cat "$p"-{c,b}.dml | $DML_WRAPPER dml-reduce - "$p"-a.dml > cba.dml
	cat fed.dml cba.dml | $DML_WRAPPER dml-reduce > streams.dml
	cat "$p"-{a,b,c,d,e,f}.dml | $DML_WRAPPER dml-reduce > cat.dml
	local shape
	for shape in reverse shuffled pairs chain streams cat; do
		cmp flat.dml "$shape.dml" ||
			fail "$p: reduced as '$shape' differs from flat"
	done
}

@test "gradients: every tree shape and order gives the same bytes" {
	make_leaves
	same_in_every_shape g
	assert_equal "$(json_value flat.dml kind)" gradient
	assert_equal "$(json_value flat.dml contributions)" 6
	assert_equal "$(json_value flat.dml samples)" 600
	assert_equal "$(json_value flat.dml iteration)" 0
	# six distinct leaves, sorted
	leaves=$($DML_WRAPPER dml-inspect --json flat.dml |
		sed 's/.*"leaves":\[\([^]]*\)\].*/\1/' | tr ',' '\n')
	assert_equal "$(wc -l <<< "$leaves")" 6
	assert_equal "$(sort -u <<< "$leaves")" "$leaves"
}

@test "stats: every tree shape and order gives the same bytes" {
	make_leaves
	same_in_every_shape st
	assert_equal "$(json_value flat.dml kind)" stats
	assert_equal "$(json_value flat.dml samples)" 600
	# the class counts are those of the data
	counts=$(label_column d.csv | sort | uniq -c | awk '{ print $1 }' |
		paste -sd, -)
	run $DML_WRAPPER dml-inspect --json flat.dml
	assert_output --partial \
		"\"classes\":[\"class-1\",\"class-2\",\"class-3\"],\"class_counts\":[$counts]"
}

@test "models (model averaging): every tree shape and order gives the same bytes" {
	make_leaves
	same_in_every_shape mo
	assert_equal "$(json_value flat.dml kind)" model
	assert_equal "$(json_value flat.dml contributions)" 6
	assert_equal "$(json_value flat.dml iteration)" 1
}

@test "one gradient or stats record reduces to itself" {
	make_leaves
	$DML_WRAPPER dml-reduce g-c.dml > g.dml
	cmp g.dml g-c.dml
	$DML_WRAPPER dml-reduce < st-e.dml > st.dml
	cmp st.dml st-e.dml
}

@test "the sum of the shards' gradients is the gradient of all the data" {
	make_leaves
	$DML_WRAPPER dml-reduce g-?.dml > sum.dml
	# the initial model was set up on all six shards: the sum applies
	$DML_WRAPPER dml-train --apply sum.dml -m m.dml -o m1.dml
	assert_equal "$(json_value m1.dml iteration)" 1
	assert_equal "$(json_value m1.dml evaluations)" 1
	# at w = 0 every row's loss is log(3): so is the objective
	assert_close "$(json_value m1.dml objective)" 1.0986122886681098 1e-12 \
		"objective at zero"
	# five of the six are not enough
	$DML_WRAPPER dml-reduce g-[a-e].dml > five.dml
	rows=$(json_value five.dml samples)
	((rows < 600))
	run --separate-stderr $DML_WRAPPER dml-train --apply five.dml -m m.dml \
		-o m1.dml
	assert_failure 1
	assert_equal "$stderr" "dml-train: five.dml: gradient covers 5 shards ($rows rows), the model was set up on 6 shards (600 rows)"
}

@test "--expect N passes when N leaves contributed, -o writes the same bytes" {
	make_leaves
	run --separate-stderr $DML_WRAPPER dml-reduce --expect 6 g-?.dml \
		-o out.dml
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" ""
	$DML_WRAPPER dml-reduce -e 6 g-?.dml > stdout.dml
	cmp out.dml stdout.dml
	# contributions count leaves, not records
	$DML_WRAPPER dml-reduce g-a.dml g-b.dml g-c.dml > abc.dml
	$DML_WRAPPER dml-reduce --expect 4 abc.dml g-d.dml > /dev/null
}
