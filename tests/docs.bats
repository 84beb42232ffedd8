#!/usr/bin/env bats
# Help, man pages and completions stay in step, as util-linux's
# tools/checkcompletion.sh keeps them: for every binary, the long options
# that --help lists are exactly those that its man page documents under
# OPTIONS and those that its bash and zsh completions know.  The man pages
# render without a groff warning.

load setup

# The long options defined by the option lines of `PROG --help': lines
# that start with blanks, then "-x, --name" or "--name".
help_options() {
	$DML_WRAPPER "$1" --help |
		sed -n -E 's/^ +(-[[:alnum:]], +)?--([[:alnum:]][[:alnum:]-]*).*/\2/p' |
		LC_ALL=C sort -u
}

# The long options in the tags (the line after each .TP) of the OPTIONS
# section of a man page, with groff's \- read as -.
man_options() {
	awk '
		/^\.SH/ { opts = ($0 ~ /^\.SH +"?OPTIONS"?[ \t]*$/); tag = 0; next }
		opts && /^\.TP/ { tag = 1; next }
		opts && tag { print; tag = 0 }
	' "$1" |
		sed 's/\\-/-/g' |
		grep -oE -- '--[[:alnum:]][[:alnum:]-]*' | sed 's/^--//' |
		LC_ALL=C sort -u
}

# The long options a bash completion offers after a lone "-", as
# bash-completion runs it; where bash-completion is not installed, every
# long option named in the file, comments aside.
bash_options() {
	local bc=/usr/share/bash-completion/bash_completion prog
	prog=$(basename "$1")
	if [[ -r $bc ]]; then
		bash -c '
			source "$1" && source "$2" || exit 1
			COMP_WORDS=("$3" -); COMP_CWORD=1
			COMP_LINE="$3 -"; COMP_POINT=${#COMP_LINE}
			"_${3//-/_}" "$3" - "$3"
			printf "%s\n" "${COMPREPLY[@]}"
		' bash "$bc" "$1" "$prog" | sed -n 's/^--\([[:alnum:]][[:alnum:]-]*\)=\{0,1\}$/\1/p'
	else
		sed 's/#.*//' "$1" | grep -oE -- '--[[:alnum:]][[:alnum:]-]*'
	fi | sed 's/^--//' | LC_ALL=C sort -u
}

# Every long option that a zsh completion file defines: the option names
# of its _arguments specs, outside comments, (exclusion lists) and
# [descriptions].
zsh_options() {
	sed -e 's/^#.*//' -e "s/'([^)]*)/'/g" -e 's/\[[^]]*\]//g' "$1" |
		grep -oE -- '--[[:alnum:]][[:alnum:]-]*' | sed 's/^--//' |
		LC_ALL=C sort -u
}

# compare WHAT PROG HELP-SET OTHER-SET: print what differs, if anything.
compare() {
	local missing extra
	missing=$(LC_ALL=C comm -23 <(printf '%s\n' "$3") <(printf '%s\n' "$4") |
		sed '/^$/d; s/^/--/' | tr '\n' ' ')
	extra=$(LC_ALL=C comm -13 <(printf '%s\n' "$3") <(printf '%s\n' "$4") |
		sed '/^$/d; s/^/--/' | tr '\n' ' ')
	[[ -z $missing ]] || echo "$2: $1 lacks ${missing% }"
	[[ -z $extra ]] || echo "$2: $1 has ${extra% }, which --help does not list"
}

# check WHAT EXTRACTOR FILE-PATTERN: compare every binary's --help with
# the options that EXTRACTOR finds in its file (PROG stands for the name).
check() {
	local what=$1 extract=$2 pattern=$3 prog file help other report=
	for prog in "${DML_PROGRAMS[@]}"; do
		file=${pattern//PROG/$prog}
		if [[ ! -f $file ]]; then
			report+="$prog: $file is missing"$'\n'
			continue
		fi
		help=$(help_options "$prog")
		[[ $help == *help* && $help == *version* ]] ||
			fail "$prog --help: cannot find its option lines"
		other=$("$extract" "$file")
		report+=$(compare "$what" "$prog" "$help" "$other")
		[[ -z $report || $report == *$'\n' ]] || report+=$'\n'
	done
	[[ -z $report ]] || fail "$report"
}

@test "every long option of --help has an OPTIONS entry in the man page, and no other" {
	check "man page" man_options "$DML_SRCDIR/man/PROG.1"
}

@test "every long option of --help is in the bash completion, and no other" {
	check "bash completion" bash_options "$DML_SRCDIR/completions/bash/PROG"
}

@test "every long option of --help is in the zsh completion, and no other" {
	check "zsh completion" zsh_options "$DML_SRCDIR/completions/zsh/_PROG"
}

@test "each man page's title, NAME and SYNOPSIS name its binary" {
	local prog page upper
	for prog in "${DML_PROGRAMS[@]}"; do
		page=$DML_SRCDIR/man/$prog.1
		upper=$(tr '[:lower:]' '[:upper:]' <<<"$prog")
		grep -q "^\.TH $upper 1 " "$page" ||
			fail "$page: no '.TH $upper 1' line"
		awk '/^\.SH/ { s = $2 } s == "NAME" && !/^\./' "$page" |
			grep -q "^$prog \\\\- " ||
			fail "$page: NAME does not start with '$prog \\-'"
		awk '/^\.SH/ { s = $2; next } s == "SYNOPSIS"' "$page" |
			grep -qE "^\.B +$prog( |\$)" ||
			fail "$page: SYNOPSIS does not name $prog"
	done
}

@test "the man pages render without groff warnings" {
	require_program groff
	local page out
	for page in "$DML_SRCDIR"/man/*.[157]; do
		out=$(LC_ALL=C groff -man -Tutf8 -ww -z "$page" 2>&1) ||
			fail "$page: groff failed: $out"
		[[ -z $out ]] || fail "$page: groff warns: $out"
	done
	[[ -f $DML_SRCDIR/man/dml.7 && -f $DML_SRCDIR/man/dml-format.5 ]] ||
		fail "man/dml.7 or man/dml-format.5 is missing"
}

@test "the bash completions load and register their function" {
	local bc=/usr/share/bash-completion/bash_completion prog out
	[[ -r $bc ]] || skip "bash-completion is not installed"
	for prog in "${DML_PROGRAMS[@]}"; do
		out=$(bash -c 'source "$1" && source "$2" &&
			declare -F "_${3//-/_}" >/dev/null && complete -p "$3"' \
			bash "$bc" "$DML_SRCDIR/completions/bash/$prog" "$prog" 2>&1) ||
			fail "completions/bash/$prog does not load, or does not define _${prog//-/_}: $out"
		[[ $out == "complete -F _${prog//-/_} $prog" ]] ||
			fail "completions/bash/$prog registers: $out"
	done
}

@test "the zsh completions parse and declare their command" {
	require_program zsh
	local prog file out
	for prog in "${DML_PROGRAMS[@]}"; do
		file=$DML_SRCDIR/completions/zsh/_$prog
		[[ $(head -n 1 "$file") == "#compdef $prog" ]] ||
			fail "$file: the first line is not '#compdef $prog'"
		out=$(zsh -n "$file" 2>&1) || fail "$file: $out"
	done
}
