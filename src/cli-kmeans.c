/* cli-kmeans.c - the kmeans family in dml-train and dml-predict. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli-kmeans.h"
#include "kmeans.h"

uint32_t cli_model_family(const char *path)
{
	struct dml_record rec;
	dml_record_init(&rec);
	cli_read_one(path, 0, &rec);
	uint32_t family = rec.h.kind == DML_KIND_MODEL ? rec.h.family : 0;
	dml_record_free(&rec);
	return family;
}

static void load_kmeans(const char *path, struct dml_kmeans *m,
			uint64_t *hash)
{
	struct dml_record rec;
	struct dml_error err = {0};
	dml_record_init(&rec);
	cli_read_one(path, 0, &rec);
	if (rec.h.kind == DML_KIND_MODEL &&
	    rec.h.family != DML_FAMILY_KMEANS)
		cli_die("%s: is a %s model, not kmeans", cli_name(path),
			dml_family_name(rec.h.family));
	if (dml_kmeans_decode(&rec, m, &err))
		cli_die_err(&err, cli_name(path));
	if (hash)
		*hash = dml_record_hash(&rec);
	dml_record_free(&rec);
}

static void progress(void *ctx, const struct dml_kmeans *m)
{
	(void)ctx;
	if (m->phase == DML_KM_SEED || m->lloyd == 0)
		fprintf(stderr, "%s: iteration %llu: seeded center %u of %u\n",
			cli_prog, (unsigned long long)m->iteration,
			m->ncenters, m->k);
	else if (!isfinite(m->inertia)) /* one process: not summed */
		fprintf(stderr, "%s: iteration %llu: Lloyd step %u, squared "
			"center shift %.6g\n", cli_prog,
			(unsigned long long)m->iteration, m->lloyd, m->shift);
	else
		fprintf(stderr, "%s: iteration %llu: Lloyd step %u, inertia "
			"%.12g, squared center shift %.6g%s%s\n", cli_prog,
			(unsigned long long)m->iteration, m->lloyd,
			m->inertia, m->shift,
			m->phase == DML_KM_DONE ? ", " : "",
			m->phase == DML_KM_DONE ? dml_kmeans_status(m) : "");
}

static void write_record(const char *output, struct dml_buf *b,
			 enum dml_err rc)
{
	struct cli_out out;
	cli_out_open(&out, output);
	cli_emit(&out, b, rc);
	dml_buf_free(b);
}

static void load_rows(const struct kmeans_opts *o, const struct dml_schema *s,
		      char **files, int nfiles, struct dml_data *d)
{
	struct dml_load_opts lo = {
		.csv = o->csv, .label = o->label, .schema = s,
		.threads = o->threads,
	};
	if (s) {
		if (!lo.label && *s->label)
			lo.label = s->label;
		lo.label_optional = 1;
	}
	dml_data_init(d);
	cli_load_csv(files, nfiles, &lo, d);
	if (d->n == 0)
		cli_die("%s: no data rows",
			cli_name(nfiles ? files[nfiles - 1] : "-"));
}

static void stats_of(const struct dml_data *d, struct dml_stats *s,
		     const char *name)
{
	struct dml_error err = {0};
	if (dml_stats_from_data(s, d, &err))
		cli_die_err(&err, name);
	s->family = DML_FAMILY_KMEANS;
}

static void do_fit(const struct kmeans_opts *o, char **files, int nfiles)
{
	const char *first = cli_name(nfiles ? files[0] : "-");
	struct dml_data d;
	struct dml_stats s;
	struct dml_kmeans m;
	struct dml_error err = {0};
	load_rows(o, NULL, files, nfiles, &d);
	struct dml_krows kr;
	if (dml_kmeans_stats(&s, &d, &kr, &err))
		cli_die_err(&err, first);
	if (dml_kmeans_from_stats(&m, &s, o->k, o->max_iter, o->tol, o->seed,
				  &err))
		cli_die_err(&err, first);
	dml_stats_free(&s);
	m.threads = o->threads;
	if (dml_kmeans_fit(&m, d.x, d.n, &kr, o->verbose ? progress : NULL,
			   NULL, &err))
		cli_die_err(&err, first);
	dml_krows_free(&kr);
	dml_data_free(&d);
	struct dml_buf b;
	write_record(o->output, &b, dml_kmeans_encode(&m, &b));
	dml_kmeans_free(&m);
}

static void do_stats(const struct kmeans_opts *o, char **files, int nfiles)
{
	struct dml_data d;
	struct dml_stats s;
	load_rows(o, NULL, files, nfiles, &d);
	stats_of(&d, &s, cli_name(nfiles ? files[0] : "-"));
	dml_data_free(&d);
	struct dml_buf b;
	write_record(o->output, &b, dml_stats_encode(&s, &b));
	dml_stats_free(&s);
}

static void do_pass(const struct kmeans_opts *o, char **files, int nfiles)
{
	struct dml_kmeans m;
	struct dml_data d;
	struct dml_kpass p;
	struct dml_error err = {0};
	uint64_t hash;
	load_kmeans(o->model, &m, &hash);
	load_rows(o, &m.schema, files, nfiles, &d);
	m.threads = o->threads;
	if (m.phase == DML_KM_DONE)
		memset(&p, 0, sizeof p);
	else if (dml_kmeans_pass(&m, d.x, NULL, d.n, &p, &err))
		cli_die_err(&err, cli_name(nfiles ? files[0] : "-"));
	if (!p.sums) {
		/* a finished model: an empty pass that changes nothing */
		p.count = 1;
		p.sums = calloc(1, sizeof *p.sums);
		if (!p.sums)
			cli_die("out of memory");
	}
	struct dml_header h = {
		.schema = m.schema.fingerprint, .basis = hash,
		.iteration = m.iteration, .samples = d.n, .contributions = 1,
	};
	struct dml_leaves leaves = {0};
	if (dml_leaves_set1(&leaves, dml_data_leaf(&d)))
		cli_die("out of memory");
	dml_data_free(&d);
	struct dml_buf b;
	write_record(o->output, &b, dml_kpass_encode(&p, &h, &leaves, &b));
	dml_leaves_free(&leaves);
	dml_kpass_free(&p);
	dml_kmeans_free(&m);
}

static void do_apply(const struct kmeans_opts *o)
{
	struct dml_record rec;
	struct dml_error err = {0};
	struct dml_kmeans m;
	const char *name = cli_name(o->apply);
	dml_record_init(&rec);
	cli_read_one(o->apply, 0, &rec);
	if (rec.h.kind == DML_KIND_STATS) {
		if (o->model)
			cli_usage("--apply with a stats record makes a new "
				  "model: drop -m");
		if (!o->k)
			cli_usage("kmeans needs the number of clusters "
				  "(--k)");
		struct dml_stats s;
		if (dml_stats_decode(&rec, &s, &err))
			cli_die_err(&err, name);
		if (dml_kmeans_from_stats(&m, &s, o->k, o->max_iter, o->tol,
					  o->seed, &err))
			cli_die_err(&err, name);
		dml_stats_free(&s);
	} else if (rec.h.kind == DML_KIND_GRADIENT) {
		if (!o->model)
			cli_usage("--apply with a gradient needs -m/--model");
		uint64_t hash;
		load_kmeans(o->model, &m, &hash);
		if (dml_kmeans_apply(&m, hash, &rec, &err))
			cli_die_err(&err, name);
		if (o->verbose)
			progress(NULL, &m);
	} else {
		cli_die("%s: cannot apply %s %s record (expected stats or a "
			"gradient)", name, dml_kind_article(rec.h.kind),
			dml_kind_name(rec.h.kind));
	}
	dml_record_free(&rec);
	struct dml_buf b;
	write_record(o->output, &b, dml_kmeans_encode(&m, &b));
	dml_kmeans_free(&m);
}

void kmeans_train(const struct kmeans_opts *o, char **files, int nfiles)
{
	if (o->apply) {
		do_apply(o);
	} else if (o->model) {
		if (!o->emit_pass)
			cli_usage("a kmeans model goes on with --emit stats "
				  "(a pass over this shard) and --apply");
		do_pass(o, files, nfiles);
	} else if (o->emit_pass) {
		do_stats(o, files, nfiles);
	} else {
		if (!o->k)
			cli_usage("kmeans needs the number of clusters "
				  "(--k)");
		do_fit(o, files, nfiles);
	}
}

void kmeans_predict(const struct kmeans_predict_opts *o, char **files,
		    int nfiles)
{
	struct dml_kmeans m;
	struct dml_error err = {0};
	if (dml_kmeans_decode(o->model, &m, &err))
		cli_die_err(&err, o->model_name);
	if (m.phase == DML_KM_SEED)
		cli_die("%s: the model is still seeding (%u of %u centers)",
			o->model_name, m.ncenters, m.k);
	struct kmeans_opts lo = { .csv = o->csv, .threads = 1 };
	struct dml_data d;
	load_rows(&lo, &m.schema, files, nfiles, &d);
	uint32_t *cl = malloc(((size_t)d.n + 1) * sizeof *cl);
	double *d2 = malloc(((size_t)d.n + 1) * sizeof *d2);
	if (!cl || !d2 || dml_kmeans_assign(&m, d.x, d.n, cl, d2))
		cli_die("out of memory");
	struct cli_out out;
	cli_out_open(&out, o->output);
	if (o->eval) {
		struct dml_fx acc = {0}, v;
		uint64_t flagged = 0;
		for (uint64_t r = 0; r < d.n; r++) {
			if (dml_fx_from_double(d2[r], &v) ||
			    dml_fx_add(&acc, &v))
				cli_die("inertia out of range");
			flagged += o->has_threshold &&
				   sqrt(d2[r]) > o->threshold;
		}
		fprintf(out.f, "inertia\t%.10g\n", dml_fx_to_double(&acc));
		fprintf(out.f, "rows\t%llu\n", (unsigned long long)d.n);
		if (o->has_threshold)
			fprintf(out.f, "flagged\t%llu\n",
				(unsigned long long)flagged);
	} else {
		for (uint64_t r = 0; r < d.n; r++) {
			double dist = sqrt(d2[r]);
			fprintf(out.f, "%u\t%.10g", cl[r], dist);
			if (o->has_threshold)
				fprintf(out.f, "\t%d", dist > o->threshold);
			fputc('\n', out.f);
		}
	}
	cli_out_commit(&out);
	free(cl);
	free(d2);
	dml_data_free(&d);
	dml_kmeans_free(&m);
}
