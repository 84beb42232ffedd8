#!/usr/bin/env bats
# Models from statistics alone: the scaler, the gaussian anomaly model and
# pca.  Known answers from awk, planted structure, distributed == local.

load setup
load helpers

# gauss_data SEED: 400 normal rows (label 0) of independent N(0,1),
# N(0,4), N(0,0.25) columns a, b, c, and 6 planted outliers (label 1) at
# 8 standard deviations in every column.
gauss_data() {
	awk -v seed="$1" 'BEGIN {
		srand(seed); pi = atan2(0, -1); print "a,b,c,y"
		for (i = 0; i < 400; i++) {
			for (j = 0; j < 3; j++) {
				u = rand(); v = rand()
				z[j] = sqrt(-2 * log(1 - u)) * cos(2 * pi * v)
			}
			printf "%.6f,%.6f,%.6f,0\n", z[0], z[1] * 2, z[2] * 0.5
			if (i % 70 == 35)
				printf "%.6f,%.6f,%.6f,1\n", (i % 140 ? 8 : -8),
					16 * (i % 3 ? 1 : -1), -4
		}
	}'
}

# corr_data: 300 rows of x1 ~ N(0,1), x2 = x1 + N(0,0.01) (label 0), and
# one row (1.5, -1.5) that breaks the correlation (label 1) though each
# of its values is ordinary.
corr_data() {
	awk 'BEGIN {
		srand(11); pi = atan2(0, -1); print "x1,x2,y"
		for (i = 0; i < 300; i++) {
			u = rand(); v = rand()
			r = sqrt(-2 * log(1 - u))
			a = r * cos(2 * pi * v); e = r * sin(2 * pi * v)
			printf "%.6f,%.6f,0\n", a, a + 0.1 * e
			if (i == 150)
				print "1.5,-1.5,1"
		}
	}'
}

# plane_data: 400 rows in 5-D on the plane c + s*u + t*v (u, v
# orthonormal, s with sd about 1.7, t about 0.6), plus noise of 1e-9;
# the columns s and t are not written.
plane_data() {
	awk 'BEGIN {
		srand(23); print "f1,f2,f3,f4,f5"
		split("0.5 0.5 0.5 0.5 0", u, " ")
		split("0.5 -0.5 0.5 -0.5 0", v0, " ")
		split("3 -1 2 0.5 7", c, " ")
		for (i = 0; i < 400; i++) {
			s = (rand() - 0.5) * 6; t = (rand() - 0.5) * 2
			for (j = 1; j <= 5; j++) {
				x = c[j] + s * u[j] + t * v0[j] + (rand() - 0.5) * 1e-9
				printf "%s%.12f", (j > 1 ? "," : ""), x
			}
			print ""
		}
	}'
}

# same_but_provenance LOCAL DISTRIBUTED: the model records are equal byte
# for byte except for what says where they came from: the header's
# payload length and contributions, and the leaves section (the last
# section; LOCAL has one leaf).
same_but_provenance() {
	local n
	n=$(($(stat -c %s "$1") - 80 - 32 - 8))
	cmp <(head -c 24 "$1") <(head -c 24 "$2")
	cmp <(tail -c +33 "$1" | head -c 32) <(tail -c +33 "$2" | head -c 32)
	cmp <(tail -c +81 "$1" | head -c "$n") <(tail -c +81 "$2" | head -c "$n")
	# and the distributed one really does hold 3 leaves, the rest equal
	assert_equal "$(json_value "$2" contributions)" 3
	assert_equal "$(stat -c %s "$2")" $(($(stat -c %s "$1") + 16))
}

@test "scaler: mean and population sd of every feature, as awk computes them" {
	gauss_data 7 > d.csv
	run $DML_WRAPPER dml-train -a scaler -y y d.csv -o sc.dml
	assert_success
	assert_equal "$(json_value sc.dml family)" scaler
	# awk: mean and sd (divisor n) of each column
	awk -F, 'NR > 1 { for (j = 1; j <= 3; j++) { s[j] += $j; q[j] += $j * $j } n++ }
		END { for (j = 1; j <= 3; j++) { m = s[j] / n
			printf "%.17g %.17g\n", m, sqrt(q[j] / n - m * m) } }' d.csv > want
	$DML_WRAPPER dml-inspect sc.dml | awk '$1 ~ /^[abc]$/ { print $2, $3 }' > got
	assert_equal "$(wc -l < got)" 3
	paste -d' ' want got | while read -r wm ws gm gs; do
		assert_close "$gm" "$wm" 1e-9 mean
		assert_close "$gs" "$ws" 1e-9 sd
	done
	# dml-predict prints the standardized rows: (x - mean) / sd
	$DML_WRAPPER dml-predict -m sc.dml d.csv > z
	assert_equal "$(wc -l < z)" 406
	assert_equal "$(awk -F'\t' '{ print NF }' z | sort -u)" 3
	paste -d, <(tail -n +2 d.csv) z | tr '\t' , |
		awk -F, -v m1="$(sed -n 1p want)" -v m2="$(sed -n 2p want)" \
			-v m3="$(sed -n 3p want)" '
		BEGIN { split(m1, a, " "); split(m2, b, " "); split(m3, c, " ")
			mu[1] = a[1]; sd[1] = a[2]; mu[2] = b[1]; sd[2] = b[2]
			mu[3] = c[1]; sd[3] = c[2] }
		{ for (j = 1; j <= 3; j++) {
			d = ($j - mu[j]) / sd[j] - $(j + 4); if (d < 0) d = -d
			if (d > max) max = d } }
		END { printf "%.3g\n", max; exit !(max < 1e-9) }'
}

@test "scaler: --scale gives a model exactly the scaler's standardization" {
	gauss_data 7 > d.csv
	dml-train -a scaler -y y d.csv -o sc.dml
	# stats with exact sums make the same mean and scale as the scaler
	# of those stats: the initial models agree to the byte
	dml-train -a scaler --emit stats -y y d.csv -o st.dml
	$DML_WRAPPER dml-train --apply st.dml -a logistic -o a.dml
	$DML_WRAPPER dml-train --apply st.dml -a logistic --scale sc.dml -o b.dml
	cmp a.dml b.dml
	# a scaler of other data (same columns) changes the model, in both
	# the --apply and the one-process paths
	awk -F, 'NR == 1 { print; next } { print $1 * 3 + 1 "," $2 "," $3 "," $4 }' \
		d.csv > other.csv
	dml-train -a scaler -y y other.csv -o other.dml
	$DML_WRAPPER dml-train --apply st.dml -a logistic --scale other.dml -o c.dml
	run cmp -s a.dml c.dml
	assert_failure
	$DML_WRAPPER dml-train -a logistic -y y --scale sc.dml d.csv -o fit1.dml
	$DML_WRAPPER dml-train -a logistic -y y --scale other.dml d.csv -o fit2.dml
	run cmp -s fit1.dml fit2.dml
	assert_failure
	# the fitted model depends on the scaler's content only: a scaler
	# merged from shards (same sums) gives the same bytes
	dml-partition -n 2 -o 's%d.csv' d.csv
	dml-train -a scaler -y y s0.csv -o h0.dml
	dml-train -a scaler -y y s1.csv -o h1.dml
	dml-reduce h0.dml h1.dml -o merged.dml
	$DML_WRAPPER dml-train -a logistic -y y --scale merged.dml d.csv -o fit3.dml
	cmp fit1.dml fit3.dml
	assert_equal "$($DML_WRAPPER dml-predict -m fit1.dml --eval d.csv | head -n 1)" \
		"$(printf 'accuracy\t1.000000')"
}

@test "scaler: gaussian and pca on standardized features with --scale" {
	gauss_data 7 > d.csv
	dml-train -a scaler -y y d.csv -o sc.dml
	# pca of standardized features: the correlation matrix, whose trace
	# is the number of features times n / (n - 1) (sd of divisor n)
	$DML_WRAPPER dml-train -a pca --components 3 -y y --scale sc.dml d.csv -o p.dml
	total=$($DML_WRAPPER dml-inspect p.dml |
		sed -n 's/.*total variance \(.*\)/\1/p')
	assert_close "$total" "$(awk 'BEGIN { printf "%.17g", 3 * 406 / 405 }')" 1e-9 total
	# the Mahalanobis distance does not change with the scale of features
	# (but for the ridge, 1e-9 of the mean variance, which does)
	for cov in diag full; do
		dml-train -a gaussian --covariance $cov -y y d.csv -o raw.dml
		$DML_WRAPPER dml-train -a gaussian --covariance $cov -y y \
			--scale sc.dml d.csv -o std.dml
		paste <(dml-predict -m raw.dml d.csv) <(dml-predict -m std.dml d.csv) |
			awk '{ d = $1 - $2; if (d < 0) d = -d; d /= $1
				if (d > max) max = d }
			END { printf "%.3g\n", max; exit !(max < 1e-7) }'
	done
	# the standardization is the scaler's, not the data's
	awk -F, 'NR == 1 { print; next } { print $1 * 3 + 1 "," $2 "," $3 "," $4 }' \
		d.csv > other.csv
	dml-train -a scaler -y y other.csv -o other.dml
	dml-train -a pca --components 3 -y y --scale other.dml d.csv -o p2.dml
	total2=$($DML_WRAPPER dml-inspect p2.dml |
		sed -n 's/.*total variance \(.*\)/\1/p')
	assert_not_close "$total2" "$total" 1e-3 total
}

@test "scaler: dml-reduce of scaler models = the scaler of the reduced stats" {
	gauss_data 7 > d.csv
	dml-partition -n 3 -o 's%d.csv' d.csv
	for i in 0 1 2; do
		$DML_WRAPPER dml-train -a scaler -y y "s$i.csv" -o "sc$i.dml"
		$DML_WRAPPER dml-train -a scaler -y y --emit stats "s$i.csv" \
			-o "st$i.dml"
	done
	$DML_WRAPPER dml-reduce sc2.dml sc0.dml sc1.dml -o merged.dml
	$DML_WRAPPER dml-reduce st0.dml st1.dml st2.dml |
		$DML_WRAPPER dml-train --apply - -a scaler -o fromstats.dml
	cmp merged.dml fromstats.dml
	assert_equal "$(json_value merged.dml family)" scaler
	$DML_WRAPPER dml-train -a scaler -y y d.csv -o local.dml
	same_but_provenance local.dml merged.dml
	# a scaler counted twice is caught like any leaf
	run $DML_WRAPPER dml-reduce sc0.dml sc1.dml sc0.dml
	assert_failure 1
	assert_output --partial "counted twice"
}

@test "pca: the top 2 components span a planted plane in 5-D" {
	plane_data > p.csv
	run $DML_WRAPPER dml-train -a pca --components 3 p.csv -o p.dml
	assert_success
	# every centered row lies in the span: |x - mean|^2 = |projection|^2
	$DML_WRAPPER dml-predict -m p.dml p.csv > y
	assert_equal "$(awk -F'\t' '{ print NF }' y | sort -u)" 3
	awk -F, 'NR > 1 { for (j = 1; j <= 5; j++) s[j] += $j; n++ }
		END { for (j = 1; j <= 5; j++) printf "%.17g\n", s[j] / n }' \
		p.csv > mean
	paste -d, <(tail -n +2 p.csv) <(tr '\t' , < y) |
		awk -F, -v mean="$(paste -sd' ' mean)" '
		BEGIN { split(mean, mu, " ") }
		{ r = 0; for (j = 1; j <= 5; j++) r += ($j - mu[j]) ^ 2
		  r -= $6 ^ 2 + $7 ^ 2; if (r < 0) r = -r
		  if (r > max) max = r
		  t = $8 < 0 ? -$8 : $8; if (t > third) third = t }
		END { printf "residual %.3g third %.3g\n", max, third
		      exit !(max < 1e-6 && third < 1e-6) }'
	# explained variance: the eigenvalues of the 2 x 2 covariance of the
	# plane coordinates (s, t) = (u.(x - mean), v.(x - mean))
	want=$(awk -F, -v mean="$(paste -sd' ' mean)" '
		BEGIN { split(mean, mu, " ")
			split("0.5 0.5 0.5 0.5 0", u, " ")
			split("0.5 -0.5 0.5 -0.5 0", v, " ") }
		NR > 1 { s = t = 0
			for (j = 1; j <= 5; j++) { s += u[j] * ($j - mu[j])
				t += v[j] * ($j - mu[j]) }
			ss += s * s; tt += t * t; st += s * t; n++ }
		END { a = ss / (n - 1); b = tt / (n - 1); c = st / (n - 1)
			h = sqrt((a - b) ^ 2 / 4 + c * c)
			l1 = (a + b) / 2 + h; l2 = (a + b) / 2 - h
			printf "%.17g %.17g %.17g %.17g\n", l1, l2,
				l1 / (a + b), l2 / (a + b) }' p.csv)
	read -r l1 l2 r1 r2 <<< "$want"
	$DML_WRAPPER dml-inspect p.dml > info
	assert_equal "$(grep -c '^    [123] ' info)" 3
	read -r _ g1 gr1 _ <<< "$(grep '^    1 ' info)"
	read -r _ g2 gr2 gc2 <<< "$(grep '^    2 ' info)"
	read -r _ g3 gr3 _ <<< "$(grep '^    3 ' info)"
	assert_close "$g1" "$l1" 1e-9 "variance 1"
	assert_close "$g2" "$l2" 1e-9 "variance 2"
	assert_close "$gr1" "$r1" 1e-9 "ratio 1"
	assert_close "$gr2" "$r2" 1e-9 "ratio 2"
	assert_close "$gc2" 1 1e-12 "cumulative ratio of 2"
	awk -v x="$gr3" 'BEGIN { exit !(x < 1e-12) }'
	grep -q '^  components     3 of 5, total variance ' info
	# the sign convention: the largest |value| of each component is
	# positive, so moving along u raises component 1 (s has the larger sd)
	{ head -n 1 p.csv; echo "3.5,-0.5,2.5,1,7"; echo "3,-1,2,0.5,7"; } > uv.csv
	$DML_WRAPPER dml-predict -m p.dml uv.csv | cut -f1 > c1
	awk 'NR == 1 { a = $1 } NR == 2 { b = $1 }
		END { d = a - b; exit !(d > 0.99 && d < 1.01) }' c1
}

@test "pca: 784 features (Householder + QL) in reasonable time" {
	awk 'BEGIN { srand(5)
		for (j = 0; j < 784; j++) printf "%sp%d", (j ? "," : ""), j
		print ""
		for (i = 0; i < 200; i++) { for (j = 0; j < 784; j++)
			printf "%s%.3f", (j ? "," : ""), rand() * (1 + j % 7)
			print "" } }' > big.csv
	SECONDS=0
	run $DML_WRAPPER dml-train -a pca --components 5 big.csv -o big.dml
	assert_success
	echo "# 784 features: ${SECONDS}s" >&3
	((SECONDS < 120))
	$DML_WRAPPER dml-inspect big.dml > info
	# variances come out largest first, 5 of them
	grep '^    [1-5] ' info | awk '{ print $2 }' > v
	assert_equal "$(wc -l < v)" 5
	sort -gr v | cmp - v
	$DML_WRAPPER dml-predict -m big.dml big.csv > y
	assert_equal "$(awk -F'\t' '{ print NF }' y | sort -u)" 5
	assert_equal "$(wc -l < y)" 200
}

@test "gaussian: planted outliers rank first, exact precision and recall" {
	gauss_data 7 > d.csv
	for cov in diag full; do
		run $DML_WRAPPER dml-train -a gaussian --covariance $cov -y y d.csv \
			-o g.dml
		assert_success
		run $DML_WRAPPER dml-predict -m g.dml --eval --threshold 30 d.csv
		assert_success
		assert_output "$(printf 'precision\t1.000000\nrecall\t1.000000\nauc\t1.000000\nrows\t406')"
		run $DML_WRAPPER dml-predict -m g.dml --eval d.csv
		assert_output "$(printf 'auc\t1.000000\nrows\t406')"
		# score<TAB>flag: the flagged rows are exactly the planted ones
		$DML_WRAPPER dml-predict -m g.dml --threshold 30 d.csv > s
		assert_equal "$(awk -F'\t' '$2 == 1 { print NR }' s | paste -sd' ')" \
			"$(awk -F, 'NR > 1 && $4 == 1 { print NR - 1 }' d.csv | paste -sd' ')"
		assert_equal "$(cut -f2 s | sort -u | paste -sd' ')" "0 1"
	done
	# a threshold between the outliers' scores: precision and recall as
	# awk counts them from the scores
	$DML_WRAPPER dml-train -a gaussian -y y d.csv -o g.dml
	$DML_WRAPPER dml-predict -m g.dml d.csv > s
	t=$(paste s <(tail -n +2 d.csv | cut -d, -f4) |
		awk '$2 == 1 { if (!n++ || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
		END { printf "%.17g", (lo + hi) / 2 }')
	want=$(paste s <(tail -n +2 d.csv | cut -d, -f4) |
		awk -v t="$t" '$1 > t { f++; tp += $2 } $2 == 1 { p++ }
		END { printf "precision\t%.6f\nrecall\t%.6f\n", tp / f, tp / p }')
	run $DML_WRAPPER dml-predict -m g.dml --eval --threshold "$t" d.csv
	assert_success
	assert_line -n 0 "$(echo "$want" | head -n 1)"
	assert_line -n 1 "$(echo "$want" | tail -n 1)"
	assert_line -n 0 "$(printf 'precision\t1.000000')"
	refute_line -n 1 "$(printf 'recall\t1.000000')"
	refute_line -n 1 "$(printf 'recall\t0.000000')"
}

@test "gaussian: full covariance catches an outlier of the correlation, diag does not" {
	corr_data > c.csv
	dml-train -a gaussian --covariance diag -y y c.csv -o diag.dml
	dml-train -a gaussian --covariance full -y y c.csv -o full.dml
	run $DML_WRAPPER dml-predict -m full.dml --eval c.csv
	assert_line -n 0 "$(printf 'auc\t1.000000')"
	run $DML_WRAPPER dml-predict -m diag.dml --eval c.csv
	auc=$(echo "$output" | awk -F'\t' '$1 == "auc" { print $2 }')
	awk -v a="$auc" 'BEGIN { exit !(a < 0.9) }' ||
		fail "diag AUC $auc should miss the outlier"
	# its full score is the largest by far; its diag score is ordinary
	row=$(awk -F, '$3 == 1 { print NR - 1 }' c.csv)
	$DML_WRAPPER dml-predict -m full.dml c.csv > f
	assert_equal "$(sort -g f | tail -n 1)" "$(sed -n "${row}p" f)"
	$DML_WRAPPER dml-predict -m diag.dml c.csv > d
	awk -v r="$row" 'NR == r { s = $1 } { all[NR] = $1 }
		END { for (i in all) if (all[i] > s) above++
		      exit !(above > 30) }' d
	# a full covariance of singular data: the ridge keeps it finite
	awk -F, 'NR == 1 { print "x1,x2,x3,y"; next } { print $1 "," $2 "," $1 "," $3 }' \
		c.csv > sing.csv
	run $DML_WRAPPER dml-train -a gaussian --covariance full -y y sing.csv -o s.dml
	assert_success
	run $DML_WRAPPER dml-predict -m s.dml --eval sing.csv
	assert_line -n 0 "$(printf 'auc\t1.000000')"
}

@test "distributed (3 shards, stats, reduce, apply) equals one process" {
	gauss_data 7 > d.csv
	plane_data > p.csv
	dml-partition -n 3 -o 'd%d.csv' d.csv
	dml-partition -n 3 -o 'p%d.csv' p.csv
	local run
	for run in "scaler" "gaussian --covariance diag" \
		"gaussian --covariance full" "pca --components 2"; do
		# shellcheck disable=SC2086 # the family and its options
		set -- $run
		for data in d p; do
			y=(-y y)
			[[ $data == p ]] && y=()
			$DML_WRAPPER dml-train -a "$@" "${y[@]}" $data.csv -o local.dml
			for i in 0 1 2; do
				$DML_WRAPPER dml-train -a "$@" "${y[@]}" --emit stats \
					"$data$i.csv"
			done | $DML_WRAPPER dml-reduce --expect 3 > red.dml
			$DML_WRAPPER dml-train -a "$@" --apply red.dml -o dist.dml
			same_but_provenance local.dml dist.dml
			cmp <($DML_WRAPPER dml-predict -m local.dml $data.csv) \
				<($DML_WRAPPER dml-predict -m dist.dml $data.csv)
			# and in another tree shape
			{ $DML_WRAPPER dml-train -a "$@" "${y[@]}" --emit stats "${data}2.csv"
			  for i in 1 0; do
				$DML_WRAPPER dml-train -a "$@" "${y[@]}" --emit stats \
					"$data$i.csv"
			  done | $DML_WRAPPER dml-reduce; } |
				$DML_WRAPPER dml-reduce | cmp - red.dml
		done
	done
}

@test "integer rows (cross products by blocks) and other rows give the same sums" {
	# rows 1..1024 integers (one process takes them as a block, through a
	# matrix product), the rest with halves; in 3 round-robin shards every
	# block mixes both, so every row is added on its own there
	awk 'BEGIN { srand(31); print "a,b,c,d"
		for (i = 0; i < 2048; i++) {
			h = i < 1024 ? 0 : 0.5
			printf "%d,%d,%.1f,%d\n", int(rand() * 256), int(rand() * 50) - 25,
				int(rand() * 1000) + h, (i % 7) * (i % 3)
		} }' > n.csv
	dml-partition -n 3 -o 'n%d.csv' n.csv
	dml-train -a pca --components 4 n.csv -o local.dml
	for i in 0 1 2; do
		dml-train -a pca --emit stats "n$i.csv"
	done | dml-reduce | dml-train --apply - -a pca --components 4 -o dist.dml
	same_but_provenance local.dml dist.dml
	# the integer block alone, both ways
	head -n 1025 n.csv > i.csv
	dml-partition -n 3 -o 'i%d.csv' i.csv
	dml-train -a gaussian --covariance full i.csv -o local.dml
	for i in 0 1 2; do
		dml-train -a gaussian --covariance full --emit stats "i$i.csv"
	done | dml-reduce |
		dml-train --apply - -a gaussian --covariance full -o dist.dml
	same_but_provenance local.dml dist.dml
}

@test "stats carry cross products only when the family needs them" {
	gauss_data 7 > d.csv
	dml-partition -n 2 -o 's%d.csv' d.csv
	dml-train -a gaussian -y y --emit stats s0.csv -o diag.dml
	dml-train -a gaussian --covariance full -y y --emit stats s1.csv -o full.dml
	dml-train -a pca -y y --emit stats s1.csv -o pca.dml
	# 3 features: 6 cross products of 24 bytes, plus a section header
	assert_equal $(($(stat -c %s full.dml) - $(stat -c %s diag.dml))) \
		$((16 + 8 + 6 * 24))
	cmp full.dml <(dml-train -a gaussian --covariance full -y y --emit stats s1.csv)
	run $DML_WRAPPER dml-reduce diag.dml full.dml
	assert_failure 1
	assert_output --partial "stats with and without cross products cannot be reduced together"
	# stats without them cannot make a pca or a full covariance
	run $DML_WRAPPER dml-train --apply diag.dml -a pca --components 2
	assert_failure 1
	assert_output --partial "the statistics have no cross products, which pca needs"
	run $DML_WRAPPER dml-train --apply diag.dml -a gaussian --covariance full
	assert_failure 1
	assert_output --partial "which a full covariance needs"
	# but a diagonal gaussian from cross-product stats is fine
	run $DML_WRAPPER dml-train --apply pca.dml -a gaussian -o g.dml
	assert_success
}

@test "bad input: components, gradients, schemas, thresholds" {
	plane_data > p.csv
	gauss_data 7 > d.csv
	run $DML_WRAPPER dml-train -a pca --components 6 p.csv -o out.dml
	assert_failure 1
	assert_output "dml-train: p.csv: --components 6 is more than the 5 features"
	assert_file_not_exists out.dml
	run $DML_WRAPPER dml-train -a pca p.csv -o out.dml
	assert_failure 2
	assert_line -n 0 "dml-train: -a pca needs --components K"
	run $DML_WRAPPER dml-train -a pca --components 0 p.csv -o out.dml
	assert_failure 2
	assert_line -n 0 --partial "dml-train: --components"
	dml-train -a pca --emit stats p.csv -o st.dml
	run $DML_WRAPPER dml-train -a pca --apply st.dml -o out.dml
	assert_failure 2
	assert_line -n 0 "dml-train: -a pca needs --components K"
	assert_file_not_exists out.dml
	run $DML_WRAPPER dml-train -a pca --components 2 --emit gradient p.csv
	assert_failure 2
	assert_line -n 0 "dml-train: -a pca takes no gradient steps (use --emit stats)"
	# a pca model where a gradient step wants a linear model
	dml-train -a pca --components 2 p.csv -o pca.dml
	dml-train --emit stats -y y d.csv | dml-train --apply - -a logistic -o lm.dml
	dml-train --emit gradient -m lm.dml d.csv -o g.dml
	run $DML_WRAPPER dml-train --apply g.dml -m pca.dml -o out.dml
	assert_failure 1
	assert_output "dml-train: pca.dml: a pca model is made from statistics: it takes no gradient steps and is not averaged (reduce --emit stats records and --apply them with -a pca)"
	assert_file_not_exists out.dml
	run $DML_WRAPPER dml-train --emit gradient -m pca.dml d.csv
	assert_failure 1
	assert_output --partial "a pca model is made from statistics"
	run $DML_WRAPPER dml-reduce pca.dml pca.dml
	assert_failure 1
	assert_output --partial "a pca model is made from statistics"
	# --scale with a scaler of another schema, or with no scaler
	dml-train -a scaler p.csv -o psc.dml
	run $DML_WRAPPER dml-train -a logistic -y y --scale psc.dml d.csv -o out.dml
	assert_failure 1
	assert_output --regexp "^dml-train: psc.dml: the scaler's features \(schema [0-9a-f]{16}\) differ from the data's \(schema [0-9a-f]{16}\)$"
	run $DML_WRAPPER dml-train -a gaussian -y y --scale psc.dml d.csv -o out.dml
	assert_failure 1
	assert_output --partial "psc.dml: the scaler's features"
	run $DML_WRAPPER dml-train -a logistic -y y --scale lm.dml d.csv -o out.dml
	assert_failure 1
	assert_output "dml-train: lm.dml: is a logistic model, not a scaler (--scale)"
	run $DML_WRAPPER dml-train -a scaler --scale psc.dml p.csv -o out.dml
	assert_failure 2
	assert_line -n 0 "dml-train: --scale does not go with -a scaler"
	run $DML_WRAPPER dml-train --emit stats -y y --scale psc.dml d.csv
	assert_failure 2
	assert_line -n 0 "dml-train: --scale applies where a model is made from data or stats"
	assert_file_not_exists out.dml
	# --threshold and --eval need an anomaly model
	run $DML_WRAPPER dml-predict -m pca.dml --threshold 3 p.csv
	assert_failure 1
	assert_output "dml-predict: pca.dml: --threshold needs an anomaly model (gaussian or kmeans), not a pca model"
	run $DML_WRAPPER dml-predict -m lm.dml --threshold 3 d.csv
	assert_failure 1
	assert_output "dml-predict: lm.dml: --threshold needs an anomaly model (gaussian or kmeans), not a logistic model"
	run $DML_WRAPPER dml-predict -m pca.dml --eval -y f1 p.csv
	assert_failure 1
	assert_output "dml-predict: pca.dml: --eval needs a classifier or an anomaly model, not a pca model"
	# --eval of an anomaly model: labels 0 and 1 only, both present
	dml-train -a gaussian -y y d.csv -o g.dml
	sed 's/,1$/,2/' d.csv > d2.csv
	run $DML_WRAPPER dml-predict -m g.dml --eval d2.csv
	assert_failure 1
	assert_output "dml-predict: 6 rows have a label other than 0 or 1 (--eval of a gaussian model reads 1 for an anomaly, 0 for normal)"
	grep -v ',1$' d.csv > d0.csv
	run $DML_WRAPPER dml-predict -m g.dml --eval d0.csv
	assert_failure 1
	assert_output "dml-predict: g.dml: AUC needs rows of both labels 0 and 1"
	# a single row cannot make a covariance
	head -n 2 d.csv > one.csv
	run $DML_WRAPPER dml-train -a gaussian -y y one.csv
	assert_failure 1
	assert_output "dml-train: one.csv: a gaussian model needs at least 2 rows, found 1"
}

@test "deterministic: the same data give the same bytes, whatever -j" {
	gauss_data 7 > d.csv
	dml-train -a gaussian --covariance full -y y -j 1 d.csv -o a.dml
	dml-train -a gaussian --covariance full -y y -j 4 d.csv -o b.dml
	cmp a.dml b.dml
	dml-train -a pca --components 2 -y y -j 1 d.csv -o a.dml
	dml-train -a pca --components 2 -y y -j 3 d.csv -o b.dml
	cmp a.dml b.dml
}
