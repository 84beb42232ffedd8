/* dml-reduce - combine records of one kind into one, exactly. */
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "model.h"

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	printf("Usage: %s [OPTION]... [FILE]...\n", cli_prog);
	fputs("Reduce any number of records of one kind (gradients, statistics or\n"
	      "models) from the FILEs, concatenated ('-' or none: standard input),\n"
	      "into one record: gradients and statistics are summed, models averaged\n"
	      "weighted by their samples.  Sums are exact, so any tree of reductions\n"
	      "over the same leaves gives byte-identical output.\n"
	      "\n"
	      "Options:\n"
	      "  -e, --expect=N          fail unless the result holds exactly N leaf\n"
	      "                            contributions (a worker missing or extra)\n"
	      "  -t, --timeout=SECONDS   fail if the input has not ended after\n"
	      "                            SECONDS (a worker that never reports)\n"
	      "  -o, --output=FILE       write to FILE (default standard output); it\n"
	      "                            appears whole or not at all\n"
	      "  -h, --help              display this help and exit\n"
	      "  -V, --version           output version information and exit\n"
	      "\n"
	      "Records of different kinds, feature schemas, model families or\n"
	      "iterations are refused, and so is a leaf (shard) counted twice.\n"
	      "\n"
	      "Examples:\n"
	      "  parallel dml-train --emit gradient -m model.dml {} ::: shard-*.csv \\\n"
	      "    | dml-reduce --expect 4 > gradient.dml\n"
	      "  dml-reduce rack-1.dml rack-2.dml -o total.dml   # a two-level tree\n"
	      "\n"
	      "See dml-reduce(1) and dml-format(5).\n",
	      stdout);
	exit(0);
}

static const struct option longopts[] = {
	{ "expect", required_argument, NULL, 'e' },
	{ "timeout", required_argument, NULL, 't' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* For the timeout message, written from a signal handler. */
static volatile uint64_t seen_contributions;
static volatile uint64_t timeout_seconds;

static size_t put_num(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0, k = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	while (n)
		p[k++] = tmp[--n];
	return k;
}

static size_t put_str(char *p, const char *s)
{
	size_t n = strlen(s);
	memcpy(p, s, n);
	return n;
}

static void on_alarm(int sig)
{
	(void)sig;
	char msg[256];
	size_t n = 0;
	n += put_str(msg + n, cli_prog);
	n += put_str(msg + n, ": timed out after ");
	n += put_num(msg + n, timeout_seconds);
	n += put_str(msg + n, " s with ");
	n += put_num(msg + n, seen_contributions);
	n += put_str(msg + n, " contributions reduced; no output written\n");
	if (write(STDERR_FILENO, msg, n) < 0)
		_exit(1);
	_exit(1);
}

static void reduce_input(struct dml_reducer *r, const char *path,
			 uint64_t *total)
{
	FILE *f = cli_open(path);
	struct dml_record rec;
	dml_record_init(&rec);
	for (uint64_t n = 1;; n++) {
		struct dml_error err = {0};
		enum dml_err rc = dml_record_read(f, &rec, &err);
		if (rc == DML_EEMPTY) {
			if (n == 1)
				cli_die("%s: empty input (no record)",
					cli_name(path));
			break;
		}
		if (!rc)
			rc = dml_reducer_add(r, &rec, &err);
		if (rc) {
			err.record = n;
			err.line = 0;
			cli_die_err(&err, cli_name(path));
		}
		(*total)++;
		seen_contributions = dml_reducer_contributions(r);
	}
	dml_record_free(&rec);
	cli_close(f, path);
}

int main(int argc, char **argv)
{
	const char *output = NULL;
	uint64_t expect = 0;
	int have_expect = 0, c;
	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "e:t:o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'e':
			expect = cli_uint("--expect", optarg, 1, UINT64_MAX);
			have_expect = 1;
			break;
		case 't':
			timeout_seconds = cli_uint("--timeout", optarg, 1,
						   1000000);
			break;
		case 'o': output = optarg; break;
		case 'h': usage();
		case 'V': cli_version();
		default: cli_try_help();
		}
	}
	if (timeout_seconds) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		alarm((unsigned)timeout_seconds);
	}
	struct dml_reducer *r = dml_reducer_new();
	if (!r)
		cli_die("out of memory");
	uint64_t total = 0;
	if (optind == argc)
		reduce_input(r, "-", &total);
	for (int i = optind; i < argc; i++)
		reduce_input(r, argv[i], &total);
	uint64_t got = dml_reducer_contributions(r);
	if (have_expect && got != expect)
		cli_die("expected %llu contributions, got %llu (from %llu "
			"record%s)",
			(unsigned long long)expect, (unsigned long long)got,
			(unsigned long long)total, total == 1 ? "" : "s");
	struct dml_buf b;
	struct dml_error err = {0};
	struct cli_out out;
	alarm(0);
	if (dml_reducer_finish(r, &b, &err))
		cli_die_err(&err, "output");
	cli_out_open(&out, output);
	cli_emit(&out, &b, DML_OK);
	dml_buf_free(&b);
	dml_reducer_free(r);
	return 0;
}
