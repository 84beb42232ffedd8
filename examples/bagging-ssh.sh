#!/usr/bin/env bash
# examples/bagging-ssh.sh -- bagging across hosts reached over ssh: a
# random forest grown where the data lives, combined at the top.
#
#   1. dml-partition -s bootstrap draws BAGS bootstrap samples of TRAIN
#      (rows drawn with replacement, as many as TRAIN has) in one pass and
#      streams sample i straight to host number i mod (number of hosts),
#      with --filter 'ssh HOST "cat > REMOTE_DIR/HOST/bag-i.csv"'.
#   2. Every sample grows a forest of TREES trees on its host, all hosts at
#      once (dml-train -a forest over ssh; each forest comes back on ssh's
#      standard output as one record).
#   3. dml-ensemble merges the forests into one forest of BAGS x TREES
#      trees, here; dml-predict evaluates it on TEST.
#
# Only the data (once) and one record per sample cross the network; the
# hosts need ssh, a POSIX shell and the dml binaries.
#
# Then it prints, one 'name<TAB>value' per line: bags, trees, and
# dml-predict --eval's accuracy, logloss and rows on TEST (locally).
# At exit the files on the hosts are removed.
#
# Usage: HOSTS=h1,h2,... examples/bagging-ssh.sh [TRAIN.csv [TEST.csv]]
#
# Environment:
#   HOSTS         comma-separated ssh destinations, [user@]host (required)
#   BAGS          bootstrap samples, one forest each (default: one per host)
#   TREES         trees per forest (default 25)
#   SEED          seed of the samples; forest i gets SEED + i (default 1)
#   SSH           the ssh command (default ssh), for example
#                 'ssh -F ./ssh_config'; it must not ask for a password
#   REMOTE_DIR    directory on the hosts (default /tmp/dml-bagging-$USER);
#                 each host uses REMOTE_DIR/HOST
#   REMOTE_PATH   directories put in front of PATH on the hosts (default:
#                 the directory of dml-train here)
#   LABEL         label column (default label)
#   MODEL         where the forest is written here (default forest.dml)
#
# Example:
#   HOSTS=node1,node2,node3,node4 TREES=25 examples/bagging-ssh.sh train.csv test.csv

set -euo pipefail

me=${0##*/}
train=${1:-train.csv}
test=${2:-$train}
label=${LABEL:-label}
trees=${TREES:-25}
seed=${SEED:-1}
model=${MODEL:-forest.dml}
ssh=${SSH:-ssh}
rdir=${REMOTE_DIR:-/tmp/dml-bagging-${USER:-$(id -un)}}

say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { say "$*"; exit 2; }

hosts=()
[ -n "${HOSTS:-}" ] && IFS=, read -r -a hosts <<<"$HOSTS"
[ ${#hosts[@]} -gt 0 ] || die "no hosts: set HOSTS=h1,h2,..."
nbags=${BAGS:-${#hosts[@]}}
for f in "$train" "$test"; do
	[ -r "$f" ] || die "$f: cannot read (usage: HOSTS=h1,h2,... $me [TRAIN.csv [TEST.csv]])"
done
if [ -z "${REMOTE_PATH:-}" ]; then
	dml_train=$(command -v dml-train) || die "dml-train is not on PATH"
	REMOTE_PATH=$(cd "$(dirname "$dml_train")" && pwd)
fi

local_dir=$(mktemp -d)
cleanup() {
	local h
	for h in "${hosts[@]}"; do
		# shellcheck disable=SC2086 # $ssh may hold options
		$ssh "$h" "rm -rf $rdir/$h && { rmdir $rdir 2>/dev/null || :; }" \
			</dev/null || :
	done
	rm -rf "$local_dir"
}
trap cleanup EXIT

for h in "${hosts[@]}"; do
	# shellcheck disable=SC2086
	$ssh "$h" "mkdir -p $rdir/$h" </dev/null
done

# 1. The bootstrap samples, sample i to host i mod H.
export DML_BAG_HOSTS="${hosts[*]}" DML_BAG_SSH="$ssh" DML_BAG_DIR="$rdir"
# shellcheck disable=SC2016 # expanded by the shell that runs the filter
dml-partition -s bootstrap -n "$nbags" --seed "$seed" --filter 'set -- $DML_BAG_HOSTS
	shift $((DML_SHARD % $#))
	$DML_BAG_SSH "$1" "cat > $DML_BAG_DIR/$1/bag-$DML_SHARD.csv"' "$train"

# 2. A forest on every sample, all at once; each comes back as a record.
pids=()
for ((i = 0; i < nbags; i++)); do
	h=${hosts[i % ${#hosts[@]}]}
	# shellcheck disable=SC2086
	$ssh "$h" "PATH=$REMOTE_PATH:\$PATH; export PATH; cd $rdir/$h &&
		dml-train -j 1 -a forest --trees $trees --seed $((seed + i)) \
			-y $(printf %q "$label") bag-$i.csv" \
		</dev/null >"$local_dir/forest-$i.dml" &
	pids+=($!)
done
failed=0
for p in "${pids[@]}"; do
	wait "$p" || failed=1
done
[ "$failed" -eq 0 ] || { say "a forest failed"; exit 1; }

# 3. One forest of all the trees.
forests=()
for ((i = 0; i < nbags; i++)); do
	forests+=("$local_dir/forest-$i.dml")
done
dml-ensemble "${forests[@]}" -o "$model"
printf 'bags\t%s\ntrees\t%s\n' "$nbags" \
	"$(dml-inspect --json "$model" | sed -n 's/.*"trees":\([0-9]*\).*/\1/p')"
dml-predict -m "$model" --eval "$test"
