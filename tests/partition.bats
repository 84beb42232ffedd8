#!/usr/bin/env bats
# dml-partition: every strategy keeps every row exactly once, repeats the
# header, and is deterministic; quoted fields survive.

load setup
load helpers

# bodies N PREFIX: the data rows of PREFIX0.csv .. PREFIX(N-1).csv.
bodies() {
	local i
	for ((i = 0; i < $1; i++)); do
		tail -n +2 "$2$i.csv"
	done
}

# check_shards N PREFIX: every shard starts with d.csv's header, and the
# shards' rows are d.csv's rows, each exactly once.
check_shards() {
	local i
	for ((i = 0; i < $1; i++)); do
		assert_file_exists "$2$i.csv"
		assert_equal "$(head -n 1 "$2$i.csv")" "$(head -n 1 d.csv)"
	done
	bodies "$1" "$2" | sort > union
	tail -n +2 d.csv | sort > rows
	cmp union rows || fail "$2: the shards do not hold the input's rows"
}

@test "round-robin: row i goes to shard i mod N" {
	synth blobs -n 100 --seed 51 > d.csv
	run --separate-stderr $DML_WRAPPER dml-partition -n 3 d.csv
	assert_success
	assert_equal "$stderr" ""
	assert_equal "$output" ""
	check_shards 3 shard-
	tail -n +2 d.csv | awk 'NR % 3 == 1' > expect0
	tail -n +2 shard-0.csv | cmp - expect0
	tail -n +2 d.csv | awk 'NR % 3 == 2' > expect1
	tail -n +2 shard-1.csv | cmp - expect1
	assert_equal "$(wc -l < shard-0.csv)" 35
	assert_equal "$(wc -l < shard-2.csv)" 34
}

@test "range: contiguous blocks, in order" {
	synth blobs -n 100 --seed 52 > d.csv
	$DML_WRAPPER dml-partition -n 4 -s range -o 'r-%d.csv' d.csv
	check_shards 4 r-
	# concatenated in shard order, they are the input
	bodies 4 r- | cmp - <(tail -n +2 d.csv)
	for i in 0 1 2 3; do
		assert_equal "$(wc -l < "r-$i.csv")" 26
	done
	# from a pipe too (counted through a temporary copy)
	mkdir pipe
	$DML_WRAPPER dml-partition -n 4 -s range -o 'pipe/r-%d.csv' < d.csv
	for i in 0 1 2 3; do
		cmp "r-$i.csv" "pipe/r-$i.csv"
	done
}

@test "random: deterministic for a seed, different for another" {
	synth blobs -n 200 --seed 53 > d.csv
	$DML_WRAPPER dml-partition -n 3 -s random --seed 7 -o 'a-%d.csv' d.csv
	$DML_WRAPPER dml-partition -n 3 -s random --seed 7 -o 'b-%d.csv' d.csv
	$DML_WRAPPER dml-partition -n 3 -s random --seed 8 -o 'c-%d.csv' d.csv
	check_shards 3 a-
	check_shards 3 c-
	for i in 0 1 2; do
		cmp "a-$i.csv" "b-$i.csv"
	done
	! cmp -s a-0.csv c-0.csv
	# not round-robin in disguise
	tail -n +2 d.csv | awk 'NR % 3 == 1' > rr0
	! tail -n +2 a-0.csv | cmp -s - rr0
	# the default seed is 1
	$DML_WRAPPER dml-partition -n 3 -s random -o 'd-%d.csv' d.csv
	$DML_WRAPPER dml-partition -n 3 -s random --seed 1 -o 'e-%d.csv' d.csv
	cmp d-1.csv e-1.csv
}

@test "hash: rows with equal keys go to the same shard" {
	synth blobs -n 300 --classes 5 --seed 54 > d.csv
	# a key column with repeated values: the row number mod 17
	awk -F, -v OFS=, 'NR == 1 { print "user", $0; next }
		{ print "u" (NR % 17), $0 }' d.csv > keyed.csv
	mv keyed.csv d.csv
	$DML_WRAPPER dml-partition -n 4 -s hash -k user -o 'h-%d.csv' d.csv
	check_shards 4 h-
	for i in 0 1 2 3; do
		tail -n +2 "h-$i.csv" | cut -d, -f1 | sort -u
	done | sort | uniq -d > shared
	assert_equal "$(wc -l < shared)" 0
	# 17 keys over 4 shards: more than one shard is used
	used=0
	for i in 0 1 2 3; do
		(($(wc -l < "h-$i.csv") > 1)) && used=$((used + 1))
	done
	((used >= 2))
	# the key by column number gives the same shards
	$DML_WRAPPER dml-partition -n 4 -s hash -k 1 -o 'n-%d.csv' d.csv
	for i in 0 1 2 3; do
		cmp "h-$i.csv" "n-$i.csv"
	done
}

@test "stratified: class proportions within one row per shard" {
	synth blobs -n 301 --classes 3 --seed 55 > d.csv
	$DML_WRAPPER dml-partition -n 4 -s stratified -y label -o 's-%d.csv' \
		d.csv
	check_shards 4 s-
	for c in class-1 class-2 class-3; do
		total=$(label_column d.csv | grep -cx "$c")
		for i in 0 1 2 3; do
			n=$(label_column "s-$i.csv" | grep -cx "$c" || true)
			# floor(total / 4) <= n <= ceil(total / 4)
			((n * 4 >= total - 3 && n * 4 <= total + 3)) ||
				fail "$c: shard $i holds $n of $total"
		done
	done
}

@test "--filter pipes each shard to a command with DML_SHARD set" {
	synth blobs -n 50 --seed 56 > d.csv
	$DML_WRAPPER dml-partition -n 3 -o 'f-%d.csv' d.csv
	run --separate-stderr $DML_WRAPPER dml-partition -n 3 \
		--filter 'cat > out-$DML_SHARD.csv' d.csv
	assert_success
	assert_equal "$stderr" ""
	for i in 0 1 2; do
		cmp "f-$i.csv" "out-$i.csv"
	done
	# no shard-N.csv files were written
	assert_file_not_exists shard-0.csv
	# the same with a strategy and a seed
	$DML_WRAPPER dml-partition -n 2 -s random --seed 4 -o 'g-%d.csv' d.csv
	$DML_WRAPPER dml-partition -n 2 -s random --seed 4 \
		--filter 'sort > sorted-$DML_SHARD.csv' d.csv
	sort g-1.csv | cmp - sorted-1.csv
}

@test "quoted fields with commas, quotes and newlines survive" {
	printf '%s\n' 'id,text,label' '1,"a,b",x' '2,"he said ""hi""",y' \
		'3,"line one' 'line two",x' '4,plain,y' '5,"tab	and, more",x' \
		> d.csv
	# one shard is the input itself
	$DML_WRAPPER dml-partition -n 1 -o 'one-%d.csv' d.csv
	cmp d.csv one-0.csv
	# three shards: rows 1 and 4, 2 and 5, 3
	$DML_WRAPPER dml-partition -n 3 d.csv
	printf '%s\n' 'id,text,label' '1,"a,b",x' '4,plain,y' | cmp - shard-0.csv
	printf '%s\n' 'id,text,label' '2,"he said ""hi""",y' \
		'5,"tab	and, more",x' | cmp - shard-1.csv
	printf '%s\n' 'id,text,label' '3,"line one' 'line two",x' |
		cmp - shard-2.csv
	# and the quoted newline is one row: hashing on text keeps it whole
	$DML_WRAPPER dml-partition -n 2 -s hash -k text -o 'h-%d.csv' d.csv
	cat h-0.csv h-1.csv | grep -c '^line two",x$' | grep -qx 1
}

@test "tab-delimited input, CRLF line ends and no header" {
	printf 'a\tb\tlabel\r\n1\t2\tx\r\n3\t4\ty\r\n5\t6\tx\r\n' > d.tsv
	$DML_WRAPPER dml-partition -n 2 -d tab -o 't-%d.tsv' d.tsv
	printf 'a\tb\tlabel\n1\t2\tx\n5\t6\tx\n' | cmp - t-0.tsv
	printf 'a\tb\tlabel\n3\t4\ty\n' | cmp - t-1.tsv
	printf '1,2,x\n3,4,y\n5,6,x\n' > nh.csv
	$DML_WRAPPER dml-partition -n 2 --no-header -o 'nh-%d.csv' nh.csv
	printf '1,2,x\n5,6,x\n' | cmp - nh-0.csv
	printf '3,4,y\n' | cmp - nh-1.csv
	# stratified by column number without a header
	$DML_WRAPPER dml-partition -n 2 --no-header -s stratified -y 3 \
		-o 'ns-%d.csv' nh.csv
	cat ns-0.csv ns-1.csv | sort | cmp - <(sort nh.csv)
}

@test "several inputs with the same header are one stream" {
	synth blobs -n 40 --seed 57 > d.csv
	head -n 21 d.csv > part1.csv
	{ head -n 1 d.csv; tail -n +22 d.csv; } > part2.csv
	$DML_WRAPPER dml-partition -n 3 -o 'a-%d.csv' d.csv
	$DML_WRAPPER dml-partition -n 3 -o 'b-%d.csv' part1.csv part2.csv
	for i in 0 1 2; do
		cmp "a-$i.csv" "b-$i.csv"
	done
}

@test "shards of an -o pattern appear whole; nothing else is left" {
	synth blobs -n 30 --seed 58 > d.csv
	$DML_WRAPPER dml-partition -n 2 -o 'out-%03d.csv' d.csv
	run ls -A
	assert_output $'d.csv\nout-000.csv\nout-001.csv'
}
