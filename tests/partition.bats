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

@test "bootstrap: exact sample sizes, drawn with replacement, out-of-bag rows are the rest" {
	# 1000 distinct rows (an id column makes every row unique)
	awk 'BEGIN { print "id,x,label"; for (i = 1; i <= 1000; i++) print i "," i * 2 "," i % 3 }' > d.csv
	run --separate-stderr $DML_WRAPPER dml-partition -n 3 -s bootstrap --seed 7 \
		--oob 'oob-%d.csv' -o 'bag-%d.csv' d.csv
	assert_success
	assert_equal "$stderr" ""
	tail -n +2 d.csv | sort > rows
	local i distinct
	for i in 0 1 2; do
		assert_equal "$(head -n 1 "bag-$i.csv")" "id,x,label"
		assert_equal "$(head -n 1 "oob-$i.csv")" "id,x,label"
		# exactly as many rows as the input
		assert_equal "$(tail -n +2 "bag-$i.csv" | wc -l)" 1000
		# every row is an input row, in input order
		tail -n +2 "bag-$i.csv" | sort -c -t, -k1,1n
		tail -n +2 "bag-$i.csv" | sort -u > "u$i"
		comm -23 "u$i" rows | cmp - /dev/null
		# out-of-bag: exactly the rows never drawn
		tail -n +2 "oob-$i.csv" | sort > "o$i"
		sort -m "u$i" "o$i" | cmp - rows
		# about 1 - 1/e of the rows are drawn at least once
		distinct=$(wc -l < "u$i")
		((distinct > 590 && distinct < 675)) || fail "sample $i: $distinct distinct rows"
	done
	# the samples differ from each other
	run ! cmp -s bag-0.csv bag-1.csv
	# copies per row over the 3000 (row, sample) pairs: Poisson(1) to
	# within 4 standard deviations (0 and 1: 0.368, 2: 0.184, 3: 0.061)
	for i in 0 1 2; do
		tail -n +2 "bag-$i.csv" | cut -d, -f1 | uniq -c | awk '{ print $1 }'
		yes 0 | head -n "$(wc -l < "o$i")"
	done | sort -n | uniq -c | awk '
		{ n[$2] = $1; total += $1 }
		END {
			if (total != 3000) { print "total " total; exit 1 }
			split("0.3679 0.3679 0.1839 0.0613", p, " ")
			for (k = 0; k <= 3; k++) {
				f = n[k] / total
				if (f - p[k + 1] > 0.036 || p[k + 1] - f > 0.036) {
					print "copies " k ": " f " of pairs"; exit 1
				}
			}
		}'
	# the same seed: the same bytes, from a pipe too
	mkdir again
	$DML_WRAPPER dml-partition -n 3 -s bootstrap --seed 7 \
		--oob 'again/oob-%d.csv' -o 'again/bag-%d.csv' < d.csv
	for i in 0 1 2; do
		cmp "bag-$i.csv" "again/bag-$i.csv"
		cmp "oob-$i.csv" "again/oob-$i.csv"
	done
	# another seed: other samples
	$DML_WRAPPER dml-partition -n 1 -s bootstrap --seed 8 -o other.csv d.csv
	run ! cmp -s bag-0.csv other.csv
}

@test "bootstrap: --fraction sets the sample size; binary samples train" {
	awk 'BEGIN { print "id,x,label"; for (i = 1; i <= 999; i++) print i "," i * 2 "," (i > 500) }' > d.csv
	$DML_WRAPPER dml-partition -n 2 -s bootstrap --fraction 0.5 -o 'half-%d.csv' d.csv
	assert_equal "$(tail -n +2 half-0.csv | wc -l)" 500
	assert_equal "$(tail -n +2 half-1.csv | wc -l)" 500
	$DML_WRAPPER dml-partition -n 1 -s bootstrap --fraction 2 -o double.csv d.csv
	assert_equal "$(tail -n +2 double.csv | wc -l)" 1998
	# binary samples hold the same rows as the CSV ones
	$DML_WRAPPER dml-partition -n 2 -s bootstrap --fraction 0.5 -f bin -y label \
		--oob 'oob-%d.bin' -o 'half-%d.bin' d.csv
	run $DML_WRAPPER dml-inspect -f samples half-0.bin
	assert_output 500
	$DML_WRAPPER dml-partition -n 2 -s bootstrap --fraction 0.5 -o 'c-%d.csv' \
		--oob 'coob-%d.csv' d.csv
	local oob
	oob=$(($(wc -l < coob-1.csv) - 1))
	run $DML_WRAPPER dml-inspect -f samples oob-1.bin
	assert_output "$oob"
	$DML_WRAPPER dml-train -a logistic -y label -o m.dml half-1.bin
	run $DML_WRAPPER dml-predict -m m.dml --eval oob-1.bin
	assert_success
	assert_line --regexp $'^rows\t'"$oob"'$'
}

@test "bootstrap: bad options are usage errors" {
	printf 'a,label\n1,x\n' > d.csv
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 --oob 'o-%d.csv' d.csv
	assert_failure 2
	assert_equal "$stderr" $'dml-partition: --oob goes with -s bootstrap\nTry \'dml-partition --help\' for more information.'
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -s random --fraction 0.5 d.csv
	assert_failure 2
	assert_equal "${stderr%%$'\n'*}" "dml-partition: --fraction goes with -s bootstrap"
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -s bootstrap --fraction 0 d.csv
	assert_failure 2
	assert_equal "${stderr%%$'\n'*}" "dml-partition: --fraction: 0 is out of range 1e-09..1000"
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -s bootstrap --oob 'o.csv' d.csv
	assert_failure 2
	assert_equal "${stderr%%$'\n'*}" "dml-partition: --oob: 'o.csv' must hold exactly one %d"
	run --separate-stderr $DML_WRAPPER dml-partition -n 2 -s bootstrap --oob 's-%d.csv' -o 's-%d.csv' d.csv
	assert_failure 2
	assert_equal "${stderr%%$'\n'*}" "dml-partition: --oob and --output name the same files"
	run bash -c "ls | grep -v '^separate-stderr-'"
	assert_output d.csv
}
