/* dml-train - fit a model, or take one distributed step of fitting one. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "cli-kmeans.h"
#include "model.h"
#include "statmodel.h"
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
	int optimizer_set, l2_set, batch_set, lr_set, schedule_set, hogwild;
	struct dml_sparams sp;
	const char *scale;
	unsigned set;       /* DML_SET_* bits of options given */
	int hidden_given;
	int task_given;        /* --task given (-a mlp) */
	uint32_t k;            /* kmeans clusters */
	int max_iter_set, tol_set;
	struct dml_tree_params tree;
	int max_features_set, criterion_set;
};

static void usage(void) __attribute__((noreturn));

/* Is the target a number (regression) for this family and options? */
static int opts_reg(const struct opts *o, uint32_t family)
{
	return dml_family_is_regression(family) ||
	       (family == DML_FAMILY_MLP &&
		o->params.output == DML_OUTPUT_LINEAR);
}

static int model_reg(const struct dml_model *m)
{
	return dml_family_is_regression(m->family) || dml_mlp_is_regression(m);
}

/* --task against the task of a model (-m) */
static void check_task(const struct opts *o, const struct dml_model *m)
{
	if (o->task_given && m->family == DML_FAMILY_MLP &&
	    o->params.output != m->params.output)
		cli_die("%s: is a %s mlp, not a %s one (--task)", o->model,
			dml_mlp_is_regression(m) ? "regression"
						 : "classification",
			dml_mlp_is_regression(m) ? "classification"
						 : "regression");
}

/* Defaults that depend on the family, for the options not given. */
static void family_defaults(const struct opts *o, uint32_t family,
			    struct dml_params *p)
{
	/* the hinge and the perceptron criterion are not smooth: SGD
	 * (subgradient steps) unless another optimizer is asked for */
	if (!o->optimizer_set && (family == DML_FAMILY_HINGE ||
				  family == DML_FAMILY_PERCEPTRON))
		p->optimizer = DML_OPT_SGD;
	/* the perceptron: one row at a time, no penalty, unless asked */
	if (family == DML_FAMILY_PERCEPTRON && !o->l2_set)
		p->l2 = 0;
	if (family == DML_FAMILY_PERCEPTRON && !o->batch_set)
		p->batch = 1;
	/* Adam adapts its own steps: a small constant rate */
	if (p->optimizer == DML_OPT_ADAM && !o->lr_set)
		p->learning_rate = 0.01;
	if (p->optimizer == DML_OPT_ADAM && !o->schedule_set)
		p->schedule = DML_SCHEDULE_CONSTANT;
}

static void usage(void)
{
	printf("Usage: %s [OPTION]... [FILE]...\n", cli_prog);
	fputs("Fit a model on CSV data (standard input if no FILE), or take one step\n"
	      "of distributed training: statistics or a gradient of this shard, or\n"
	      "one optimizer step from a reduced record.\n"
	      "\n"
	      "What to do:\n"
	      "  -a, --algorithm=NAME    model family: logistic (2 classes), softmax,\n"
	      "                            linear (regression on a numeric -y), hinge\n"
	      "                            (linear SVM), squared-hinge or perceptron\n"
	      "                            (2 classes, or one-vs-rest); from\n"
	      "                            statistics alone: scaler, gaussian (anomaly\n"
	      "                            scores), pca; mlp (multilayer perceptron);\n"
	      "                            kmeans (clusters; no label needed); tree\n"
	      "                            (CART) or forest (random forest)\n"
	      "      --emit=KIND         model (default): fit here; stats: label set and\n"
	      "                            feature moments of this shard; gradient: loss\n"
	      "                            and gradient sums at the model given by -m\n"
	      "  -m, --model=FILE        start from, or take the gradient at, this model\n"
	      "      --apply=FILE        apply a reduced record ('-' for standard input):\n"
	      "                            stats (with -a, no -m) make the initial model;\n"
	      "                            a gradient (with -m) makes one optimizer step\n"
	      "\n"
	      "      --scale=FILE        standardize with this scaler model (-a scaler)\n"
	      "                            instead of the data's own mean and spread\n"
	      "      --covariance=KIND   gaussian: diag (default) or full\n"
	      "      --components=K      pca: the number of components to keep\n"
	      "\n"
	      "Data:\n"
	      "  -y, --label=COLUMN      label column, by name or 1-based number\n"
	      "  -d, --delimiter=CHAR    field delimiter (default ','; 'tab' for tab)\n"
	      "      --no-header         the first row is data; columns are col1, col2...\n"
	      "      --input-format=FMT  auto (default: binary by magic, svmlight by its\n"
	      "                            look, else CSV), csv or svmlight\n"
	      "      --features=N        svmlight: the number of features (default: the\n"
	      "                            largest index; with -m the model's)\n"
	      "\n"
	      "Optimization:\n"
	      "      --optimizer=NAME    lbfgs (default), gd (gradient descent with line\n"
	      "                            search), or, in one process or model averaging\n"
	      "                            only: sgd (mini-batch SGD), minibatch (with\n"
	      "                            momentum 0.9) or adam (the default for mlp)\n"
	      "      --max-iter=N        L-BFGS/GD iterations, accepted steps\n"
	      "                            (default 100)\n"
	      "      --tol=X             stop when max |gradient| <= X (default 1e-5)\n"
	      "      --l2=X              L2 penalty on the weights (default 1e-3;\n"
	      "                            0 for perceptron)\n"
	      "      --l1=X              L1 penalty on the weights (default 0; OWL-QN;\n"
	      "                            linear, logistic, softmax, squared-hinge)\n"
	      "      --solver=NAME       linear: iterative (default: the --optimizer)\n"
	      "                            or normal (exact normal equations from X'X\n"
	      "                            and X'y sums, one round; small dimension)\n"
	      "      --epochs=N          SGD passes over the data (default 5)\n"
	      "      --learning-rate=X   SGD initial step (default 0.1; 0.01 for adam)\n"
	      "      --schedule=NAME     SGD step over the epochs e: decay (default,\n"
	      "                            rate/(1+e)), invscaling (rate/sqrt(1+e)) or\n"
	      "                            constant (default for adam)\n"
	      "      --holdout=F         hold out this fraction of rows (by a seeded hash\n"
	      "                            of each row) and stop SGD epochs when their\n"
	      "                            loss stops improving (default 0: none)\n"
	      "      --hogwild           SGD epochs on -j threads updating the weights\n"
	      "                            without locks (fast, not reproducible)\n"
	      "      --batch=N           SGD mini-batch rows (default 64; 1 for\n"
	      "                            perceptron)\n"
	      "      --warm-start=N      SGD epochs before L-BFGS/GD when fitting in\n"
	      "                            one process (default 3; 0 for none)\n"
	      "      --seed=S            random seed (default 1)\n"
	      "\n"
	      "Multilayer perceptron (-a mlp; defaults: adam, --learning-rate 0.004,\n"
	      "--batch 200, --epochs 10, --l2 1e-6):\n"
	      "      --hidden=N[,N]...   units of each hidden layer (default 100)\n"
	      "      --activation=NAME   relu (default) or tanh\n"
	      "      --task=TASK         classification (default: softmax output,\n"
	      "                            classes in -y) or regression (one linear\n"
	      "                            output, squared loss, numeric -y); also\n"
	      "                            for -a tree and -a forest\n"
	      "k-means (-a kmeans):\n"
	      "      --k=K               number of clusters\n"
	      "      --max-iter=N        Lloyd steps at most (default 300)\n"
	      "      --tol=X             stop when the squared center moves add up to\n"
	      "                            at most X times the mean feature variance\n"
	      "                            (default 1e-4)\n"
	      "Trees (-a tree, -a forest):\n"
	      "      --trees=N           trees of a forest (default 100), each grown\n"
	      "                            on its own bootstrap sample\n"
	      "      --criterion=NAME    gini (default) or entropy; variance (the\n"
	      "                            only one, with --task regression)\n"
	      "      --max-depth=N       deepest leaf, 1..64 (default 64)\n"
	      "      --min-leaf=N        fewest rows in a leaf (default 1)\n"
	      "      --max-features=N    features tried per split: a number, 'sqrt'\n"
	      "                            or 'all' (default: all for a tree, sqrt\n"
	      "                            for a forest; all for a regression\n"
	      "                            forest)\n"
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
	OPT_L1, OPT_SOLVER, OPT_SCHEDULE, OPT_HOLDOUT, OPT_HOGWILD,
	OPT_SCALE = 330, OPT_COVARIANCE, OPT_COMPONENTS,
	OPT_HIDDEN, OPT_ACTIVATION,
	OPT_K,
	OPT_TREES, OPT_CRITERION, OPT_MAX_DEPTH, OPT_MIN_LEAF, OPT_MAX_FEATURES,
	OPT_TASK = 380, OPT_INPUT_FORMAT, OPT_FEATURES,
};

static const struct option longopts[] = {
	{ "algorithm", required_argument, NULL, 'a' },
	{ "emit", required_argument, NULL, OPT_EMIT },
	{ "model", required_argument, NULL, 'm' },
	{ "apply", required_argument, NULL, OPT_APPLY },
	{ "label", required_argument, NULL, 'y' },
	{ "delimiter", required_argument, NULL, 'd' },
	{ "no-header", no_argument, NULL, OPT_NO_HEADER },
	{ "input-format", required_argument, NULL, OPT_INPUT_FORMAT },
	{ "features", required_argument, NULL, OPT_FEATURES },
	{ "optimizer", required_argument, NULL, OPT_OPTIMIZER },
	{ "max-iter", required_argument, NULL, OPT_MAX_ITER },
	{ "tol", required_argument, NULL, OPT_TOL },
	{ "l2", required_argument, NULL, OPT_L2 },
	{ "epochs", required_argument, NULL, OPT_EPOCHS },
	{ "learning-rate", required_argument, NULL, OPT_LR },
	{ "batch", required_argument, NULL, OPT_BATCH },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "warm-start", required_argument, NULL, OPT_WARM },
	{ "l1", required_argument, NULL, OPT_L1 },
	{ "solver", required_argument, NULL, OPT_SOLVER },
	{ "schedule", required_argument, NULL, OPT_SCHEDULE },
	{ "holdout", required_argument, NULL, OPT_HOLDOUT },
	{ "hogwild", no_argument, NULL, OPT_HOGWILD },
	{ "scale", required_argument, NULL, OPT_SCALE },
	{ "covariance", required_argument, NULL, OPT_COVARIANCE },
	{ "components", required_argument, NULL, OPT_COMPONENTS },
	{ "hidden", required_argument, NULL, OPT_HIDDEN },
	{ "activation", required_argument, NULL, OPT_ACTIVATION },
	{ "task", required_argument, NULL, OPT_TASK },
	{ "k", required_argument, NULL, OPT_K },
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

/* The data a model is applied to.  With rows_fn, the rows go to it block
 * by block as they are read (see dml_load_opts) and d keeps none. */
static void load_for_model_stream(const struct opts *o,
				  const struct dml_model *m, char **files,
				  int nfiles, struct dml_data *d,
				  dml_rows_fn rows_fn, void *ctx)
{
	int reg = model_reg(m);
	struct dml_load_opts lo = {
		.csv = o->csv,
		.label = o->label ? o->label : m->schema.label,
		.schema = &m->schema,
		.classes = reg ? NULL : &m->labels,
		.numeric_label = reg,
		.threads = o->threads,
		.rows_fn = rows_fn,
		.rows_ctx = ctx,
	};
	struct dml_error err = {0};
	dml_data_init(d);
	cli_load_csv(files, nfiles, &lo, d);
	if (dml_data_flush(d, &lo, &err))
		cli_die_err(&err, cli_name(nfiles ? files[nfiles - 1] : "-"));
	if (d->n == 0)
		cli_die("%s: no data rows",
			cli_name(nfiles ? files[nfiles - 1] : "-"));
	if (!d->has_label)
		cli_die("%s: label column '%s' not found",
			cli_name(nfiles ? files[0] : "-"), lo.label);
}

static void load_for_model(const struct opts *o, const struct dml_model *m,
			   char **files, int nfiles, struct dml_data *d)
{
	load_for_model_stream(o, m, files, nfiles, d, NULL, NULL);
}

/* Regression targets of d (numbers of its label column), or NULL. */
static double *targets(int reg, struct dml_data *d, const char *name)
{
	double *t = NULL;
	struct dml_error err = {0};
	if (reg) {
		if (dml_data_targets(d, &t, &err))
			cli_die_err(&err, name);
		dml_data_drop_labels(d);
	}
	return t;
}

/* The scaler model of --scale. */
static void load_scaler(const struct opts *o, struct dml_smodel *sc)
{
	struct dml_record rec;
	struct dml_error err = {0};
	dml_record_init(&rec);
	cli_read_one(o->scale, DML_KIND_MODEL, &rec);
	if (rec.h.family != DML_FAMILY_SCALER)
		cli_die("%s: is a %s model, not a scaler (--scale)", o->scale,
			dml_family_name(rec.h.family));
	if (dml_smodel_decode(&rec, sc, &err))
		cli_die_err(&err, o->scale);
	dml_record_free(&rec);
}

static void scale_model(const struct opts *o, struct dml_model *m)
{
	struct dml_smodel sc;
	struct dml_error err = {0};
	if (!o->scale)
		return;
	load_scaler(o, &sc);
	if (dml_scaler_apply(&sc, m, &err))
		cli_die_err(&err, o->scale);
	dml_smodel_free(&sc);
}

/* -a scaler, gaussian or pca: a model from statistics s. */
static void stat_model(const struct opts *o, const struct dml_stats *s,
		       const char *name)
{
	struct dml_smodel sc, m;
	struct dml_error err = {0};
	if (o->scale && o->family == DML_FAMILY_SCALER)
		cli_usage("--scale does not go with -a scaler");
	if (o->family == DML_FAMILY_PCA && !o->sp.components)
		cli_usage("-a pca needs --components K");
	if (o->scale)
		load_scaler(o, &sc);
	if (dml_smodel_from_stats(&m, s, o->family, &o->sp,
				  o->scale ? &sc : NULL, &err))
		cli_die_err(&err, o->scale && err.code == DML_ESCHEMA
				  ? o->scale : name);
	if (o->scale)
		dml_smodel_free(&sc);
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, o->output);
	cli_emit(&out, &b, dml_smodel_encode(&m, &b));
	dml_buf_free(&b);
	dml_smodel_free(&m);
}

/* Exact statistics of the files, with cross products when the family
 * needs them; as a record (--emit stats) or made into the model. */
static void stat_fit(const struct opts *o, char **files, int nfiles)
{
	if (o->model)
		cli_usage("-a %s is made from statistics: drop -m",
			  dml_family_name(o->family));
	if (o->emit == EMIT_GRADIENT)
		cli_usage("-a %s takes no gradient steps (use --emit stats)",
			  dml_family_name(o->family));
	if (o->emit == EMIT_MODEL && o->family == DML_FAMILY_PCA &&
	    !o->sp.components)
		cli_usage("-a pca needs --components K");
	const char *first = cli_name(nfiles ? files[0] : "-");
	struct dml_load_opts lo = { .csv = o->csv, .label = o->label,
				    .threads = o->threads };
	struct dml_data d;
	struct dml_stats s;
	struct dml_error err = {0};
	dml_data_init(&d);
	cli_load_csv(files, nfiles, &lo, &d);
	if (d.n == 0)
		cli_die("%s: no data rows", first);
	if (dml_stats_exact(&s, &d, dml_smodel_needs_xprod(o->family,
							   &o->sp),
			    o->threads, &err))
		cli_die_err(&err, first);
	s.family = o->family;
	dml_data_free(&d);
	if (o->emit == EMIT_MODEL) {
		stat_model(o, &s, first);
	} else {
		struct cli_out out;
		struct dml_buf b;
		cli_out_open(&out, o->output);
		cli_emit(&out, &b, dml_stats_encode(&s, &b));
		dml_buf_free(&b);
	}
	dml_stats_free(&s);
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
		if (dml_smodel_family(o->family)) {
			stat_model(o, &s, name);
			dml_stats_free(&s);
			dml_record_free(&rec);
			return;
		}
		if (dml_model_from_stats(&m, &s, o->family, &o->params, &err))
			cli_die_err(&err, name);
		scale_model(o, &m);
		if (o->params.solver == DML_SOLVER_NORMAL &&
		    dml_model_solve_normal(&m, &s, &err))
			cli_die_err(&err, name);
		dml_stats_free(&s);
	} else if (rec.h.kind == DML_KIND_GRADIENT) {
		if (dml_smodel_family(o->family))
			cli_usage("-a %s takes no gradient steps (--apply a "
				  "stats record)", dml_family_name(o->family));
		if (!o->model)
			cli_usage("--apply with a gradient needs -m/--model");
		uint64_t hash;
		cli_load_model(o->model, &m, &hash);
		check_task(o, &m);
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

/* --emit stats: classification statistics block by block as the rows
 * stream past (rows_fn of the loader), so memory stays one block. */
struct stream_stats {
	struct dml_stats s;
	int started;
};

static enum dml_err stats_rows(void *ctx, const struct dml_data *d,
			       double *x, const uint32_t *y, uint64_t n,
			       struct dml_error *err)
{
	struct stream_stats *ss = ctx;
	if (!ss->started) {
		enum dml_err rc = dml_stats_begin(&ss->s, &d->schema, err);
		if (rc)
			return rc;
		ss->started = 1;
	}
	return dml_stats_rows(&ss->s, x, y, n, d->labels.n, err);
}

static void stream_stats(struct dml_load_opts *lo, char **files, int nfiles,
			 struct dml_data *d, struct dml_stats *s)
{
	const char *first = cli_name(nfiles ? files[0] : "-");
	struct stream_stats ss = {0};
	struct dml_error err = {0};
	lo->rows_fn = stats_rows;
	lo->rows_ctx = &ss;
	cli_load_csv(files, nfiles, lo, d);
	if (dml_data_flush(d, lo, &err) ||
	    (!ss.started && dml_stats_begin(&ss.s, &d->schema, &err)) ||
	    dml_stats_end(&ss.s, d, &err))
		cli_die_err(&err, first);
	*s = ss.s;
}

static void do_stats(const struct opts *o, char **files, int nfiles)
{
	if (!o->label)
		cli_usage("--emit stats needs the label column (-y)");
	struct dml_load_opts lo = { .csv = o->csv, .label = o->label,
				    .threads = o->threads,
				    .numeric_label =
				    opts_reg(o, o->family) };
	struct dml_data d;
	struct dml_stats s;
	struct dml_error err = {0};
	dml_data_init(&d);
	double *t = NULL;
	if (o->threads == 1 && !opts_reg(o, o->family)) {
		stream_stats(&lo, files, nfiles, &d, &s);
	} else {
		cli_load_csv(files, nfiles, &lo, &d);
		t = targets(opts_reg(o, o->family), &d,
			    cli_name(nfiles ? files[0] : "-"));
		if (dml_stats_from_data(&s, &d, &err))
			cli_die_err(&err, cli_name(nfiles ? files[0] : "-"));
	}
	s.family = o->family;
	if (t && dml_stats_add_targets(&s, &d, t, o->params.solver ==
				       DML_SOLVER_NORMAL, &err))
		cli_die_err(&err, cli_name(nfiles ? files[0] : "-"));
	free(t);
	dml_data_free(&d);
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, o->output);
	cli_emit(&out, &b, dml_stats_encode(&s, &b));
	dml_buf_free(&b);
	dml_stats_free(&s);
}

struct grad_stream {
	const struct dml_model *m;
	struct dml_eval_stream es;
};

static enum dml_err grad_rows(void *ctx, const struct dml_data *d, double *x,
			      const uint32_t *y, uint64_t n,
			      struct dml_error *err)
{
	(void)d;
	struct grad_stream *gs = ctx;
	dml_model_standardize(gs->m, x, n);
	return dml_model_eval_rows(&gs->es, x, y, n, err);
}

static void do_gradient(const struct opts *o, char **files, int nfiles)
{
	if (!o->model)
		cli_usage("--emit gradient needs the model (-m)");
	struct dml_model m;
	uint64_t hash;
	struct dml_error err = {0};
	cli_load_model(o->model, &m, &hash);
	check_task(o, &m);
	struct dml_data d;
	size_t nw = (size_t)dml_model_nweights(&m);
	struct dml_grad g = {
		.family = m.family, .schema = m.schema.fingerprint,
		.basis = hash, .iteration = m.iteration,
		.contributions = 1, .count = nw + 1,
	};
	g.sums = calloc(nw + 1, sizeof *g.sums);
	if (!g.sums)
		cli_die("out of memory");
	m.threads = o->threads;
	const char *first = cli_name(nfiles ? files[0] : "-");
	if (o->threads == 1 && !model_reg(&m) &&
	    m.family != DML_FAMILY_MLP) {
		/* one thread: the sums as the rows stream past */
		struct grad_stream gs = { .m = &m };
		if (dml_model_eval_begin(&gs.es, &m, dml_model_point(&m),
					 g.sums, &err))
			cli_die_err(&err, first);
		load_for_model_stream(o, &m, files, nfiles, &d, grad_rows,
				      &gs);
		if (dml_model_eval_end(&gs.es, &err))
			cli_die_err(&err, first);
	} else {
		load_for_model(o, &m, files, nfiles, &d);
		dml_model_standardize(&m, d.x, d.n);
		double *t = targets(model_reg(&m), &d, first);
		m.t = t;
		if (dml_model_eval(&m, dml_model_point(&m), d.x, d.y, d.n,
				   g.sums, &err))
			cli_die_err(&err, first);
		free(t);
		m.t = NULL;
	}
	g.samples = d.n;
	if (dml_leaves_set1(&g.leaves, dml_data_leaf(&d)))
		cli_die("out of memory");
	dml_data_free(&d);
	struct cli_out out;
	struct dml_buf b;
	cli_out_open(&out, o->output);
	cli_emit(&out, &b, dml_grad_encode(&g, &b));
	dml_buf_free(&b);
	dml_grad_free(&g);
	dml_model_free(&m);
}

static int is_tree(uint32_t family)
{
	return family == DML_FAMILY_TREE || family == DML_FAMILY_FOREST;
}

/* --task and --criterion of a tree or forest: variance for regression,
 * gini or entropy for classification. */
static void tree_task(struct opts *o)
{
	int reg = o->task_given && o->params.output == DML_OUTPUT_LINEAR;
	if (o->hidden_given)
		cli_usage("--hidden and --activation are for -a mlp only");
	if (reg && !o->criterion_set)
		o->tree.criterion = DML_VARIANCE;
	if (reg && o->tree.criterion != DML_VARIANCE)
		cli_usage("--criterion %s is for classification: a regression "
			  "%s splits by variance",
			  o->tree.criterion == DML_ENTROPY ? "entropy" : "gini",
			  dml_family_name(o->family));
	if (!reg && o->tree.criterion == DML_VARIANCE)
		cli_usage("--criterion variance is for regression "
			  "(--task regression)");
}

/* A regression tree or forest, grown here on all the data. */
static void do_tree_reg(const struct opts *o, char **files, int nfiles)
{
	struct dml_data d;
	struct dml_error err = {0};
	const char *first = cli_name(nfiles ? files[0] : "-");
	struct dml_load_opts lo = { .csv = o->csv, .label = o->label,
				    .numeric_label = 1,
				    .threads = o->threads };
	dml_data_init(&d);
	cli_load_csv(files, nfiles, &lo, &d);
	if (d.n == 0)
		cli_die("%s: no data rows", first);
	double *t = targets(1, &d, first);
	struct dml_model m = {
		.family = o->family, .nout = 1, .samples = d.n,
		.contributions = 1,
	};
	m.forest = malloc(sizeof *m.forest);
	if (!m.forest || dml_schema_copy(&m.schema, &d.schema) ||
	    dml_leaves_set1(&m.leaves, dml_data_leaf(&d)))
		cli_die("out of memory");
	struct dml_tree_params p = o->tree;
	uint32_t nf = d.schema.nfeat;
	/* all the features, a forest too: the bootstrap samples alone
	 * make its trees differ (scikit-learn's default since 1.1) */
	if (!o->max_features_set)
		p.max_features = 0;
	p.seed = o->params.seed;
	if (dml_forest_grow(m.forest, o->family, &p, d.x, NULL, t, d.n,
			    nf, 0, o->threads, &err))
		cli_die_err(&err, first);
	const struct dml_forest *f = m.forest;
	if (o->verbose && f->oob_rows)
		fprintf(stderr, "%s: out-of-bag rmse %.6g r2 %.6f (%llu "
			"rows)\n", cli_prog,
			sqrt(f->oob_sse / (double)f->oob_rows),
			f->oob_sst > 0 ? 1 - f->oob_sse / f->oob_sst : NAN,
			(unsigned long long)f->oob_rows);
	free(t);
	dml_data_free(&d);
	write_model(o, &m);
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
	if (o->tree.criterion == DML_VARIANCE)
		return do_tree_reg(o, files, nfiles);
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
	if (dml_forest_grow(m.forest, o->family, &p, d.x, d.y, NULL, d.n,
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

/* A fit that can take its rows as bytes (dml_load_opts.bytes): a
 * linear classifier from scratch without held-out rows, which needs
 * nothing but the standardized rows. */
static int fits_bytes(const struct opts *o)
{
	return !o->model && o->family && o->family != DML_FAMILY_MLP &&
	       !opts_reg(o, o->family) && o->params.holdout == 0;
}

static void do_fit(const struct opts *o, char **files, int nfiles)
{
	struct dml_model m;
	struct dml_data d;
	struct dml_error err = {0};
	const char *first = cli_name(nfiles ? files[0] : "-");
	uint64_t it0 = 0;
	double *t = NULL;
	int solved = 0;
	if (o->model && o->params.solver == DML_SOLVER_NORMAL)
		cli_usage("--solver normal makes a model from statistics: "
			  "drop -m");
	if (o->model) {
		/* a local round of model averaging from a shared model */
		cli_load_model(o->model, &m, NULL);
		check_task(o, &m);
		if (o->hidden_given)
			cli_usage("--hidden/--activation: the layers come "
				  "from the model (-m)");
		load_for_model(o, &m, files, nfiles, &d);
		t = targets(model_reg(&m), &d, first);
		it0 = m.iteration;
		struct dml_params p = o->params;
		if (m.family == DML_FAMILY_MLP)
			dml_mlp_defaults(&p, o->set);
		else
			family_defaults(o, m.family, &p); /* -a need not be given */
		m.params.optimizer = p.optimizer;
		m.params.schedule = p.schedule;
		m.params.holdout = p.holdout;
		m.params.epochs = p.epochs;
		m.params.max_iter = p.max_iter;
		m.params.learning_rate = p.learning_rate;
		m.params.batch = p.batch;
		m.params.seed = p.seed;
		m.params.warm_start = p.warm_start;
		uint32_t method = m.family == DML_FAMILY_MLP
				  ? dml_mlp_opt_method(p.optimizer)
				  : dml_opt_is_stochastic(p.optimizer)
				  ? DML_OPT_GD : p.optimizer;
		dml_opt_free(&m.opt);
		if (dml_opt_init(&m.opt, method, dml_model_nweights(&m),
				 m.params.memory, m.w))
			cli_die("out of memory");
	} else {
		if (!o->family)
			cli_usage("fitting needs a model family (-a)");
		if (!o->label)
			cli_usage("fitting needs the label column (-y)");
		int reg = opts_reg(o, o->family);
		struct dml_load_opts lo = { .csv = o->csv, .label = o->label,
				    .threads = o->threads,
				    .numeric_label = reg };
		dml_data_init(&d);
		struct dml_stats s;
		lo.bytes = fits_bytes(o) && nfiles <= 1;
		cli_load_csv(files, nfiles, &lo, &d);
		if (d.n == 0)
			cli_die("%s: no data rows", first);
		t = targets(reg, &d, first);
		if (dml_stats_from_data(&s, &d, &err))
			cli_die_err(&err, first);
		if (t && dml_stats_add_targets(&s, &d, t, o->params.solver ==
					       DML_SOLVER_NORMAL, &err))
			cli_die_err(&err, first);
		if (dml_model_from_stats(&m, &s, o->family, &o->params, &err))
			cli_die_err(&err, first);
		scale_model(o, &m);
		if (o->params.solver == DML_SOLVER_NORMAL) {
			if (dml_model_solve_normal(&m, &s, &err))
				cli_die_err(&err, first);
			solved = 1;
		}
		dml_stats_free(&s);
		/* label ids of the data -> the model's sorted classes */
		uint32_t *map = malloc(d.labels.n * sizeof *map);
		if (!map)
			cli_die("out of memory");
		for (uint32_t i = 0; i < d.labels.n && !reg; i++)
			map[i] = (uint32_t)dml_labels_find(&m.labels,
							   d.labels.s[i]);
		for (uint64_t r = 0; r < d.n && !reg; r++)
			d.y[r] = map[d.y[r]];
		free(map);
	}
	/* held-out rows are chosen on the raw values */
	uint8_t *held = NULL;
	if (m.params.holdout > 0 &&
	    dml_holdout_mask(d.x, d.schema.nfeat, t ? NULL : d.y, t, d.n,
			     m.params.holdout, m.params.seed, &held))
		cli_die("out of memory");
	if (held && o->verbose) {
		uint64_t hn = 0;
		for (uint64_t r = 0; r < d.n; r++)
			hn += held[r];
		fprintf(stderr, "%s: %llu of %llu rows held out\n", cli_prog,
			(unsigned long long)hn, (unsigned long long)d.n);
	}
	if (d.q) /* standardized as they are read */
		m.xq = d.q;
	else
		dml_model_standardize(&m, d.x, d.n);
	m.held = held;
	m.hogwild = o->hogwild;
	m.threads = o->threads;
	m.t = t;
	if (!solved && dml_model_fit(&m, d.x, d.y, d.n,
				     o->verbose ? progress : NULL, NULL, &err))
		cli_die_err(&err, first);
	m.t = NULL;
	m.held = NULL;
	m.xq = NULL;
	free(held);
	free(t);
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

static int train_kmeans(const struct opts *o, char **files, int nfiles)
{
	struct kmeans_opts ko = {
		.k = o->k, .seed = o->params.seed, .label = o->label,
		.csv = o->csv, .threads = o->threads, .verbose = o->verbose,
		.emit_pass = o->emit != EMIT_MODEL, .model = o->model,
		.apply = o->apply, .output = o->output,
		.max_iter = o->max_iter_set ? o->params.max_iter : 300,
		.tol = o->tol_set ? o->params.tol : 1e-4,
	};
	kmeans_train(&ko, files, nfiles);
	return 0;
}

/* A model on standard input cannot be read twice: there, kmeans needs
 * -a kmeans. */
static int is_kmeans(const struct opts *o)
{
	return o->family == DML_FAMILY_KMEANS ||
	       (o->model && !o->family && strcmp(o->model, "-") &&
		cli_model_family(o->model) == DML_FAMILY_KMEANS);
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
					  "(logistic, softmax, linear, hinge, "
					  "squared-hinge, perceptron, kmeans, "
					  "scaler, gaussian, pca, mlp, tree, "
					  "forest)", optarg);
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
		case OPT_INPUT_FORMAT: cli_set_input_format(optarg); break;
		case OPT_FEATURES: cli_set_features(optarg); break;
		case OPT_OPTIMIZER:
			o.optimizer_set = 1;
			if (!strcmp(optarg, "lbfgs"))
				o.params.optimizer = DML_OPT_LBFGS;
			else if (!strcmp(optarg, "gd"))
				o.params.optimizer = DML_OPT_GD;
			else if (!strcmp(optarg, "sgd"))
				o.params.optimizer = DML_OPT_SGD;
			else if (!strcmp(optarg, "minibatch"))
				o.params.optimizer = DML_OPT_MINIBATCH;
			else if (!strcmp(optarg, "adam"))
				o.params.optimizer = DML_OPT_ADAM;
			else
				cli_usage("--optimizer: unknown optimizer "
					  "'%s' (lbfgs, gd, sgd, minibatch, "
					  "adam)", optarg);
			o.set |= DML_SET_OPTIMIZER;
			break;
		case OPT_HIDDEN: {
			struct dml_error e = {0};
			if (dml_mlp_parse_hidden(optarg, &o.params, &e))
				cli_usage("%s", e.detail);
			o.hidden_given = 1;
			break;
		}
		case OPT_ACTIVATION: {
			int a = dml_activation_parse(optarg);
			if (a < 0)
				cli_usage("--activation: unknown activation "
					  "'%s' (relu, tanh)", optarg);
			o.params.activation = (uint32_t)a;
			o.hidden_given = 1;
			break;
		}
		case OPT_TASK:
			if (dml_mlp_parse_task(optarg, &o.params))
				cli_usage("--task: unknown task '%s' "
					  "(classification, regression)",
					  optarg);
			o.task_given = 1;
			break;
		case OPT_MAX_ITER:
			o.params.max_iter = (uint32_t)cli_uint("--max-iter",
						optarg, 1, 1000000);
			o.max_iter_set = 1;
			break;
		case OPT_TOL:
			o.params.tol = cli_double("--tol", optarg, 0, 1e300);
			o.tol_set = 1;
			break;
		case OPT_L2:
			o.params.l2 = cli_double("--l2", optarg, 0, 1e300);
			o.l2_set = 1;
			o.set |= DML_SET_L2;
			break;
		case OPT_EPOCHS:
			o.params.epochs = (uint32_t)cli_uint("--epochs", optarg,
							     1, 1000000);
			o.set |= DML_SET_EPOCHS;
			break;
		case OPT_LR:
			o.params.learning_rate = cli_double(
				"--learning-rate", optarg, 1e-300, 1e300);
			o.lr_set = 1;
			o.set |= DML_SET_LR;
			break;
		case OPT_BATCH:
			o.params.batch = (uint32_t)cli_uint("--batch", optarg,
							    1, 1u << 24);
			o.batch_set = 1;
			o.set |= DML_SET_BATCH;
			break;
		case OPT_SEED:
			o.params.seed = cli_uint("--seed", optarg, 0,
						 UINT64_MAX);
			break;
		case OPT_WARM:
			o.params.warm_start = (uint32_t)cli_uint(
				"--warm-start", optarg, 0, 1000000);
			break;
		case OPT_L1:
			o.params.l1 = cli_double("--l1", optarg, 0, 1e300);
			break;
		case OPT_SOLVER:
			if (!strcmp(optarg, "iterative"))
				o.params.solver = DML_SOLVER_ITERATIVE;
			else if (!strcmp(optarg, "normal"))
				o.params.solver = DML_SOLVER_NORMAL;
			else
				cli_usage("--solver: unknown solver '%s' "
					  "(iterative, normal)", optarg);
			break;
		case OPT_SCHEDULE:
			o.params.schedule = dml_schedule_parse(optarg);
			o.schedule_set = 1;
			if (o.params.schedule == UINT32_MAX)
				cli_usage("--schedule: unknown schedule '%s' "
					  "(decay, invscaling, constant)",
					  optarg);
			break;
		case OPT_HOLDOUT:
			o.params.holdout = cli_double("--holdout", optarg, 0,
						      0.99);
			break;
		case OPT_HOGWILD: o.hogwild = 1; break;
		case OPT_SCALE: o.scale = optarg; break;
		case OPT_COVARIANCE:
			if (!strcmp(optarg, "diag"))
				o.sp.covariance = DML_COV_DIAG;
			else if (!strcmp(optarg, "full"))
				o.sp.covariance = DML_COV_FULL;
			else
				cli_usage("--covariance: unknown kind '%s' "
					  "(diag, full)", optarg);
			break;
		case OPT_COMPONENTS:
			o.sp.components = (uint32_t)cli_uint("--components",
						optarg, 1, 1000000);
			break;
		case OPT_K:
			o.k = (uint32_t)cli_uint("--k", optarg, 1, 65536);
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
			else if (!strcmp(optarg, "variance"))
				o.tree.criterion = DML_VARIANCE;
			else
				cli_usage("--criterion: unknown criterion "
					  "'%s' (gini, entropy, variance)",
					  optarg);
			o.criterion_set = 1;
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
	cli_blis_family(o.family);
	if (o.family == DML_FAMILY_MLP)
		dml_mlp_defaults(&o.params, o.set);
	else if (o.family && o.hidden_given)
		cli_usage("--hidden and --activation are for -a mlp only");
	else if (is_tree(o.family))
		tree_task(&o);
	else if (o.family && o.task_given)
		cli_usage("--task is for -a mlp, tree and forest only (-a %s "
			  "has one task)", dml_family_name(o.family));
	else
		family_defaults(&o, o.family, &o.params);
	if (o.params.solver == DML_SOLVER_NORMAL && o.family &&
	    o.family != DML_FAMILY_LINEAR)
		cli_usage("--solver normal is for -a linear only");
	if (o.params.l1 > 0 && (o.family == DML_FAMILY_HINGE ||
				o.family == DML_FAMILY_PERCEPTRON))
		cli_usage("--l1 is not supported for -a %s (use "
			  "squared-hinge)", dml_family_name(o.family));
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
		if (is_kmeans(&o))
			return train_kmeans(&o, files, nfiles);
		do_apply(&o);
		return 0;
	}
	/* svmlight rows always carry a label: named "label" unless -y */
	if (!o.label && !is_kmeans(&o) && !dml_smodel_family(o.family) &&
	    cli_svm_input(files, nfiles, o.csv.delim))
		o.label = "label";
	if (is_kmeans(&o))
		return train_kmeans(&o, files, nfiles);
	if (o.scale && (o.emit != EMIT_MODEL || o.model))
		cli_usage("--scale applies where a model is made from data or "
			  "stats");
	if (dml_smodel_family(o.family)) {
		stat_fit(&o, files, nfiles);
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
