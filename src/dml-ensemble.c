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
	fputs("Combine models (of any family, with the same features and classes)\n"
	      "into one ensemble record.  An averaging ensemble given as input\n"
	      "contributes its members, so ensembles of ensembles flatten; trees and\n"
	      "forests combined by averaging become one forest of all their trees.\n"
	      "'-' reads standard input, which may hold several records.\n"
	      "\n"
	      "Options:\n"
	      "      --combine=RULE      average (default): mean of the members' class\n"
	      "                            probabilities; vote: each member votes for\n"
	      "                            its most probable class; weighted: weighted\n"
	      "                            mean (needs --weights or --weigh-by)\n"
	      "      --weights=W1,W2...  one weight >= 0 per member, in order\n"
	      "      --weigh-by=FILE     weight each member by its accuracy on the\n"
	      "                            labelled CSV or binary data in FILE\n"
	      "      --stack=FILE        fit a softmax meta-model on the members' class\n"
	      "                            probabilities over the labelled data in FILE\n"
	      "                            (held out from the members' training)\n"
	      "  -y, --label=COLUMN      label column of --weigh-by/--stack data\n"
	      "                            (default: the models')\n"
	      "  -j, --threads=N         threads for reading data and fitting\n"
	      "  -o, --output=FILE       write to FILE (default standard output); it\n"
	      "                            appears whole or not at all\n"
	      "  -h, --help              display this help and exit\n"
	      "  -V, --version           output version information and exit\n"
	      "\n"
	      "Examples:\n"
	      "  dml-ensemble site-a.dml site-b.dml site-c.dml > ensemble.dml\n"
	      "  dml-ensemble --stack holdout.csv a.dml b.dml -o stacked.dml\n"
	      "  dml-predict -m ensemble.dml --eval test.csv\n"
	      "\n"
	      "See dml-ensemble(1).\n",
	      stdout);
	exit(0);
}

enum { OPT_COMBINE = 256, OPT_WEIGHTS, OPT_WEIGH_BY, OPT_STACK };

static const struct option longopts[] = {
	{ "combine", required_argument, NULL, OPT_COMBINE },
	{ "weights", required_argument, NULL, OPT_WEIGHTS },
	{ "weigh-by", required_argument, NULL, OPT_WEIGH_BY },
	{ "stack", required_argument, NULL, OPT_STACK },
	{ "label", required_argument, NULL, 'y' },
	{ "threads", required_argument, NULL, 'j' },
	{ "output", required_argument, NULL, 'o' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Labelled rows of path, features and classes those of the members. */
static void load(const struct dml_ensemble *e, const char *path,
		 const char *label, uint32_t threads, struct dml_data *d)
{
	const struct dml_model *f = &e->members[0];
	struct dml_load_opts lo = {
		.label = label ? label : f->schema.label,
		.schema = &f->schema, .classes = &f->labels,
		.threads = threads,
	};
	char *files[] = { (char *)path };
	if (!*lo.label)
		cli_usage("the models have no label column: give -y");
	dml_data_init(d);
	cli_load_csv(files, 1, &lo, d);
	if (d->n == 0)
		cli_die("%s: no data rows", cli_name(path));
	if (!d->has_label)
		cli_die("%s: label column '%s' not found", cli_name(path),
			lo.label);
}

static double *parse_weights(const char *s, uint32_t *n)
{
	double *w = NULL;
	*n = 0;
	char *copy = strdup(s), *save = NULL;
	if (!copy)
		cli_die("out of memory");
	for (char *t = strtok_r(copy, ",", &save); t;
	     t = strtok_r(NULL, ",", &save)) {
		double *a = realloc(w, (*n + 1) * sizeof *a);
		if (!a)
			cli_die("out of memory");
		w = a;
		w[(*n)++] = cli_double("--weights", t, 0, 1e300);
	}
	free(copy);
	if (*n == 0)
		cli_usage("--weights: no weights given");
	return w;
}

int main(int argc, char **argv)
{
	const char *output = NULL, *weights = NULL, *weigh_by = NULL;
	const char *stack = NULL, *label = NULL;
	uint32_t combine = DML_COMBINE_AVERAGE, threads = cli_cpus();
	int combine_set = 0, c;
	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "y:j:o:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case OPT_COMBINE:
			combine_set = 1;
			if (!strcmp(optarg, "average"))
				combine = DML_COMBINE_AVERAGE;
			else if (!strcmp(optarg, "vote"))
				combine = DML_COMBINE_VOTE;
			else if (!strcmp(optarg, "weighted"))
				combine = DML_COMBINE_WEIGHTED;
			else
				cli_usage("--combine: unknown rule '%s' "
					  "(average, vote, weighted)", optarg);
			break;
		case OPT_WEIGHTS: weights = optarg; break;
		case OPT_WEIGH_BY: weigh_by = optarg; break;
		case OPT_STACK: stack = optarg; break;
		case 'y': label = optarg; break;
		case 'j':
			threads = (uint32_t)cli_uint("--threads", optarg, 1,
						     1024);
			break;
		case 'o': output = optarg; break;
		case 'h': usage();
		case 'V': cli_version();
		default: cli_try_help();
		}
	}
	if (optind == argc)
		cli_usage("no models given");
	if (weights && weigh_by)
		cli_usage("--weights and --weigh-by do not go together");
	if ((weights || weigh_by) && !combine_set)
		combine = DML_COMBINE_WEIGHTED;
	if ((weights || weigh_by) && combine != DML_COMBINE_WEIGHTED)
		cli_usage("--weights and --weigh-by go with --combine "
			  "weighted");
	if (combine == DML_COMBINE_WEIGHTED && !weights && !weigh_by)
		cli_usage("--combine weighted needs --weights or --weigh-by");
	if (stack && (combine_set || weights || weigh_by))
		cli_usage("--stack is a combine rule of its own: no --combine, "
			  "--weights or --weigh-by");
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
	e.combine = combine;
	if (e.n && dml_model_is_regression(&e.members[0]) &&
	    (combine == DML_COMBINE_VOTE || weigh_by || stack))
		cli_die("%s: regression models combine by average or "
			"--weights only (not %s)", cli_name(argv[optind]),
			stack ? "--stack" : weigh_by ? "--weigh-by"
			: "--combine vote");
	if (weights) {
		uint32_t n;
		e.weights = parse_weights(weights, &n);
		if (n != e.n)
			cli_usage("--weights: %u weights for %u members", n,
				  e.n);
	}
	if (weigh_by) {
		struct dml_data d;
		load(&e, weigh_by, label, threads, &d);
		e.weights = calloc(e.n, sizeof *e.weights);
		double *p = malloc((size_t)d.n * e.members[0].labels.n *
				   sizeof *p + 1);
		if (!e.weights || !p)
			cli_die("out of memory");
		uint32_t nc = e.members[0].labels.n;
		for (uint32_t i = 0; i < e.n; i++) {
			if (dml_member_proba(&e.members[i], d.x, d.n, p))
				cli_die("out of memory");
			uint64_t right = 0;
			for (uint64_t r = 0; r < d.n; r++) {
				const double *q = p + r * nc;
				uint32_t best = 0;
				for (uint32_t k = 1; k < nc; k++)
					if (q[k] > q[best])
						best = k;
				right += best == d.y[r];
			}
			e.weights[i] = (double)right / (double)d.n;
		}
		double sum = 0;
		for (uint32_t i = 0; i < e.n; i++)
			sum += e.weights[i];
		if (!(sum > 0))
			cli_die("%s: every member has accuracy 0: no weights",
				cli_name(weigh_by));
		free(p);
		dml_data_free(&d);
	}
	if (stack) {
		struct dml_data d;
		struct dml_error err = {0};
		load(&e, stack, label, threads, &d);
		if (dml_ensemble_stack(&e, d.x, d.y, d.n, threads, &err))
			cli_die_err(&err, cli_name(stack));
		dml_data_free(&d);
	}
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, output);
	if (combine == DML_COMBINE_AVERAGE && !stack) {
		int all = 1;
		for (uint32_t i = 0; i < e.n; i++)
			all &= e.members[i].forest != NULL;
		if (all) {
			struct dml_model m;
			struct dml_error err = {0};
			if (dml_ensemble_forest(&e, &m, &err))
				cli_die_err(&err, cli_name(argv[optind]));
			cli_emit(&out, &b, dml_model_encode(&m, &b));
			dml_buf_free(&b);
			dml_model_free(&m);
			dml_ensemble_free(&e);
			return 0;
		}
	}
	cli_emit(&out, &b, dml_ensemble_encode(&e, &b));
	dml_buf_free(&b);
	dml_ensemble_free(&e);
	return 0;
}
