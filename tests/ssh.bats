#!/usr/bin/env bats
# tests/ssh.bats -- distributed rounds over a real sshd on a loopback port.
#
# setup_file makes a throwaway host key and client key, writes an
# sshd_config and starts sshd on 127.0.0.1 (a free port from 20000 +
# $$ % 10000 up), all inside this file's temporary directory, so several
# runs of this file can go at once.  An ssh_config there names the server
# twice, as the "hosts" w1 and w2.  As root, sshd logs in as root (it
# needs /run/sshd, made if missing, and falls back from UsePAM no to yes if
# root's password is locked); as another user, sshd runs as that user and
# can log in only as that same user, which is all the tests need.
#
# Remote commands get PATH (the build's src/) and DML_WRAPPER explicitly.
# The tests skip only when sshd is not installed.

load setup

setup_file() {
	bats_require_minimum_version 1.5.0
	local d=$BATS_FILE_TMPDIR/ssh sshd port tries
	sshd=$(find_sshd)
	if [[ -z $sshd ]]; then
		# bats 1.8 cannot skip from setup_file: setup() skips every test
		export DML_NO_SSHD=1
		return 0
	fi
	mkdir -p "$d"
	ssh-keygen -q -t ed25519 -N '' -C dml-test-host -f "$d/host_key"
	ssh-keygen -q -t ed25519 -N '' -C dml-test-client -f "$d/client_key"
	cp "$d/client_key.pub" "$d/authorized_keys"
	if [[ $(id -u) == 0 && ! -d /run/sshd ]]; then
		# sshd's privilege separation directory, made by its service
		# unit on a booted system but missing in a container
		mkdir -p /run/sshd
		chmod 0755 /run/sshd
	fi

	# UsePAM no keeps PAM out of a throwaway server, but then a root sshd
	# refuses an account whose password is locked ('!' in /etc/shadow);
	# PAM does not, for key logins, so that is the fallback.
	local pam=no up=no i
	port=$((20000 + $$ % 10000))
	for ((tries = 0; tries < 20; tries++, port++)); do
		cat >"$d/sshd_config" <<-EOF
			Port $port
			ListenAddress 127.0.0.1
			HostKey $d/host_key
			AuthorizedKeysFile $d/authorized_keys
			PidFile $d/sshd.pid
			StrictModes no
			UsePAM $pam
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			PermitRootLogin prohibit-password
			AllowTcpForwarding no
			X11Forwarding no
			PrintMotd no
		EOF
		cat >"$d/ssh_config" <<-EOF
			Host w1 w2
			  HostName 127.0.0.1
			  Port $port
			  User $(id -un)
			  IdentityFile $d/client_key
			  IdentitiesOnly yes
			  StrictHostKeyChecking no
			  UserKnownHostsFile /dev/null
			  LogLevel ERROR
			  BatchMode yes
			  ConnectTimeout 10
		EOF
		: >"$d/sshd.log"
		# -D: stay in the foreground, so a failed bind ends the process
		"$sshd" -D -f "$d/sshd_config" -E "$d/sshd.log" </dev/null >/dev/null 2>&1 3>&- &
		echo $! >"$d/sshd.pid.bg"
		for ((i = 0; i < 100; i++)); do
			if ! kill -0 "$(cat "$d/sshd.pid.bg")" 2>/dev/null; then
				break # exited: port taken, or a bad configuration
			fi
			if ssh -F "$d/ssh_config" w1 true </dev/null 2>/dev/null; then
				up=yes
				break
			fi
			if grep -q 'account is locked' "$d/sshd.log"; then
				break
			fi
			sleep 0.1
		done
		[[ $up == yes ]] && break
		kill "$(cat "$d/sshd.pid.bg")" 2>/dev/null || true
		wait "$(cat "$d/sshd.pid.bg")" 2>/dev/null || true
		if [[ $pam == no ]] && grep -q 'account is locked' "$d/sshd.log"; then
			pam=yes
		elif ! grep -q 'Address already in use' "$d/sshd.log"; then
			echo "# sshd did not start or refused the login; the end of its log:" >&3
			tail -n 20 "$d/sshd.log" | sed 's/^/#   /' >&3
			return 1
		fi
	done
	if [[ $up != yes ]]; then
		echo "# no free port for sshd from $((port - tries)) to $port" >&3
		return 1
	fi
	export DML_SSH_CONFIG=$d/ssh_config
}

teardown_file() {
	local f=$BATS_FILE_TMPDIR/ssh/sshd.pid.bg
	if [[ -f $f ]]; then
		kill "$(cat "$f")" 2>/dev/null || true
	fi
}

setup() {
	[[ -z ${DML_NO_SSHD-} ]] || skip "sshd is not installed (Debian: openssh-server)"
	dml_setup
	SSH="ssh -F $DML_SSH_CONFIG"
	# what a remote command starts with: our binaries, our wrapper
	REMOTE="PATH='$DML_BUILDDIR/src':\$PATH; export PATH; $DML_WRAPPER"
	RDIR=$BATS_TEST_TMPDIR/remote
	mkdir -p "$RDIR"
	make_train_test 800 300
}

# local_round N: the reference, computed here without ssh: N shards,
# the stats round (model.dml), one gradient round (grad.dml) and its step
# (step.dml).
local_round() {
	local n=$1 i
	$DML_WRAPPER dml-partition -n "$n" -o 'shard-%d.csv' train.csv
	for ((i = 0; i < n; i++)); do
		$DML_WRAPPER dml-train --emit stats -y label "shard-$i.csv"
	done | $DML_WRAPPER dml-reduce --expect "$n" |
		$DML_WRAPPER dml-train --apply - -a softmax -o model.dml
	for ((i = 0; i < n; i++)); do
		$DML_WRAPPER dml-train --emit gradient -m model.dml "shard-$i.csv"
	done | $DML_WRAPPER dml-reduce --expect "$n" -o grad.dml
	$DML_WRAPPER dml-train --apply grad.dml -m model.dml -o step.dml
}

@test "ssh: the loopback sshd runs commands as w1 and w2" {
	run $SSH w1 'echo $((6 * 7))'
	assert_success
	assert_output 42
	run $SSH w2 "$REMOTE dml-train --version"
	assert_success
	assert_output --partial 'dml-train (dml)'
}

@test "ssh: a BSP round with shards sent over ssh and gradients computed remotely equals the local round" {
	local_round 2
	# the shards go straight from dml-partition to the remote host
	run $DML_WRAPPER dml-partition -n 2 \
		--filter "$SSH w1 \"cat > $RDIR/shard-\$DML_SHARD.csv\"" train.csv
	assert_success
	cmp shard-0.csv "$RDIR/shard-0.csv"
	cmp shard-1.csv "$RDIR/shard-1.csv"

	# stats round: remote workers, local reduce and apply
	local i
	for i in 0 1; do
		$SSH w1 "$REMOTE dml-train --emit stats -y label $RDIR/shard-$i.csv" </dev/null
	done | $DML_WRAPPER dml-reduce --expect 2 |
		$DML_WRAPPER dml-train --apply - -a softmax -o model-ssh.dml
	cmp model.dml model-ssh.dml

	# gradient round: the model streams to the worker on stdin (-m -),
	# the gradient streams back
	for i in 0 1; do
		$SSH w1 "$REMOTE dml-train --emit gradient -m - $RDIR/shard-$i.csv" <model-ssh.dml
	done | $DML_WRAPPER dml-reduce --expect 2 -o grad-ssh.dml
	cmp grad.dml grad-ssh.dml
	$DML_WRAPPER dml-train --apply grad-ssh.dml -m model-ssh.dml -o step-ssh.dml
	cmp step.dml step-ssh.dml
}

@test "ssh: a BSP round through parallel --sshlogin on two hosts equals the local round" {
	require_program parallel
	local_round 4
	run $DML_WRAPPER dml-partition -n 4 \
		--filter "$SSH w\$((DML_SHARD % 2 + 1)) \"cat > $RDIR/shard-\$DML_SHARD.csv\"" train.csv
	assert_success

	# stats round: four jobs over two "hosts"
	parallel --ssh "$SSH" -S 2/w1,2/w2 --halt now,fail=1 \
		"echo \$PARALLEL_SSHHOST >> $RDIR/hosts; $REMOTE dml-train --emit stats -y label $RDIR/shard-{}.csv" \
		::: 0 1 2 3 </dev/null |
		$DML_WRAPPER dml-reduce --expect 4 |
		$DML_WRAPPER dml-train --apply - -a softmax -o model-ssh.dml
	cmp model.dml model-ssh.dml

	# gradient round: --pipe --tee gives every job the whole model on stdin
	parallel --ssh "$SSH" -S 2/w1,2/w2 --pipe --tee --halt now,fail=1 \
		"echo \$PARALLEL_SSHHOST >> $RDIR/hosts; $REMOTE dml-train --emit gradient -m - $RDIR/shard-{}.csv" \
		::: 0 1 2 3 <model-ssh.dml |
		$DML_WRAPPER dml-reduce --expect 4 -o grad-ssh.dml
	cmp grad.dml grad-ssh.dml
	$DML_WRAPPER dml-train --apply grad-ssh.dml -m model-ssh.dml -o step-ssh.dml
	cmp step.dml step-ssh.dml

	# both "hosts" ran jobs
	run sort -u "$RDIR/hosts"
	assert_output $'w1\nw2'
}

@test "ssh: a worker that fails over ssh fails the round" {
	local_round 2
	run bash -c "set -o pipefail
		$SSH w1 '$REMOTE dml-train --emit gradient -m - $RDIR/no-such.csv' <model.dml |
		$DML_WRAPPER dml-reduce --expect 1"
	assert_failure
	assert_output --partial 'no-such.csv'
}

@test "ssh: examples/bsp-ssh.sh on two hosts gives the model of examples/bsp-local.sh" {
	require_program parallel
	HOSTS=w1,w2 SHARDS=4 MAX_ITER=4 SSH=$SSH REMOTE_DIR=$RDIR/bsp MODEL=ssh.dml \
		run --separate-stderr "$DML_SRCDIR/examples/bsp-ssh.sh" train.csv test.csv
	assert_success
	assert_line --index 0 --regexp $'^status\t(max-iter|converged)$'
	assert_line --index 4 $'rows\t300'
	[[ $stderr == *"round 1: objective "* ]]
	# the files on the hosts are gone
	[[ ! -e $RDIR/bsp ]]

	WORKERS=4 MAX_ITER=4 MODEL=local.dml \
		run --separate-stderr "$DML_SRCDIR/examples/bsp-local.sh" train.csv test.csv
	assert_success
	cmp ssh.dml local.dml
}

@test "ssh: examples/bsp-ssh.sh reads an ssh login file, more shards than hosts, binary shards" {
	require_program parallel
	printf '# two logins to the same sshd\nw1\n\n1/w2  # a slot count is dropped\n' >logins
	SSHLOGINFILE=logins SHARDS=3 MAX_ITER=2 FORMAT=bin SSH=$SSH REMOTE_DIR=$RDIR/bsp MODEL=ssh.dml \
		run --separate-stderr "$DML_SRCDIR/examples/bsp-ssh.sh" train.csv
	assert_success
	assert_line --index 0 $'status\tmax-iter'
	assert_line --index 4 $'rows\t800'
	run $DML_WRAPPER dml-inspect --field contributions ssh.dml
	assert_output 3
}

@test "ssh: examples/bagging-ssh.sh grows forests on bootstrap samples on two hosts and merges them" {
	HOSTS=w1,w2 BAGS=3 TREES=5 SEED=7 SSH=$SSH REMOTE_DIR=$RDIR/bag MODEL=bag.dml \
		run --separate-stderr "$DML_SRCDIR/examples/bagging-ssh.sh" train.csv test.csv
	assert_success
	assert_line --index 0 $'bags\t3'
	assert_line --index 1 $'trees\t15'
	assert_line --index 4 $'rows\t300'
	[[ ! -e $RDIR/bag ]]
	run $DML_WRAPPER dml-inspect --field contributions bag.dml
	assert_output 3
	# the same forest, grown here from the same samples and seeds
	$DML_WRAPPER dml-partition -s bootstrap -n 3 --seed 7 -o 'bag-%d.csv' train.csv
	for i in 0 1 2; do
		$DML_WRAPPER dml-train -j 1 -a forest --trees 5 --seed $((7 + i)) \
			-y label bag-$i.csv -o f$i.dml
	done
	$DML_WRAPPER dml-ensemble f0.dml f1.dml f2.dml -o here.dml
	cmp bag.dml here.dml
}
