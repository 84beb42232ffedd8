#!/usr/bin/env bash
# examples/bsp-ssh.sh -- distributed training by BSP rounds on hosts reached
# over ssh, with GNU parallel --sshlogin.
#
# The same training as bsp-local.sh, with the workers on other machines:
#
#   1. dml-partition splits TRAIN into SHARDS shards and streams shard i
#      straight to host number i mod (number of hosts), with --filter
#      'ssh HOST "cat > REMOTE_DIR/HOST/shard-i.csv"'.  The data crosses
#      the network once; it stays on the hosts for every round.
#   2. Every round, parallel --sshlogin runs one job per host and sends it
#      the current model on its standard input (--pipe --tee: every job
#      gets all of it).  The job runs dml-train on each shard of its host
#      at once and reduces them with dml-reduce on the host, so a host
#      sends back one record however many shards it holds.  Locally, a
#      root dml-reduce --expect SHARDS sums the hosts' records (a two-level
#      tree) and dml-train --apply takes the step.
#   3. The first round is the stats round (the initial model); the others
#      are gradient rounds, until dml-inspect no longer says "running".
#
# Only the model (one record) goes out and one record per host comes back
# each round; no file transfer tool is needed on the hosts beyond ssh, a
# POSIX shell, xargs and the dml binaries (and perl, which GNU parallel uses
# on remote hosts).  The job finds the shards of its host by
# $PARALLEL_SSHLOGIN, so each host must be listed once.
#
# Then it prints, one 'name<TAB>value' per line: status, rounds, and
# dml-predict --eval's accuracy, logloss and rows on TEST (locally).
# Progress goes to stderr.  At exit the files on the hosts are removed.
#
# Usage: HOSTS=h1,h2,... examples/bsp-ssh.sh [TRAIN.csv [TEST.csv]]
#
#   TRAIN     CSV with a header row (default: train.csv)
#   TEST      CSV to evaluate on (default: TRAIN)
#
# Environment:
#   HOSTS         comma-separated ssh destinations, [user@]host; or
#   SSHLOGINFILE  a file with one [user@]host per line ('#' comments);
#                 one of the two is required
#   SHARDS        number of shards (default: one per host)
#   SSH           the ssh command (default ssh), for example
#                 'ssh -F ./ssh_config'; it must not ask for a password
#   REMOTE_DIR    directory on the hosts (default /tmp/dml-bsp-$USER);
#                 each host uses REMOTE_DIR/HOST
#   REMOTE_PATH   directories put in front of PATH on the hosts (default:
#                 the directory of dml-train here, for shared or identical
#                 installs)
#   LABEL         label column (default label)
#   ALGORITHM     model family, softmax or logistic (default softmax)
#   MAX_ITER      bound on the L-BFGS iterations (default 100)
#   MODEL         where the model is written here (default model.dml)
#   FORMAT        shard format: csv (default), or bin for binary data
#                 records (shard-i.dml), which the workers read without
#                 parsing text every round
#
# The dml-* binaries must be on PATH here and on REMOTE_PATH or the login
# PATH on the hosts.
#
# Example:
#   HOSTS=node1,node2,node3,node4 SHARDS=8 examples/bsp-ssh.sh train.csv test.csv

set -euo pipefail

me=${0##*/}
train=${1:-train.csv}
test=${2:-$train}
label=${LABEL:-label}
algorithm=${ALGORITHM:-softmax}
max_iter=${MAX_ITER:-100}
model=${MODEL:-model.dml}
ssh=${SSH:-ssh}
rdir=${REMOTE_DIR:-/tmp/dml-bsp-${USER:-$(id -un)}}
format=${FORMAT:-csv}

say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { say "$*"; exit 2; }

case $format in
csv) ext=csv; partition_format=() ;;
bin) ext=dml; partition_format=(--format bin -y "$label") ;;
*) die "FORMAT must be csv or bin" ;;
esac

# The hosts, from HOSTS or SSHLOGINFILE (a 'N/' slot prefix is dropped:
# each host gets one job per round, which runs all its shards).
hosts=()
if [ -n "${HOSTS:-}" ]; then
	IFS=, read -r -a hosts <<<"$HOSTS"
elif [ -n "${SSHLOGINFILE:-}" ]; then
	while read -r line; do
		line=${line%%#*}
		line=${line//[[:space:]]/}
		[ -n "$line" ] && hosts+=("$line")
	done <"$SSHLOGINFILE"
fi
for i in "${!hosts[@]}"; do
	hosts[i]=${hosts[i]#*/}
done
[ ${#hosts[@]} -gt 0 ] || die "no hosts: set HOSTS=h1,h2,... or SSHLOGINFILE"
nshards=${SHARDS:-${#hosts[@]}}
[ "$nshards" -ge ${#hosts[@]} ] ||
	die "SHARDS ($nshards) must be at least the number of hosts (${#hosts[@]})"

for f in "$train" "$test"; do
	[ -r "$f" ] || die "$f: cannot read (usage: HOSTS=h1,h2,... $me [TRAIN.csv [TEST.csv]])"
done

if [ -z "${REMOTE_PATH:-}" ]; then
	dml_train=$(command -v dml-train) || die "dml-train is not on PATH"
	REMOTE_PATH=$(cd "$(dirname "$dml_train")" && pwd)
fi

# The -S list: one slot on every host.
sshlogins=$(printf '1/%s,' "${hosts[@]}")
sshlogins=${sshlogins%,}

# on_each_host CMD: run the shell command CMD in REMOTE_DIR/HOST on every
# host, one after the other.
on_each_host() {
	local h
	for h in "${hosts[@]}"; do
		# shellcheck disable=SC2086 # $ssh may hold options
		$ssh "$h" "mkdir -p $rdir/$h && cd $rdir/$h && $1" </dev/null
	done
}

cleanup() {
	local h
	for h in "${hosts[@]}"; do
		# shellcheck disable=SC2086
		$ssh "$h" "cd $rdir/$h 2>/dev/null &&
			rm -f model.dml shard-*.csv shard-*.dml shard-*.out &&
			cd / && rmdir $rdir/$h && { rmdir $rdir 2>/dev/null || :; }" \
			</dev/null || :
	done
}
trap cleanup EXIT

# 1. Send the shards: shard i to host i mod H.
on_each_host 'rm -f model.dml shard-*.csv shard-*.dml shard-*.out'
export DML_BSP_HOSTS="${hosts[*]}" DML_BSP_SSH="$ssh" DML_BSP_DIR="$rdir"
export DML_BSP_EXT=$ext
# shellcheck disable=SC2016 # expanded by the shell that runs the filter
dml-partition -n "$nshards" "${partition_format[@]}" --filter 'set -- $DML_BSP_HOSTS
	shift $((DML_SHARD % $#))
	$DML_BSP_SSH "$1" "cat > $DML_BSP_DIR/$1/shard-$DML_SHARD.$DML_BSP_EXT"' "$train"

# 2. round ARG...: one job per host, with this script's standard input (the
# model, or nothing) on the job's standard input: it saves the model, runs
# 'dml-train ARG... SHARD -o SHARD.out' on each of its shards at once, and
# writes the reduced record to standard output.  The job's argument ({})
# only makes one job per host; the host it runs on names its directory.
round() {
	local args
	args=$(printf ' %q' "$@")
	parallel --ssh "$ssh" -S "$sshlogins" --pipe --tee --halt now,fail=1 \
		": job {}
		 PATH=$REMOTE_PATH:\$PATH; export PATH
		 cd $rdir/\$PARALLEL_SSHLOGIN &&
		 cat > model.dml &&
		 ls shard-*.$ext | xargs -P 0 -I % dml-train$args % -o %.out &&
		 dml-reduce shard-*.$ext.out" ::: "${hosts[@]}"
}

# 3. The stats round, then the gradient rounds.
round --emit stats -y "$label" </dev/null |
	dml-reduce --expect "$nshards" |
	dml-train --apply - -a "$algorithm" --max-iter "$max_iter" -o "$model"

rounds=0
status=$(dml-inspect --field status "$model")
while [ "$status" = running ]; do
	# shellcheck disable=SC2094 # -o replaces the model only once it is whole
	round --emit gradient -m model.dml <"$model" |
		dml-reduce --expect "$nshards" |
		dml-train --apply - -m "$model" -o "$model"
	rounds=$((rounds + 1))
	status=$(dml-inspect --field status "$model")
	say "round $rounds: objective $(printf %.6g "$(dml-inspect --field objective "$model")"), $status"
done

printf 'status\t%s\nrounds\t%s\n' "$status" "$rounds"
dml-predict -m "$model" --eval "$test"
