/* dml-train - fit a model, or take one distributed step of fitting one. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "tree.h"

enum emit { EMIT_MODEL, EMIT_STATS, EMIT_GRADIENT };

struct opts {
	uint32_t family;
	const char *label;
	enum emit emit;
	const char *model;
	const char *apply;
	const char *output;
	struct dml_params params;
	struct dml_csv_opts csv;
	int verbose;
	uint32_t threads;
	struct dml_tree_params tree;
	int max_features_set;
};

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	printf("Usage: %s [OPTION]... [FILE]...\n", cli_prog);
	fputs("Fit a model on CSV data (standard input if no FILE), or take one step\n"
	      "of distributed training: statistics or a gradient of this shard, or\n"
	      "one optimizer step from a reduced record.\n"
	      "\n"
	      "What to do:\n"
	      "  -a, --algorithm=NAME    model family: logistic (2 classes), softmax,\n"
	      "                            tree (CART) or forest (random forest)\n"
	      "      --emit=KIND         model (default): fit here; stats: label set and\n"
	      "                            feature moments of this shard; gradient: loss\n"
	      "                            and gradient sums at the model given by -m\n"
	      "  -m, --model=FILE        start from, or take the gradient at, this model\n"
	      "      --apply=FILE        apply a reduced record ('-' for standard input):\n"
	      "                            stats (with -a, no -m) make the initial model;\n"
	      "                            a gradient (with -m) makes one optimizer step\n"
	      "\n"
	      "Data:\n"
	      "  -y, --label=COLUMN      label column, by name or 1-based number\n"
	      "  -d, --delimiter=CHAR    field delimiter (default ','; 'tab' for tab)\n"
	      "      --no-header         the first row is data; columns are col1, col2...\n"
	      "\n"
	      "Optimization:\n"
	      "      --optimizer=NAME    lbfgs (default), gd (gradient descent with line\n"
	      "                            search) or sgd (mini-batch SGD, one process or\n"
	      "                            model averaging only)\n"
	      "      --max-iter=N        L-BFGS/GD iterations, accepted steps\n"
	      "                            (default 100)\n"
	      "      --tol=X             stop when max |gradient| <= X (default 1e-5)\n"
	      "      --l2=X              L2 penalty on the weights (default 1e-3)\n"
	      "      --epochs=N          SGD passes over the data (default 5)\n"
	      "      --learning-rate=X   SGD initial step (default 0.1)\n"
	      "      --batch=N           SGD mini-batch rows (default 64)\n"
	      "      --warm-start=N      SGD epochs before L-BFGS/GD when fitting in\n"
	      "                            one process (default 3; 0 for none)\n"
	      "      --seed=S            random seed (default 1)\n"
	      "\n"
	      "Trees (-a tree, -a forest):\n"
	      "      --trees=N           trees of a forest (default 100), each grown\n"
	      "                            on its own bootstrap sample\n"
	      "      --criterion=NAME    gini (default) or entropy\n"
	      "      --max-depth=N       deepest leaf, 1..64 (default 64)\n"
	      "      --min-leaf=N        fewest rows in a leaf (default 1)\n"
	      "      --max-features=N    features tried per split: a number, 'sqrt'\n"
	      "                            or 'all' (default: all for a tree, sqrt\n"
	      "                            for a forest)\n"
	      "\n"
	      "Output:\n"
	      "  -o, --output=FILE       write the record to FILE (default standard\n"
	      "                            output); it appears whole or not at all\n"
	      "  -j, --threads=N         threads for gradient passes (default: the\n"
	      "                            number of CPUs); results do not depend on N\n"
	      "  -v, --verbose           print the objective at every iteration\n"
	      "  -h, --help              display this help and exit\n"
	      "  -V, --version           output version information and exit\n"
	      "\n"
	      "Environment:\n"
	      "  BLIS_NUM_THREADS        threads for dense linear algebra (default 1)\n"
	      "\n"
	      "Examples:\n"
	      "  dml-train -a softmax -y label train.csv -o model.dml\n"
	      "  # one BSP round over four shards:\n"
	      "  parallel dml-train --emit gradient -m model.dml shard-{}.csv ::: 0 1 2 3 \\\n"
	      "    | dml-reduce --expect 4 | dml-train --apply - -m model.dml -o model.dml\n"
	      "\n"
	      "See dml-train(1) and dml(7).\n",
	      stdout);
	exit(0);
}

enum {
	OPT_EMIT = 256, OPT_APPLY, OPT_NO_HEADER, OPT_OPTIMIZER, OPT_MAX_ITER,
	OPT_TOL, OPT_L2, OPT_EPOCHS, OPT_LR, OPT_BATCH, OPT_SEED, OPT_WARM,
	OPT_TREES, OPT_CRITERION, OPT_MAX_DEPTH, OPT_MIN_LEAF, OPT_MAX_FEATURES,
};

static const struct option longopts[] = {
	{ "algorithm", required_argument, NULL, 'a' },
	{ "emit", required_argument, NULL, OPT_EMIT },
	{ "model", required_argument, NULL, 'm' },
	{ "apply", required_argument, NULL, OPT_APPLY },
	{ "label", required_argument, NULL, 'y' },
	{ "delimiter", required_argument, NULL, 'd' },
	{ "no-header", no_argument, NULL, OPT_NO_HEADER },
	{ "optimizer", required_argument, NULL, OPT_OPTIMIZER },
	{ "max-iter", required_argument, NULL, OPT_MAX_ITER },
	{ "tol", required_argument, NULL, OPT_TOL },
	{ "l2", required_argument, NULL, OPT_L2 },
	{ "epochs", required_argument, NULL, OPT_EPOCHS },
	{ "learning-rate", required_argument, NULL, OPT_LR },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "warm-start", required_argument, NULL, OPT_WARM },
	{ "trees", required_argument, NULL, OPT_TREES },
	{ "criterion", required_argument, NULL, OPT_CRITERION },
	{ "max-depth", required_argument, NULL, OPT_MAX_DEPTH },
	{ "min-leaf", required_argument, NULL, OPT_MIN_LEAF },
	{ "max-features", required_argument, NULL, OPT_MAX_FEATURES },
	{ "output", required_argument, NULL, 'o' },
	{ "threads", required_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static void progress(void *ctx, const struct dml_model *m, double f)
{
	(void)ctx;
	if (m->opt.evals == 0)
		fprintf(stderr, "%s: iteration %llu: SGD epoch, mean loss "
			"%.12g\n", cli_prog,
			(unsigned long long)m->iteration, f);
	else
		fprintf(stderr, "%s: iteration %llu: %s step %llu, "
			"objective %.12g\n", cli_prog,
			(unsigned long long)m->iteration,
			dml_optimizer_name(m->opt.method),
			(unsigned long long)m->opt.iters, f);
}

static void write_model(const struct opts *o, const struct dml_model *m)
{
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, o->output);
	enum dml_err rc = dml_model_encode(m, &b);
	cli_emit(&out, &b, rc);
	dml_buf_free(&b);
}

static void load_for_model(const struct opts *o, const struct dml_model *m,
			   char **files, int nfiles, struct dml_data *d)
{
	struct dml_load_opts lo = {
		.csv = o->csv,
		.label = o->label ? o->label : m->schema.label,
		.schema = &m->schema,
		.classes = &m->labels,
		.threads = o->threads,
	};
	dml_data_init(d);
	cli_load_csv(files, nfiles, &lo, d);
	if (d->n == 0)
		cli_die("%s: no data rows",
			cli_name(nfiles ? files[nfiles - 1] : "-"));
	if (!d->has_label)
		cli_die("%s: label column '%s' not found",
			cli_name(nfiles ? files[0] : "-"), lo.label);
	dml_model_standardize(m, d->x, d->n);
}

static void do_apply(const struct opts *o)
{
	struct dml_record rec;
	struct dml_error err = {0};
	dml_record_init(&rec);
	cli_read_one(o->apply, 0, &rec);
	const char *name = cli_name(o->apply);
	struct dml_model m;
	if (rec.h.kind == DML_KIND_STATS) {
		if (o->model)
			cli_usage("--apply with a stats record makes a new "
				  "model: drop -m");
		if (!o->family)
			cli_usage("--apply with a stats record needs "
				  "-a/--algorithm");
		struct dml_stats s;
		if (dml_stats_decode(&rec, &s, &err))
			cli_die_err(&err, name);
		if (dml_model_from_stats(&m, &s, o->family, &o->params, &err))
			cli_die_err(&err, name);
		dml_stats_free(&s);
	} else if (rec.h.kind == DML_KIND_GRADIENT) {
		if (!o->model)
			cli_usage("--apply with a gradient needs -m/--model");
		uint64_t hash;
		cli_load_model(o->model, &m, &hash);
		if (o->family && o->family != m.family)
			cli_die("%s: is a %s model, not %s", o->model,
				dml_family_name(m.family),
				dml_family_name(o->family));
		struct dml_grad g;
		if (dml_grad_decode(&rec, &g, &err))
			cli_die_err(&err, name);
		if (dml_model_apply(&m, hash, &g, &err))
			cli_die_err(&err, name);
		dml_grad_free(&g);
		if (o->verbose)
			progress(NULL, &m, m.opt.f);
	} else {
		cli_die("%s: cannot apply a %s record (expected stats or a "
			"gradient)", name, dml_kind_name(rec.h.kind));
	}
	dml_record_free(&rec);
	write_model(o, &m);
	dml_model_free(&m);
}

static void do_stats(const struct opts *o, char **files, int nfiles)
{
	if (!o->label)
		cli_usage("--emit stats needs the label column (-y)");
	struct dml_load_opts lo = { .csv = o->csv, .label = o->label,
				    .threads = o->threads };
	struct dml_data d;
	struct dml_stats s;
	struct dml_error err = {0};
	dml_data_init(&d);
	cli_load_csv(files, nfiles, &lo, &d);
	if (dml_stats_from_data(&s, &d, &err))
		cli_die_err(&err, cli_name(nfiles ? files[0] : "-"));
	s.family = o->family;
	dml_data_free(&d);
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, o->output);
	cli_emit(&out, &b, dml_stats_encode(&s, &b));
	dml_buf_free(&b);
	dml_stats_free(&s);
}

static void do_gradient(const struct opts *o, char **files, int nfiles)
{
	if (!o->model)
		cli_usage("--emit gradient needs the model (-m)");
	struct dml_model m;
	uint64_t hash;
	struct dml_error err = {0};
	cli_load_model(o->model, &m, &hash);
	struct dml_data d;
	load_for_model(o, &m, files, nfiles, &d);
	size_t nw = (size_t)dml_model_nweights(&m);
	struct dml_grad g = {
		.family = m.family, .schema = m.schema.fingerprint,
		.basis = hash, .iteration = m.iteration, .samples = d.n,
		.contributions = 1, .count = nw + 1,
	};
	g.sums = calloc(nw + 1, sizeof *g.sums);
	if (!g.sums || dml_leaves_set1(&g.leaves, dml_data_leaf(&d)))
		cli_die("out of memory");
	m.threads = o->threads;
	if (dml_model_eval(&m, dml_model_point(&m), d.x, d.y, d.n, g.sums,
			   &err))
		cli_die_err(&err, cli_name(nfiles ? files[0] : "-"));
	dml_data_free(&d);
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, o->output);
	cli_emit(&out, &b, dml_grad_encode(&g, &b));
	dml_buf_free(&b);
	dml_grad_free(&g);
	dml_model_free(&m);
}

/* A tree or a forest, grown here on all the data. */
static void do_tree(const struct opts *o, char **files, int nfiles)
{
	struct dml_data d;
	struct dml_stats s;
	struct dml_error err = {0};
	const char *first = cli_name(nfiles ? files[0] : "-");
	if (!o->label)
		cli_usage("fitting needs the label column (-y)");
	if (o->model)
		cli_usage("-a %s grows new trees: drop -m",
			  dml_family_name(o->family));
	struct dml_load_opts lo = { .csv = o->csv, .label = o->label,
				    .threads = o->threads };
	dml_data_init(&d);
	cli_load_csv(files, nfiles, &lo, &d);
	if (d.n == 0)
		cli_die("%s: no data rows", first);
	if (dml_stats_from_data(&s, &d, &err))
		cli_die_err(&err, first);
	if (s.labels.n < 2)
		cli_die("%s: a %s needs at least 2 classes, found %u", first,
			dml_family_name(o->family), s.labels.n);
	struct dml_model m = {
		.family = o->family, .nout = s.labels.n, .samples = d.n,
		.contributions = 1, .labels = s.labels,
	};
	s.labels = (struct dml_labels){0};
	uint32_t *map = malloc(d.labels.n * sizeof *map + 1);
	m.forest = malloc(sizeof *m.forest);
	if (!map || !m.forest || dml_schema_copy(&m.schema, &d.schema) ||
	    dml_leaves_set1(&m.leaves, dml_data_leaf(&d)))
		cli_die("out of memory");
	dml_stats_free(&s);
	for (uint32_t i = 0; i < d.labels.n; i++)
		map[i] = (uint32_t)dml_labels_find(&m.labels, d.labels.s[i]);
	for (uint64_t r = 0; r < d.n; r++)
		d.y[r] = map[d.y[r]];
	free(map);
	struct dml_tree_params p = o->tree;
	if (!o->max_features_set)
		p.max_features = o->family == DML_FAMILY_FOREST
				 ? DML_FEATURES_SQRT : 0;
	p.seed = o->params.seed;
	if (dml_forest_grow(m.forest, o->family, &p, d.x, d.y, d.n,
			    d.schema.nfeat, m.labels.n, o->threads, &err))
		cli_die_err(&err, first);
	if (o->verbose && m.forest->oob_rows)
		fprintf(stderr, "%s: out-of-bag accuracy %.6f (%llu rows)\n",
			cli_prog, (double)m.forest->oob_correct /
			(double)m.forest->oob_rows,
			(unsigned long long)m.forest->oob_rows);
	dml_data_free(&d);
	write_model(o, &m);
	dml_model_free(&m);
}

static void do_fit(const struct opts *o, char **files, int nfiles)
{
	struct dml_model m;
	struct dml_data d;
	struct dml_error err = {0};
	const char *first = cli_name(nfiles ? files[0] : "-");
	uint64_t it0 = 0;
	if (o->model) {
		/* a local round of model averaging from a shared model */
		cli_load_model(o->model, &m, NULL);
		load_for_model(o, &m, files, nfiles, &d);
		it0 = m.iteration;
		m.params.optimizer = o->params.optimizer;
		m.params.epochs = o->params.epochs;
		m.params.max_iter = o->params.max_iter;
		m.params.learning_rate = o->params.learning_rate;
		m.params.batch = o->params.batch;
		m.params.seed = o->params.seed;
		m.params.warm_start = o->params.warm_start;
		uint32_t method = o->params.optimizer == DML_OPT_SGD
				  ? DML_OPT_GD : o->params.optimizer;
		dml_opt_free(&m.opt);
		if (dml_opt_init(&m.opt, method, dml_model_nweights(&m),
				 m.params.memory, m.w))
			cli_die("out of memory");
	} else {
		if (!o->family)
			cli_usage("fitting needs a model family (-a)");
		if (!o->label)
			cli_usage("fitting needs the label column (-y)");
		struct dml_load_opts lo = { .csv = o->csv, .label = o->label,
				    .threads = o->threads };
		dml_data_init(&d);
		cli_load_csv(files, nfiles, &lo, &d);
		if (d.n == 0)
			cli_die("%s: no data rows", first);
		struct dml_stats s;
		if (dml_stats_from_data(&s, &d, &err))
			cli_die_err(&err, first);
		if (dml_model_from_stats(&m, &s, o->family, &o->params, &err))
			cli_die_err(&err, first);
		dml_stats_free(&s);
		/* label ids of the data -> the model's sorted classes */
		uint32_t *map = malloc(d.labels.n * sizeof *map);
		if (!map)
			cli_die("out of memory");
		for (uint32_t i = 0; i < d.labels.n; i++)
			map[i] = (uint32_t)dml_labels_find(&m.labels,
							   d.labels.s[i]);
		for (uint64_t r = 0; r < d.n; r++)
			d.y[r] = map[d.y[r]];
		free(map);
		dml_model_standardize(&m, d.x, d.n);
	}
	m.threads = o->threads;
	if (dml_model_fit(&m, d.x, d.y, d.n, o->verbose ? progress : NULL,
			  NULL, &err))
		cli_die_err(&err, first);
	if (o->model) {
		m.iteration = it0 + 1;
		m.samples = d.n;
		m.contributions = 1;
		if (dml_leaves_set1(&m.leaves, dml_data_leaf(&d)))
			cli_die("out of memory");
	}
	dml_data_free(&d);
	write_model(o, &m);
	dml_model_free(&m);
}

int main(int argc, char **argv)
{
	struct opts o = { .emit = EMIT_MODEL, .threads = cli_cpus() };
	dml_params_default(&o.params);
	dml_tree_params_default(&o.tree, DML_FAMILY_FOREST);
	cli_init(argv[0]);
	int c;
	while ((c = getopt_long(argc, argv, "a:m:y:d:o:j:vhV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'a':
			o.family = dml_family_parse(optarg);
			if (!o.family)
				cli_usage("--algorithm: unknown family '%s' "
					  "(logistic, softmax, tree, forest)",
					  optarg);
			break;
		case OPT_EMIT:
			if (!strcmp(optarg, "model"))
				o.emit = EMIT_MODEL;
			else if (!strcmp(optarg, "stats"))
				o.emit = EMIT_STATS;
			else if (!strcmp(optarg, "gradient"))
				o.emit = EMIT_GRADIENT;
			else
				cli_usage("--emit: unknown kind '%s' (model, "
					  "stats, gradient)", optarg);
			break;
		case 'm': o.model = optarg; break;
		case OPT_APPLY: o.apply = optarg; break;
		case 'y': o.label = optarg; break;
		case 'd': o.csv.delim = cli_delimiter(optarg); break;
		case OPT_NO_HEADER: o.csv.no_header = 1; break;
		case OPT_OPTIMIZER:
			if (!strcmp(optarg, "lbfgs"))
				o.params.optimizer = DML_OPT_LBFGS;
			else if (!strcmp(optarg, "gd"))
				o.params.optimizer = DML_OPT_GD;
			else if (!strcmp(optarg, "sgd"))
				o.params.optimizer = DML_OPT_SGD;
			else
				cli_usage("--optimizer: unknown optimizer "
					  "'%s' (lbfgs, gd, sgd)", optarg);
			break;
		case OPT_MAX_ITER:
			o.params.max_iter = (uint32_t)cli_uint("--max-iter",
						optarg, 1, 1000000);
			break;
		case OPT_TOL:
			o.params.tol = cli_double("--tol", optarg, 0, 1e300);
			break;
		case OPT_L2:
			o.params.l2 = cli_double("--l2", optarg, 0, 1e300);
			break;
		case OPT_EPOCHS:
			o.params.epochs = (uint32_t)cli_uint("--epochs", optarg,
							     1, 1000000);
			break;
		case OPT_LR:
			o.params.learning_rate = cli_double(
				"--learning-rate", optarg, 1e-300, 1e300);
			break;
		case OPT_BATCH:
			o.params.batch = (uint32_t)cli_uint("--batch", optarg,
							    1, 1u << 24);
			break;
		case OPT_SEED:
			o.params.seed = cli_uint("--seed", optarg, 0,
						 UINT64_MAX);
			break;
		case OPT_WARM:
			o.params.warm_start = (uint32_t)cli_uint(
				"--warm-start", optarg, 0, 1000000);
			break;
		case OPT_TREES:
			o.tree.trees = (uint32_t)cli_uint("--trees", optarg, 1,
						DML_FOREST_MAX_TREES);
			break;
		case OPT_CRITERION:
			if (!strcmp(optarg, "gini"))
				o.tree.criterion = DML_GINI;
			else if (!strcmp(optarg, "entropy"))
				o.tree.criterion = DML_ENTROPY;
			else
				cli_usage("--criterion: unknown criterion "
					  "'%s' (gini, entropy)", optarg);
			break;
		case OPT_MAX_DEPTH:
			o.tree.max_depth = (uint32_t)cli_uint("--max-depth",
						optarg, 1, DML_TREE_MAX_DEPTH);
			break;
		case OPT_MIN_LEAF:
			o.tree.min_leaf = (uint32_t)cli_uint("--min-leaf",
						optarg, 1, UINT32_MAX / 2);
			break;
		case OPT_MAX_FEATURES:
			o.max_features_set = 1;
			if (!strcmp(optarg, "sqrt"))
				o.tree.max_features = DML_FEATURES_SQRT;
			else if (!strcmp(optarg, "all"))
				o.tree.max_features = 0;
			else
				o.tree.max_features = (uint32_t)cli_uint(
					"--max-features", optarg, 1,
					UINT32_MAX - 1);
			break;
		case 'o': o.output = optarg; break;
		case 'j':
			o.threads = (uint32_t)cli_uint("--threads", optarg, 1,
						       1024);
			break;
		case 'v': o.verbose = 1; break;
		case 'h': usage();
		case 'V': cli_version();
		default: cli_try_help();
		}
	}
	char **files = argv + optind;
	int nfiles = argc - optind;
	if ((o.family == DML_FAMILY_TREE || o.family == DML_FAMILY_FOREST) &&
	    (o.apply || o.emit != EMIT_MODEL))
		cli_usage("-a %s grows in one process: no --apply or --emit "
			  "(combine shards' forests with dml-ensemble)",
			  dml_family_name(o.family));
	if (o.apply) {
		if (nfiles)
			cli_usage("--apply takes no data files");
		if (o.emit != EMIT_MODEL)
			cli_usage("--apply and --emit do not go together");
		do_apply(&o);
		return 0;
	}
	switch (o.emit) {
	case EMIT_STATS: do_stats(&o, files, nfiles); break;
	case EMIT_GRADIENT: do_gradient(&o, files, nfiles); break;
	case EMIT_MODEL:
		if (o.family == DML_FAMILY_TREE ||
		    o.family == DML_FAMILY_FOREST)
			do_tree(&o, files, nfiles);
		else
			do_fit(&o, files, nfiles);
		break;
	}
	return 0;
}
