#!/usr/bin/env bats
# tests/hosts.bats -- distributed training across three real hosts: Linux
# network namespaces, each with its own network stack, address and sshd.
#
# setup_file builds, once for the file:
#
#   dmlt-PID-c       the client: where the tests' ssh runs
#   dmlt-PID-h1..h3  the hosts h1..h3, each linked to the client by a
#                    veth pair: 10.251.N.1 (client side) and 10.251.N.2
#                    (host N), and running its own sshd on 10.251.N.2:22
#                    with a throwaway host key; the client key and
#                    authorized_keys are in this file's temporary directory
#
# Every address lives inside namespaces this file made, so nothing is
# added to the machine's own network (the root namespace), and several
# runs of this file cannot collide: they differ by PID.  teardown_file
# kills the sshds and deletes the namespaces (and the veths with them).
# The hosts share the file system with the test; each keeps its files in
# its own directory, and gets the dml binaries by an explicit PATH.
#
# The tests run the ways of distributing a round that the README shows --
# dml-partition --filter 'ssh ...', examples/bsp-ssh.sh (parallel
# --sshlogin), xargs -P, a two-level tree with a dml-reduce on every host
# -- and check every model against the same loop run locally with cmp;
# then a host's link goes down in the middle of a round.
#
# Without root, iproute2 or sshd, or where namespaces cannot be made (a
# container without CAP_SYS_ADMIN), every test skips with the reason;
# tests/ssh.bats, on a loopback sshd, still runs.

load setup

# make_data TRAIN_ROWS: train.csv here.
make_data() {
	synth blobs -n "$1" --classes 3 --features 5 --seed 42 >train.csv
}

# hosts_cleanup: undo whatever build_hosts made (also after a failure).
hosts_cleanup() {
	local d=$BATS_FILE_TMPDIR/hosts f ns
	for f in "$d"/h*/sshd.pid.bg; do
		if [[ -f $f ]]; then
			kill "$(cat "$f")" 2>/dev/null || true
		fi
	done
	if [[ -f $d/namespaces ]]; then
		while read -r ns; do
			# sshd sessions, anything else left in there; then the
			# namespace, which takes its end of the veth with it
			{ ip netns pids "$ns" | xargs -r kill -KILL; } 2>/dev/null || true
			ip netns del "$ns" 2>/dev/null || true
		done <"$d/namespaces"
	fi
	if [[ -f $d/links ]]; then
		while read -r ns; do
			ip link del "$ns" 2>/dev/null || true
		done <"$d/links"
	fi
	return 0
}

# start_sshd N: sshd in host N's namespace; falls back from UsePAM no to
# yes when root's password is locked (see tests/ssh.bats).
start_sshd() {
	local n=$1 d=$BATS_FILE_TMPDIR/hosts pam i
	local hd=$d/h$n
	mkdir -p "$hd"
	ssh-keygen -q -t ed25519 -N '' -C "dml-test-h$n" -f "$hd/host_key"
	for pam in no yes; do
		cat >"$hd/sshd_config" <<-EOF
			Port 22
			ListenAddress 10.251.$n.2
			HostKey $hd/host_key
			AuthorizedKeysFile $d/authorized_keys
			PidFile $hd/sshd.pid
			StrictModes no
			UsePAM $pam
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
			PermitRootLogin prohibit-password
			AllowTcpForwarding no
			X11Forwarding no
			PrintMotd no
			ClientAliveInterval 5
		EOF
		: >"$hd/sshd.log"
		ip netns exec "$DML_NS-h$n" "$SSHD" -D -f "$hd/sshd_config" \
			-E "$hd/sshd.log" </dev/null >/dev/null 2>&1 3>&- &
		echo $! >"$hd/sshd.pid.bg"
		for ((i = 0; i < 100; i++)); do
			kill -0 "$(cat "$hd/sshd.pid.bg")" 2>/dev/null || break
			if $SSH "h$n" true </dev/null 2>/dev/null; then
				return 0
			fi
			grep -q 'account is locked' "$hd/sshd.log" && break
			sleep 0.1
		done
		kill "$(cat "$hd/sshd.pid.bg")" 2>/dev/null
		wait "$(cat "$hd/sshd.pid.bg")" 2>/dev/null
		grep -q 'account is locked' "$hd/sshd.log" || break
	done
	echo "# sshd on h$n did not start or refused the login; its log:" >&3
	tail -n 20 "$hd/sshd.log" | sed 's/^/#   /' >&3
	return 1
}

# build_hosts: the namespaces, links and sshds (see the top of the file);
# returns 1 with the reason in $BATS_FILE_TMPDIR/hosts/skip if they
# cannot be made here, 2 if they could but failed.
build_hosts() {
	local d=$BATS_FILE_TMPDIR/hosts n tag err
	mkdir -p "$d"
	[[ $(id -u) == 0 ]] || { echo "network namespaces need root" >"$d/skip"; return 1; }
	command -v ip >/dev/null || { echo "iproute2 is not installed" >"$d/skip"; return 1; }
	SSHD=$(find_sshd)
	[[ -n $SSHD ]] || { echo "sshd is not installed (Debian: openssh-server)" >"$d/skip"; return 1; }
	DML_NS=dmlt-$$
	tag=$(printf '%x' $$) # veth names have at most 15 characters
	echo "$DML_NS-c" >>"$d/namespaces"
	if ! err=$(ip netns add "$DML_NS-c" 2>&1); then
		echo "cannot create a network namespace here: $err" >"$d/skip"
		return 1
	fi
	ip -n "$DML_NS-c" link set lo up || return 2
	for n in 1 2 3; do
		echo "$DML_NS-h$n" >>"$d/namespaces"
		echo "dt${tag}c$n" >>"$d/links"
		ip netns add "$DML_NS-h$n" || return 2
		if ! err=$(ip link add "dt${tag}c$n" type veth peer name "dt${tag}h$n" 2>&1); then
			echo "cannot create a veth link here: $err" >"$d/skip"
			return 1
		fi
		ip link set "dt${tag}c$n" netns "$DML_NS-c" &&
			ip link set "dt${tag}h$n" netns "$DML_NS-h$n" &&
			ip -n "$DML_NS-c" addr add "10.251.$n.1/24" dev "dt${tag}c$n" &&
			ip -n "$DML_NS-c" link set "dt${tag}c$n" up &&
			ip -n "$DML_NS-h$n" addr add "10.251.$n.2/24" dev "dt${tag}h$n" &&
			ip -n "$DML_NS-h$n" link set "dt${tag}h$n" up &&
			ip -n "$DML_NS-h$n" link set lo up || return 2
	done

	ssh-keygen -q -t ed25519 -N '' -C dml-test-client -f "$d/client_key"
	cp "$d/client_key.pub" "$d/authorized_keys"
	for n in 1 2 3; do
		cat >>"$d/ssh_config" <<-EOF
			Host h$n
			  HostName 10.251.$n.2
		EOF
	done
	cat >>"$d/ssh_config" <<-EOF
		Host h1 h2 h3
		  User $(id -un)
		  IdentityFile $d/client_key
		  IdentitiesOnly yes
		  StrictHostKeyChecking no
		  UserKnownHostsFile /dev/null
		  LogLevel ERROR
		  BatchMode yes
		  ConnectTimeout 5
		  ServerAliveInterval 1
		  ServerAliveCountMax 5
	EOF
	SSH="ip netns exec $DML_NS-c ssh -F $d/ssh_config"
	if [[ ! -d /run/sshd ]]; then
		mkdir -p /run/sshd # sshd's privilege separation directory
		chmod 0755 /run/sshd
	fi
	for n in 1 2 3; do
		start_sshd "$n" || return 2
	done
	echo "$SSH" >"$d/ssh"
	echo "$DML_NS" >"$d/ns"
	echo "$tag" >"$d/tag"
}

setup_file() {
	bats_require_minimum_version 1.5.0
	local rc=0
	build_hosts || rc=$?
	if ((rc == 1)); then
		hosts_cleanup
		return 0 # bats 1.8 cannot skip from setup_file: setup() skips
	fi
	if ((rc)); then
		hosts_cleanup
		return 1
	fi
}

teardown_file() {
	hosts_cleanup
}

setup() {
	local d=$BATS_FILE_TMPDIR/hosts
	[[ ! -f $d/skip ]] || skip "$(cat "$d/skip")"
	dml_setup
	SSH=$(cat "$d/ssh")
	DML_NS=$(cat "$d/ns")
	TAG=$(cat "$d/tag")
	# what a remote command starts with: our binaries, our wrapper (the
	# quotes are for the remote shell)
	# shellcheck disable=SC2089
	REMOTE="PATH='$DML_BUILDDIR/src':\$PATH; export PATH; $DML_WRAPPER"
	RDIR=$BATS_TEST_TMPDIR/remote
	mkdir -p "$RDIR"/h1 "$RDIR"/h2 "$RDIR"/h3
	make_data 900
}

teardown() {
	# a test that cut a link brings it back
	[[ -n ${TAG-} ]] || return 0
	local n
	for n in 1 2 3; do
		ip -n "$DML_NS-c" link set "dt${TAG}c$n" up 2>/dev/null || true
	done
}

# local_loop N MAX_ITER: the reference, here without ssh: the model of
# examples/bsp-local.sh on N shards (cached for the file), in ref-N.dml.
local_loop() {
	require_program parallel
	local ref=$BATS_FILE_TMPDIR/ref-$1-$2.dml
	if [[ ! -f $ref ]]; then
		WORKERS=$1 MAX_ITER=$2 MODEL=$ref WORKDIR=$BATS_TEST_TMPDIR/local \
			"$DML_SRCDIR/examples/bsp-local.sh" train.csv >/dev/null 2>&1 ||
			fail "examples/bsp-local.sh failed"
	fi
	cp "$ref" "ref-$1.dml"
}

# accepted N: how many logins host N's sshd has accepted so far.
accepted() {
	grep -c '^Accepted publickey' "$BATS_FILE_TMPDIR/hosts/h$1/sshd.log"
}

@test "hosts: three namespaces, each with its own address, network stack and sshd" {
	local n
	for n in 1 2 3; do
		run $SSH "h$n" 'echo $SSH_CONNECTION; ip netns identify $$'
		assert_success
		assert_line --index 0 --regexp "^10\.251\.$n\.1 [0-9]+ 10\.251\.$n\.2 22$"
		assert_line --index 1 "$DML_NS-h$n"
		run $SSH "h$n" "$REMOTE dml-train --version"
		assert_success
		assert_output --partial 'dml-train (dml)'
	done
	# the hosts cannot reach each other: only the client is linked to all
	run $SSH h1 'ip route get 10.251.2.2'
	assert_failure
	# the root namespace has none of these addresses
	run ip -4 -o addr show
	refute_output --partial '10.251.'
}

@test "hosts: shards sent by dml-partition --filter 'ssh ...', remote stats and gradient rounds equal the local ones" {
	$DML_WRAPPER dml-partition -n 3 -o 'shard-%d.csv' train.csv
	# shard i to host h(i+1); the double quotes expand DML_SHARD here
	run $DML_WRAPPER dml-partition -n 3 \
		--filter "$SSH h\$((DML_SHARD + 1)) \"cat > $RDIR/h\$((DML_SHARD + 1))/shard.csv\"" \
		train.csv
	assert_success
	local n
	for n in 1 2 3; do
		cmp "shard-$((n - 1)).csv" "$RDIR/h$n/shard.csv"
	done
	# the local round
	for n in 0 1 2; do
		$DML_WRAPPER dml-train --emit stats -y label "shard-$n.csv"
	done | $DML_WRAPPER dml-reduce --expect 3 |
		$DML_WRAPPER dml-train --apply - -a softmax -o model.dml
	for n in 0 1 2; do
		$DML_WRAPPER dml-train --emit gradient -m model.dml "shard-$n.csv"
	done | $DML_WRAPPER dml-reduce --expect 3 -o grad.dml
	# the remote round: the three hosts at once, each to its own file
	for n in 1 2 3; do
		$SSH "h$n" "$REMOTE dml-train --emit stats -y label $RDIR/h$n/shard.csv" \
			</dev/null >"stats-h$n.dml" &
	done
	wait
	$DML_WRAPPER dml-reduce --expect 3 stats-h1.dml stats-h2.dml stats-h3.dml |
		$DML_WRAPPER dml-train --apply - -a softmax -o model-ssh.dml
	cmp model.dml model-ssh.dml
	for n in 1 2 3; do
		$SSH "h$n" "$REMOTE dml-train --emit gradient -m - $RDIR/h$n/shard.csv" \
			<model-ssh.dml >"grad-h$n.dml" &
	done
	wait
	$DML_WRAPPER dml-reduce --expect 3 -o grad-ssh.dml grad-h1.dml grad-h2.dml grad-h3.dml
	cmp grad.dml grad-ssh.dml
}

@test "hosts: examples/bsp-ssh.sh (parallel --sshlogin) on three hosts gives the model of the local loop" {
	require_program parallel
	local_loop 6 2
	local n before=()
	for n in 1 2 3; do
		before[n]=$(accepted "$n")
	done
	HOSTS=h1,h2,h3 SHARDS=6 MAX_ITER=2 SSH=$SSH REMOTE_DIR=$RDIR/bsp \
		REMOTE_PATH=$DML_BUILDDIR/src MODEL=ssh.dml \
		run --separate-stderr "$DML_SRCDIR/examples/bsp-ssh.sh" train.csv
	assert_success
	assert_line --index 0 $'status\tmax-iter'
	assert_line --index 4 $'rows\t900'
	cmp ref-6.dml ssh.dml
	# every host served rounds, and kept nothing
	for n in 1 2 3; do
		(($(accepted "$n") > before[n] + 3)) || fail "h$n served too few logins"
	done
	[[ ! -e $RDIR/bsp ]]
}

@test "hosts: a BSP loop with xargs -P over three hosts gives the model of the local loop" {
	local_loop 3 2
	$DML_WRAPPER dml-partition -n 3 \
		--filter "$SSH h\$((DML_SHARD + 1)) \"cat > $RDIR/h\$((DML_SHARD + 1))/shard.csv\"" \
		train.csv
	# shellcheck disable=SC2090
	export SSH REMOTE RDIR
	# fanout ARG...: 'dml-train ARG... shard.csv' on every host at once,
	# with the model (or nothing) on stdin, each into its own out-hN.dml
	# (one pipe shared by concurrent writers could interleave records)
	fanout() {
		rm -f out-h*.dml
		# shellcheck disable=SC2016 # expanded by sh, per host
		printf '%s\n' h1 h2 h3 | xargs -P 3 -I '{}' sh -c \
			'$SSH "$1" "$REMOTE dml-train $2 $RDIR/$1/shard.csv" <"$3" >"out-$1.dml"' \
			sh '{}' "$1" "$2"
	}
	fanout '--emit stats -y label' /dev/null
	$DML_WRAPPER dml-reduce --expect 3 out-h1.dml out-h2.dml out-h3.dml |
		$DML_WRAPPER dml-train --apply - -a softmax --max-iter 2 -o model.dml
	local rounds=0
	while [[ $($DML_WRAPPER dml-inspect --field status model.dml) == running ]]; do
		fanout '--emit gradient -m -' model.dml
		$DML_WRAPPER dml-reduce --expect 3 out-h1.dml out-h2.dml out-h3.dml |
			$DML_WRAPPER dml-train --apply - -m model.dml -o model.dml
		((++rounds < 20)) || fail "no end after $rounds rounds"
	done
	cmp ref-3.dml model.dml
}

@test "hosts: a two-level tree -- workers, a dml-reduce on every host, the root -- gives the model of the local loop" {
	local_loop 6 2
	# shards i and i+3 to host h(i+1)
	$DML_WRAPPER dml-partition -n 6 \
		--filter "$SSH h\$((DML_SHARD % 3 + 1)) \"cat > $RDIR/h\$((DML_SHARD % 3 + 1))/shard-\$DML_SHARD.csv\"" \
		train.csv
	# round ARG...: on every host at once, the model from stdin, two
	# workers, and the host's own dml-reduce: one record per host
	round() {
		local n
		for n in 1 2 3; do
			$SSH "h$n" "$REMOTE true; cd $RDIR/h$n && cat > model.dml &&
				for s in shard-*.csv; do
					$DML_WRAPPER dml-train $* \$s -o \$s.out &
				done; wait &&
				$DML_WRAPPER dml-reduce --expect 2 shard-*.csv.out &&
				rm shard-*.csv.out" <model.dml >"host-h$n.dml" &
		done
		wait
		run $DML_WRAPPER dml-inspect --field contributions host-h1.dml host-h2.dml host-h3.dml
		assert_output $'2\n2\n2'
	}
	: >model.dml
	round --emit stats -y label
	$DML_WRAPPER dml-reduce --expect 6 host-h1.dml host-h2.dml host-h3.dml |
		$DML_WRAPPER dml-train --apply - -a softmax --max-iter 2 -o model.dml
	local rounds=0
	while [[ $($DML_WRAPPER dml-inspect --field status model.dml) == running ]]; do
		round --emit gradient -m model.dml
		$DML_WRAPPER dml-reduce --expect 6 host-h1.dml host-h2.dml host-h3.dml |
			$DML_WRAPPER dml-train --apply - -m model.dml -o model.dml
		((++rounds < 20)) || fail "no end after $rounds rounds"
	done
	cmp ref-6.dml model.dml
}

@test "hosts: a host whose link goes down mid-round: --timeout fails the round in bounded time, the retry succeeds" {
	$DML_WRAPPER dml-partition -n 3 -o 'shard-%d.csv' train.csv
	$DML_WRAPPER dml-partition -n 3 \
		--filter "$SSH h\$((DML_SHARD + 1)) \"cat > $RDIR/h\$((DML_SHARD + 1))/shard.csv\"" \
		train.csv
	local n
	for n in 0 1 2; do
		$DML_WRAPPER dml-train --emit stats -y label "shard-$n.csv"
	done | $DML_WRAPPER dml-reduce | $DML_WRAPPER dml-train --apply - -a softmax -o model.dml
	for n in 0 1 2; do
		$DML_WRAPPER dml-train --emit gradient -m model.dml "shard-$n.csv"
	done | $DML_WRAPPER dml-reduce -o grad.dml

	# h3 is slow to start; its link goes down while it works, so its
	# connection hangs (no reset, no end of file) until ssh gives up
	(sleep 0.5 && ip -n "$DML_NS-c" link set "dt${TAG}c3" down) &
	SECONDS=0
	# (no DML_WRAPPER here: the timing is the test, not the memory)
	local plain="PATH='$DML_BUILDDIR/src':\$PATH; export PATH;"
	run --separate-stderr dml-reduce --expect 3 --timeout 3 -o got.dml \
		<(exec $SSH h1 "$plain dml-train --emit gradient -m - $RDIR/h1/shard.csv" <model.dml) \
		<(exec $SSH h2 "$plain dml-train --emit gradient -m - $RDIR/h2/shard.csv" <model.dml) \
		<(echo $BASHPID >pid-h3
		  $SSH h3 "sleep 2; $plain dml-train --emit gradient -m - $RDIR/h3/shard.csv" <model.dml &&
			echo 0 >status-h3 || echo $? >status-h3)
	local took=$SECONDS
	assert_failure 1
	assert_equal "$stderr" 'dml-reduce: timed out after 3 s with 2 contributions reduced; no output written'
	((took < 15)) || fail "dml-reduce took $took s"
	assert_file_not_exists got.dml
	# ssh notices the dead link itself (ServerAliveInterval 1, CountMax 5)
	local i
	for ((i = 0; i < 150; i++)); do
		kill -0 "$(cat pid-h3)" 2>/dev/null || break
		sleep 0.1
	done
	((i < 150)) || fail "ssh to h3 did not give up"
	run cat status-h3
	assert_output 255

	# the link back: the round again, and it is the local one
	ip -n "$DML_NS-c" link set "dt${TAG}c3" up
	for n in 1 2 3; do
		$SSH "h$n" "$REMOTE dml-train --emit gradient -m - $RDIR/h$n/shard.csv" \
			<model.dml >"g-h$n.dml" &
	done
	wait
	$DML_WRAPPER dml-reduce --expect 3 --timeout 30 -o got.dml g-h1.dml g-h2.dml g-h3.dml
	cmp grad.dml got.dml
}
