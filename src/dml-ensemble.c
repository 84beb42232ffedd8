/* dml-ensemble - combine models into one ensemble record. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	printf("Usage: %s [OPTION]... MODEL...\n", cli_prog);
	fputs("Combine models (logistic or softmax, with the same features and\n"
	      "classes) into one ensemble record whose prediction is the mean of the\n"
	      "members' class probabilities.  An ensemble given as input contributes\n"
	      "its members, so ensembles of ensembles flatten.  '-' reads standard\n"
	      "input, which may hold several records.\n"
	      "\n"
	      "Options:\n"
	      "  -o, --output=FILE       write to FILE (default standard output); it\n"
	      "                            appears whole or not at all\n"
	      "  -h, --help              display this help and exit\n"
	      "  -V, --version           output version information and exit\n"
	      "\n"
	      "Examples:\n"
	      "  dml-ensemble site-a.dml site-b.dml site-c.dml > ensemble.dml\n"
	      "  dml-predict -m ensemble.dml --eval test.csv\n"
	      "\n"
	      "See dml-ensemble(1).\n",
	      stdout);
	exit(0);
}

static const struct option longopts[] = {
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int main(int argc, char **argv)
{
	const char *output = NULL;
	int c;
	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "o:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'o': output = optarg; break;
		case 'h': usage();
		case 'V': cli_version();
		default: cli_try_help();
		}
	}
	if (optind == argc)
		cli_usage("no models given");
	struct dml_ensemble e = {0};
	for (int i = optind; i < argc; i++) {
		FILE *f = cli_open(argv[i]);
		struct dml_record rec;
		dml_record_init(&rec);
		for (uint64_t n = 1;; n++) {
			struct dml_error err = {0};
			enum dml_err rc = dml_record_read(f, &rec, &err);
			if (rc == DML_EEMPTY) {
				if (n == 1)
					cli_die("%s: empty input (no record)",
						cli_name(argv[i]));
				break;
			}
			if (!rc)
				rc = dml_ensemble_add(&e, &rec, &err);
			if (rc) {
				err.record = n;
				cli_die_err(&err, cli_name(argv[i]));
			}
		}
		dml_record_free(&rec);
		cli_close(f, argv[i]);
	}
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, output);
	cli_emit(&out, &b, dml_ensemble_encode(&e, &b));
	dml_buf_free(&b);
	dml_ensemble_free(&e);
	return 0;
}
