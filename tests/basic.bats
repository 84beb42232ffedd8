#!/usr/bin/env bats
# Every binary is built and answers --version and --help.

load setup

@test "every dml binary is built" {
	for prog in "${DML_PROGRAMS[@]}"; do
		assert_file_executable "$DML_BUILDDIR/src/$prog"
	done
}

@test "--version prints 'NAME (dml) 0.1.0' and exits 0" {
	for prog in "${DML_PROGRAMS[@]}"; do
		run --separate-stderr $DML_WRAPPER "$prog" --version
		assert_success
		assert_output "$prog (dml) 0.1.0"
		[[ -z $stderr ]] || fail "$prog --version wrote to stderr: $stderr"
	done
}

@test "--help prints usage on stdout and exits 0" {
	for prog in "${DML_PROGRAMS[@]}"; do
		run --separate-stderr $DML_WRAPPER "$prog" --help
		assert_success
		assert_line --index 0 --partial "Usage: $prog"
	done
}

@test "an unknown option is a usage error: exit 2, pointing to --help" {
	for prog in "${DML_PROGRAMS[@]}"; do
		run --separate-stderr $DML_WRAPPER "$prog" --no-such-option
		assert_failure 2
		[[ $stderr == *"Try '$prog --help'"* ]] ||
			fail "$prog: stderr lacks \"Try '$prog --help'\": $stderr"
	done
}
