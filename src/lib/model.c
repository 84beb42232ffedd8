/* model.c - linear models, statistics and gradient records. */
#include "model.h"

#include <blis.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gemm.h"
#include "mlp.h"
#include "numeric.h"
#include "parsum.h"
#include "tree.h"

#define BLOCK 256  /* rows per matrix product */
#define CHUNK 4096 /* rows per exactly-added partial sum */

const char *dml_family_name(uint32_t family)
{
	switch (family) {
	case DML_FAMILY_NONE: return "none";
	case DML_FAMILY_LOGISTIC: return "logistic";
	case DML_FAMILY_SOFTMAX: return "softmax";
	case DML_FAMILY_LINEAR: return "linear";
	case DML_FAMILY_HINGE: return "hinge";
	case DML_FAMILY_SQUARED_HINGE: return "squared-hinge";
	case DML_FAMILY_PERCEPTRON: return "perceptron";
	case DML_FAMILY_KMEANS: return "kmeans";
	case DML_FAMILY_SCALER: return "scaler";
	case DML_FAMILY_GAUSSIAN: return "gaussian";
	case DML_FAMILY_PCA: return "pca";
	case DML_FAMILY_MLP: return "mlp";
	case DML_FAMILY_TREE: return "tree";
	case DML_FAMILY_FOREST: return "forest";
	default: return "unknown";
	}
}

uint32_t dml_family_parse(const char *name)
{
	if (!strcmp(name, "logistic"))
		return DML_FAMILY_LOGISTIC;
	if (!strcmp(name, "softmax"))
		return DML_FAMILY_SOFTMAX;
	if (!strcmp(name, "linear"))
		return DML_FAMILY_LINEAR;
	if (!strcmp(name, "hinge"))
		return DML_FAMILY_HINGE;
	if (!strcmp(name, "squared-hinge"))
		return DML_FAMILY_SQUARED_HINGE;
	if (!strcmp(name, "perceptron"))
		return DML_FAMILY_PERCEPTRON;
	if (!strcmp(name, "kmeans"))
		return DML_FAMILY_KMEANS;
	if (!strcmp(name, "scaler"))
		return DML_FAMILY_SCALER;
	if (!strcmp(name, "gaussian"))
		return DML_FAMILY_GAUSSIAN;
	if (!strcmp(name, "pca"))
		return DML_FAMILY_PCA;
	if (!strcmp(name, "mlp"))
		return DML_FAMILY_MLP;
	if (!strcmp(name, "tree"))
		return DML_FAMILY_TREE;
	if (!strcmp(name, "forest"))
		return DML_FAMILY_FOREST;
	return DML_FAMILY_NONE;
}

/* ---- parameters ---- */

enum {
	P_L2 = 1, P_OPTIMIZER, P_MAX_ITER, P_TOL, P_MEMORY, P_EPOCHS,
	P_LEARNING_RATE, P_BATCH, P_SEED, P_WARM_START,
	P_L1 = 11, P_SOLVER = 12, P_SCHEDULE = 13, P_HOLDOUT = 14,
};

void dml_params_default(struct dml_params *p)
{
	p->l2 = 1e-3;
	p->optimizer = DML_OPT_LBFGS;
	p->max_iter = 100;
	p->tol = 1e-5;
	p->memory = 10;
	p->epochs = 5;
	p->learning_rate = 0.1;
	p->batch = 64;
	p->seed = 1;
	p->warm_start = 3;
	p->l1 = 0;
	p->solver = DML_SOLVER_ITERATIVE;
	p->schedule = DML_SCHEDULE_DECAY;
	p->holdout = 0;
}

enum dml_err dml_params_check(const struct dml_params *p,
			      struct dml_error *err)
{
	if (!(p->l2 >= 0) || !isfinite(p->l2))
		return dml_fail(err, DML_EPARAM, "--l2 must be >= 0");
	if (!(p->l1 >= 0) || !isfinite(p->l1))
		return dml_fail(err, DML_EPARAM, "--l1 must be >= 0");
	if (p->solver > DML_SOLVER_NORMAL)
		return dml_fail(err, DML_EPARAM, "unknown solver");
	if (p->schedule > DML_SCHEDULE_INVSCALING)
		return dml_fail(err, DML_EPARAM, "unknown schedule");
	if (!(p->holdout >= 0 && p->holdout < 1))
		return dml_fail(err, DML_EPARAM,
				"--holdout must be >= 0 and < 1");
	if (!(p->tol >= 0) || !isfinite(p->tol))
		return dml_fail(err, DML_EPARAM, "--tol must be >= 0");
	if (!(p->learning_rate > 0) || !isfinite(p->learning_rate))
		return dml_fail(err, DML_EPARAM,
				"--learning-rate must be > 0");
	if (p->memory < 1 || p->memory > 1000)
		return dml_fail(err, DML_EPARAM,
				"L-BFGS memory must be 1..1000");
	if (p->batch < 1)
		return dml_fail(err, DML_EPARAM, "--batch must be >= 1");
	if (p->optimizer > DML_OPT_ADAM)
		return dml_fail(err, DML_EPARAM, "unknown optimizer");
	return DML_OK;
}

static void params_write(struct dml_buf *b, const struct dml_params *p)
{
	uint64_t u;
	dml_buf_section(b, DML_SEC_PARAMS, 0);
#define REAL(k, v) do { memcpy(&u, &(v), 8); dml_buf_u32(b, k); \
	dml_buf_u32(b, 1); dml_buf_u64(b, u); } while (0)
#define INT(k, v) do { dml_buf_u32(b, k); dml_buf_u32(b, 0); \
	dml_buf_u64(b, (uint64_t)(v)); } while (0)
	REAL(P_L2, p->l2);
	INT(P_OPTIMIZER, p->optimizer);
	INT(P_MAX_ITER, p->max_iter);
	REAL(P_TOL, p->tol);
	INT(P_MEMORY, p->memory);
	INT(P_EPOCHS, p->epochs);
	REAL(P_LEARNING_RATE, p->learning_rate);
	INT(P_BATCH, p->batch);
	INT(P_SEED, p->seed);
	INT(P_WARM_START, p->warm_start);
	if (p->l1 != 0)
		REAL(P_L1, p->l1);
	if (p->solver)
		INT(P_SOLVER, p->solver);
	if (p->schedule)
		INT(P_SCHEDULE, p->schedule);
	if (p->holdout != 0)
		REAL(P_HOLDOUT, p->holdout);
#undef REAL
#undef INT
	dml_buf_end(b);
}

static enum dml_err params_read(const struct dml_record *rec,
				struct dml_params *p, struct dml_error *err)
{
	struct dml_section sec;
	dml_params_default(p);
	if (!dml_record_find(rec, DML_SEC_PARAMS, &sec))
		return dml_fail(err, DML_EFORMAT, "no parameters section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	while (c.left && !c.bad) {
		uint32_t key = dml_cur_u32(&c), type = dml_cur_u32(&c);
		uint64_t u = dml_cur_u64(&c);
		double v;
		memcpy(&v, &u, 8);
		if (type > 1)
			c.bad = 1;
		switch (key) {
		case P_L2: p->l2 = v; break;
		case P_OPTIMIZER: p->optimizer = (uint32_t)u; break;
		case P_MAX_ITER: p->max_iter = (uint32_t)u; break;
		case P_TOL: p->tol = v; break;
		case P_MEMORY: p->memory = (uint32_t)u; break;
		case P_EPOCHS: p->epochs = (uint32_t)u; break;
		case P_LEARNING_RATE: p->learning_rate = v; break;
		case P_BATCH: p->batch = (uint32_t)u; break;
		case P_SEED: p->seed = u; break;
		case P_WARM_START: p->warm_start = (uint32_t)u; break;
		case P_L1: p->l1 = v; break;
		case P_SOLVER: p->solver = (uint32_t)u; break;
		case P_SCHEDULE: p->schedule = (uint32_t)u; break;
		case P_HOLDOUT: p->holdout = v; break;
		default: break; /* a newer parameter: ignored */
		}
	}
	if (c.bad)
		return dml_fail(err, DML_EFORMAT, "malformed parameters");
	struct dml_error e2;
	if (dml_params_check(p, &e2))
		return dml_fail(err, DML_EFORMAT, "bad parameter: %s",
				e2.detail);
	return DML_OK;
}

/* ---- leaves ---- */

void dml_leaves_free(struct dml_leaves *l)
{
	free(l->id);
	memset(l, 0, sizeof *l);
}

enum dml_err dml_leaves_set1(struct dml_leaves *l, uint64_t id)
{
	dml_leaves_free(l);
	l->id = malloc(sizeof *l->id);
	if (!l->id)
		return DML_ENOMEM;
	l->id[0] = id;
	l->n = 1;
	return DML_OK;
}

enum dml_err dml_leaves_merge(struct dml_leaves *dst,
			      const struct dml_leaves *src,
			      struct dml_error *err)
{
	uint64_t n = dst->n + src->n;
	uint64_t *out = malloc((n ? n : 1) * sizeof *out);
	if (!out)
		return dml_fail(err, DML_ENOMEM, NULL);
	uint64_t i = 0, j = 0, k = 0;
	while (i < dst->n || j < src->n) {
		if (i < dst->n && j < src->n && dst->id[i] == src->id[j]) {
			free(out);
			return dml_fail(err, DML_EDUPLICATE,
					"leaf %016llx is counted twice (the "
					"same shard reduced more than once)",
					(unsigned long long)dst->id[i]);
		}
		if (j >= src->n || (i < dst->n && dst->id[i] < src->id[j]))
			out[k++] = dst->id[i++];
		else
			out[k++] = src->id[j++];
	}
	free(dst->id);
	dst->id = out;
	dst->n = k;
	return DML_OK;
}

int dml_leaves_equal(const struct dml_leaves *a, const struct dml_leaves *b)
{
	return a->n == b->n &&
	       (a->n == 0 || !memcmp(a->id, b->id, a->n * sizeof *a->id));
}

void dml_leaves_write(struct dml_buf *b, const struct dml_leaves *l)
{
	dml_buf_section(b, DML_SEC_LEAVES, 0);
	dml_buf_u64(b, l->n);
	for (uint64_t i = 0; i < l->n; i++)
		dml_buf_u64(b, l->id[i]);
	dml_buf_end(b);
}

enum dml_err dml_leaves_read(const struct dml_record *rec,
			     struct dml_leaves *l, struct dml_error *err)
{
	struct dml_section sec;
	memset(l, 0, sizeof *l);
	if (!dml_record_find(rec, DML_SEC_LEAVES, &sec))
		return dml_fail(err, DML_EFORMAT, "no leaves section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	uint64_t n = dml_cur_u64(&c);
	if (c.bad || n != c.left / 8 || c.left % 8)
		return dml_fail(err, DML_EFORMAT, "malformed leaves section");
	l->id = malloc((n ? n : 1) * sizeof *l->id);
	if (!l->id)
		return dml_fail(err, DML_ENOMEM, NULL);
	l->n = n;
	for (uint64_t i = 0; i < n; i++) {
		l->id[i] = dml_cur_u64(&c);
		if (i && l->id[i] <= l->id[i - 1]) {
			dml_leaves_free(l);
			return dml_fail(err, DML_EFORMAT,
					"leaves not sorted or repeated");
		}
	}
	if (n != rec->h.contributions) {
		dml_leaves_free(l);
		return dml_fail(err, DML_EFORMAT,
				"%llu lea%s for %llu contributions",
				(unsigned long long)n, n == 1 ? "f" : "ves",
				(unsigned long long)rec->h.contributions);
	}
	return DML_OK;
}

/* ---- exact sums section ---- */

static void sums_write(struct dml_buf *b, const struct dml_fx *s, uint64_t n)
{
	dml_buf_section(b, DML_SEC_SUMS, 0);
	dml_buf_u64(b, n);
	unsigned char *p = dml_buf_reserve(b, (size_t)n * DML_FX_BYTES);
	if (p)
		for (uint64_t i = 0; i < n; i++)
			dml_fx_store(p + i * DML_FX_BYTES, &s[i]);
	dml_buf_end(b);
}

/* The sums section: n values at *bytes, not copied. */
static enum dml_err sums_find(const struct dml_record *rec, uint64_t expect,
			      const unsigned char **bytes, uint64_t *count,
			      struct dml_error *err)
{
	struct dml_section sec;
	if (!dml_record_find(rec, DML_SEC_SUMS, &sec))
		return dml_fail(err, DML_EFORMAT, "no sums section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	uint64_t n = dml_cur_u64(&c);
	if (c.bad || c.left / DML_FX_BYTES != n || c.left % DML_FX_BYTES)
		return dml_fail(err, DML_EFORMAT, "malformed sums section");
	if (expect && n != expect)
		return dml_fail(err, DML_EFORMAT,
				"sums section holds %llu values, expected "
				"%llu",
				(unsigned long long)n,
				(unsigned long long)expect);
	*bytes = dml_cur_bytes(&c, n * DML_FX_BYTES);
	*count = n;
	return DML_OK;
}

static enum dml_err sums_read(const struct dml_record *rec, uint64_t expect,
			      struct dml_fx **out, uint64_t *count,
			      struct dml_error *err)
{
	const unsigned char *p;
	uint64_t n;
	enum dml_err rc = sums_find(rec, expect, &p, &n, err);
	if (rc)
		return rc;
	struct dml_fx *s = malloc((n ? n : 1) * sizeof *s);
	if (!s)
		return dml_fail(err, DML_ENOMEM, NULL);
	for (uint64_t i = 0; i < n; i++)
		dml_fx_load(&s[i], p + i * DML_FX_BYTES);
	*out = s;
	*count = n;
	return DML_OK;
}

/* ---- statistics ---- */

void dml_stats_free(struct dml_stats *s)
{
	dml_schema_free(&s->schema);
	dml_labels_free(&s->labels);
	free(s->sums);
	free(s->min);
	free(s->max);
	free(s->tsums);
	free(s->xprod);
	dml_leaves_free(&s->leaves);
	memset(s, 0, sizeof *s);
}

enum dml_err dml_stats_begin(struct dml_stats *s,
			     const struct dml_schema *schema,
			     struct dml_error *err)
{
	memset(s, 0, sizeof *s);
	uint32_t nf = schema->nfeat;
	if (dml_schema_copy(&s->schema, schema))
		return dml_fail(err, DML_ENOMEM, NULL);
	s->sums = calloc(2 * (size_t)nf + 1, sizeof *s->sums);
	s->min = calloc((size_t)nf + 1, sizeof *s->min);
	s->max = calloc((size_t)nf + 1, sizeof *s->max);
	if (!s->sums || !s->min || !s->max) {
		dml_stats_free(s);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	s->contributions = 1;
	return DML_OK;
}

/* Doubles as integers in the order of dml_range_add (-0 below +0): the
 * bits of a negative number with all but the sign flipped.  A min and a
 * max of keys need no branch per value. */
static inline int64_t range_key(double v)
{
	int64_t b;
	memcpy(&b, &v, sizeof b);
	return b ^ (int64_t)((uint64_t)(b >> 63) >> 1);
}

static inline double range_value(int64_t k)
{
	int64_t b = k ^ (int64_t)((uint64_t)(k >> 63) >> 1);
	double v;
	memcpy(&v, &b, sizeof v);
	return v;
}

/* Sums, sums of squares and range keys of nr rows, added to part
 * (2 nf) and lo, hi (nf each). */
DML_WIDE static void stats_block(double *restrict part, int64_t *restrict lo,
				 int64_t *restrict hi, const double *x,
				 uint64_t nr, uint32_t nf)
{
	double *restrict sq = part + nf;
	for (uint64_t r = 0; r < nr; r++) {
		const double *xr = x + r * nf;
		for (uint32_t j = 0; j < nf; j++) {
			part[j] += xr[j];
			sq[j] += xr[j] * xr[j];
		}
		for (uint32_t j = 0; j < nf; j++) {
			int64_t k = range_key(xr[j]);
			lo[j] = k < lo[j] ? k : lo[j];
			hi[j] = k > hi[j] ? k : hi[j];
		}
	}
}

enum dml_err dml_stats_rows(struct dml_stats *s, const double *x,
			    const uint32_t *y, uint64_t n, uint32_t nlabels,
			    struct dml_error *err)
{
	uint32_t nf = s->schema.nfeat;
	/* counts has labels.n + 1 entries: rows of a data set without
	 * labels (a regression's) have id 0 */
	if (!s->labels.counts || nlabels > s->labels.n) {
		size_t had = s->labels.counts ? (size_t)s->labels.n + 1 : 0;
		uint64_t *c = realloc(s->labels.counts,
				      ((size_t)nlabels + 1) * sizeof *c);
		if (!c)
			return dml_fail(err, DML_ENOMEM, NULL);
		memset(c + had, 0, ((size_t)nlabels + 1 - had) * sizeof *c);
		s->labels.counts = c;
		s->labels.n = nlabels;
	}
	for (uint64_t r = 0; r < n; r++)
		s->labels.counts[y[r]]++;
	if (n && s->samples == 0)
		for (uint32_t j = 0; j < nf; j++)
			s->min[j] = s->max[j] = x[j];
	double *part = malloc((2 * (size_t)nf + 1) * sizeof *part);
	int64_t *lo = malloc((2 * (size_t)nf + 1) * sizeof *lo), *hi = lo + nf;
	if (!part || !lo) {
		free(part);
		free(lo);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	for (uint32_t j = 0; j < nf; j++) {
		lo[j] = range_key(s->min[j]);
		hi[j] = range_key(s->max[j]);
	}
	/* blocks of BLOCK rows counted from the first row of all: the sums
	 * do not depend on how the rows arrive */
	for (uint64_t r0 = 0; r0 < n;) {
		uint64_t room = BLOCK - s->samples % BLOCK;
		uint64_t r1 = n - r0 < room ? n : r0 + room;
		memset(part, 0, 2 * (size_t)nf * sizeof *part);
		stats_block(part, lo, hi, x + r0 * nf, r1 - r0, nf);
		s->samples += r1 - r0;
		r0 = r1;
		if (dml_fx_add_doubles(s->sums, part, 2 * (size_t)nf)) {
			free(part);
			free(lo);
			return dml_fail(err, DML_ERANGE,
					"feature values too large to sum "
					"exactly (|sum| must stay below "
					"2^95)");
		}
	}
	for (uint32_t j = 0; j < nf; j++) {
		s->min[j] = range_value(lo[j]);
		s->max[j] = range_value(hi[j]);
	}
	free(lo);
	free(part);
	return DML_OK;
}

enum dml_err dml_stats_end(struct dml_stats *s, const struct dml_data *d,
			   struct dml_error *err)
{
	uint32_t nl = d->labels.n;
	enum dml_err rc = dml_stats_rows(s, NULL, NULL, 0, nl, err);
	if (rc)
		return rc;
	s->labels.names = calloc((size_t)nl + 1, sizeof *s->labels.names);
	if (!s->labels.names)
		return dml_fail(err, DML_ENOMEM, NULL);
	for (uint32_t i = 0; i < nl; i++)
		if (!(s->labels.names[i] = strdup(d->labels.s[i])))
			return dml_fail(err, DML_ENOMEM, NULL);
	dml_labels_sort(&s->labels);
	if (dml_leaves_set1(&s->leaves, dml_data_leaf(d)))
		return dml_fail(err, DML_ENOMEM, NULL);
	return DML_OK;
}

enum dml_err dml_stats_from_data(struct dml_stats *s,
				 const struct dml_data *d,
				 struct dml_error *err)
{
	enum dml_err rc = dml_stats_begin(s, &d->schema, err);
	if (rc)
		return rc;
	if (d->q) {
		/* rows as bytes: as doubles a block at a time (the sums are
		 * exact, so the blocks do not change them) */
		uint32_t nf = d->schema.nfeat;
		double *b = malloc((size_t)BLOCK * nf * sizeof *b + 1);
		if (!b)
			rc = dml_fail(err, DML_ENOMEM, NULL);
		for (uint64_t r0 = 0; !rc && r0 < d->n; r0 += BLOCK) {
			uint64_t nr = d->n - r0 < BLOCK ? d->n - r0 : BLOCK;
			dml_rows_from_bytes(d->q + r0 * nf, (size_t)nr * nf, b);
			rc = dml_stats_rows(s, b, d->y + r0, nr, d->labels.n,
					    err);
		}
		free(b);
	} else {
		rc = dml_stats_rows(s, d->x, d->y, d->n, d->labels.n, err);
	}
	if (rc || (rc = dml_stats_end(s, d, err)))
		dml_stats_free(s);
	return rc;
}

enum dml_err dml_stats_encode(const struct dml_stats *s, struct dml_buf *b)
{
	dml_buf_init(b);
	dml_schema_write(b, &s->schema);
	dml_labels_write(b, &s->labels);
	sums_write(b, s->sums, 2 * (uint64_t)s->schema.nfeat);
	dml_buf_section(b, DML_SEC_RANGE, 0);
	dml_buf_u32(b, s->schema.nfeat);
	dml_buf_u32(b, 0);
	dml_buf_f64s(b, s->min, s->schema.nfeat);
	dml_buf_f64s(b, s->max, s->schema.nfeat);
	if (s->ntsums) {
		dml_buf_section(b, DML_SEC_TARGET, 0);
		dml_buf_u64(b, s->ntsums);
		unsigned char *p = dml_buf_reserve(b, (size_t)s->ntsums *
						   DML_FX_BYTES);
		for (uint64_t i = 0; p && i < s->ntsums; i++)
			dml_fx_store(p + i * DML_FX_BYTES, &s->tsums[i]);
		dml_buf_end(b);
	}
	if (s->xprod) {
		uint64_t nf = s->schema.nfeat, nx = nf * (nf + 1) / 2;
		dml_buf_section(b, DML_SEC_XPROD, 0);
		dml_buf_u64(b, nx);
		unsigned char *p = dml_buf_reserve(b, (size_t)nx *
						   DML_FX_BYTES);
		for (uint64_t i = 0; p && i < nx; i++)
			dml_fx_store(p + i * DML_FX_BYTES, &s->xprod[i]);
		dml_buf_end(b);
	}
	dml_leaves_write(b, &s->leaves);
	struct dml_header h = {
		.kind = DML_KIND_STATS, .family = s->family,
		.schema = s->schema.fingerprint, .samples = s->samples,
		.contributions = s->contributions,
	};
	return dml_buf_finish(b, &h);
}

static const uint32_t stats_known[] = {
	DML_SEC_SCHEMA, DML_SEC_LABELS, DML_SEC_SUMS, DML_SEC_RANGE,
	DML_SEC_LEAVES, DML_SEC_TARGET, DML_SEC_XPROD,
};

enum dml_err dml_stats_decode(const struct dml_record *rec,
			      struct dml_stats *s, struct dml_error *err)
{
	memset(s, 0, sizeof *s);
	enum dml_err rc;
	if (rec->h.kind != DML_KIND_STATS)
		return dml_fail(err, DML_EKIND, "expected a stats record, "
				"found %s %s record",
				dml_kind_article(rec->h.kind),
				dml_kind_name(rec->h.kind));
	if ((rc = dml_record_check_known(rec, stats_known, 7, err)))
		return rc;
	s->family = rec->h.family;
	s->samples = rec->h.samples;
	s->contributions = rec->h.contributions;
	uint64_t count;
	if ((rc = dml_schema_read(rec, &s->schema, err)) ||
	    (rc = dml_labels_read(rec, &s->labels, err)) ||
	    (rc = sums_read(rec, 0, &s->sums, &count, err)) ||
	    (rc = dml_leaves_read(rec, &s->leaves, err))) {
		dml_stats_free(s);
		return rc;
	}
	if (count != 2 * (uint64_t)s->schema.nfeat) {
		uint32_t nfeat = s->schema.nfeat;
		dml_stats_free(s);
		return dml_fail(err, DML_EFORMAT,
				"stats hold %llu sums for %u features",
				(unsigned long long)count, nfeat);
	}
	struct dml_section sec;
	struct dml_cur c;
	uint32_t nf = s->schema.nfeat;
	if (!dml_record_find(rec, DML_SEC_RANGE, &sec)) {
		dml_stats_free(s);
		return dml_fail(err, DML_EFORMAT, "no range section");
	}
	dml_cur_init(&c, &sec);
	if (dml_cur_u32(&c) != nf || dml_cur_u32(&c) != 0 ||
	    c.left != 16 * (uint64_t)nf) {
		dml_stats_free(s);
		return dml_fail(err, DML_EFORMAT, "malformed range section");
	}
	s->min = malloc(((size_t)nf + 1) * sizeof *s->min);
	s->max = malloc(((size_t)nf + 1) * sizeof *s->max);
	if (!s->min || !s->max) {
		dml_stats_free(s);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	dml_cur_f64s(&c, s->min, nf);
	dml_cur_f64s(&c, s->max, nf);
	if (dml_record_find(rec, DML_SEC_TARGET, &sec)) {
		dml_cur_init(&c, &sec);
		uint64_t n = dml_cur_u64(&c);
		uint64_t full = 2 + nf + (uint64_t)nf * (nf + 1) / 2;
		if (c.bad || (n != 2 && n != full) ||
		    c.left != n * DML_FX_BYTES) {
			dml_stats_free(s);
			return dml_fail(err, DML_EFORMAT,
					"malformed target section");
		}
		s->tsums = malloc((size_t)n * sizeof *s->tsums);
		if (!s->tsums) {
			dml_stats_free(s);
			return dml_fail(err, DML_ENOMEM, NULL);
		}
		const unsigned char *p = dml_cur_bytes(&c, n * DML_FX_BYTES);
		for (uint64_t i = 0; i < n; i++)
			dml_fx_load(&s->tsums[i], p + i * DML_FX_BYTES);
		s->ntsums = n;
	}
	for (uint32_t j = 0; j < nf; j++)
		if (!isfinite(s->min[j]) || !isfinite(s->max[j]) ||
		    s->min[j] > s->max[j]) {
			dml_stats_free(s);
			return dml_fail(err, DML_EFORMAT,
					"malformed range section");
		}
	if (dml_record_find(rec, DML_SEC_XPROD, &sec)) {
		uint64_t nx = (uint64_t)nf * (nf + 1) / 2;
		dml_cur_init(&c, &sec);
		if (dml_cur_u64(&c) != nx || c.left != nx * DML_FX_BYTES) {
			dml_stats_free(s);
			return dml_fail(err, DML_EFORMAT,
					"malformed cross products section");
		}
		s->xprod = malloc((nx + 1) * sizeof *s->xprod);
		if (!s->xprod) {
			dml_stats_free(s);
			return dml_fail(err, DML_ENOMEM, NULL);
		}
		const unsigned char *p = dml_cur_bytes(&c, nx * DML_FX_BYTES);
		for (uint64_t i = 0; i < nx; i++)
			dml_fx_load(&s->xprod[i], p + i * DML_FX_BYTES);
	}
	return DML_OK;
}

/* ---- models ---- */

void dml_model_free(struct dml_model *m)
{
	dml_schema_free(&m->schema);
	dml_labels_free(&m->labels);
	free(m->mean);
	free(m->scale);
	free(m->w);
	free(m->raw_w);
	free(m->wsum);
	dml_opt_free(&m->opt);
	dml_leaves_free(&m->leaves);
	if (m->forest)
		dml_forest_free(m->forest);
	free(m->forest);
	memset(m, 0, sizeof *m);
}

uint64_t dml_model_nweights(const struct dml_model *m)
{
	if (m->family == DML_FAMILY_MLP)
		return dml_mlp_nweights(m);
	return (uint64_t)m->rows * m->nout;
}

static enum dml_err model_alloc(struct dml_model *m)
{
	size_t nf = m->schema.nfeat;
	m->rows = (uint32_t)nf + 1;
	m->mean = calloc(nf + 1, sizeof *m->mean);
	m->scale = calloc(nf + 1, sizeof *m->scale);
	m->w = calloc((size_t)dml_model_nweights(m) + 1, sizeof *m->w);
	if (!m->mean || !m->scale || !m->w)
		return DML_ENOMEM;
	return DML_OK;
}

enum dml_err dml_model_from_stats(struct dml_model *m,
				  const struct dml_stats *s, uint32_t family,
				  const struct dml_params *p,
				  struct dml_error *err)
{
	memset(m, 0, sizeof *m);
	enum dml_err rc;
	if ((rc = dml_params_check(p, err)))
		return rc;
	if (s->samples == 0)
		return dml_fail(err, DML_EEMPTY, "statistics of no rows");
	int mlp_reg = family == DML_FAMILY_MLP &&
		      p->output == DML_OUTPUT_LINEAR;
	if (!dml_family_is_regression(family) && !mlp_reg && s->ntsums)
		return dml_fail(err, DML_ELABELS,
				"statistics of a regression target given to "
				"a %s model%s", dml_family_name(family),
				family == DML_FAMILY_MLP
				? " (use --task regression)" : "");
	if (family == DML_FAMILY_LOGISTIC && s->labels.n != 2)
		return dml_fail(err, DML_ELABELS,
				"logistic regression needs exactly 2 classes, "
				"found %u%s", s->labels.n,
				s->labels.n > 2 ? " (use -a softmax)" : "");
	if (family == DML_FAMILY_SOFTMAX && s->labels.n < 2)
		return dml_fail(err, DML_ELABELS,
				"softmax regression needs at least 2 classes, "
				"found %u", s->labels.n);
	if (dml_family_is_regression(family) &&
	    (s->labels.n || s->ntsums < 2))
		return dml_fail(err, DML_ELABELS,
				"%s regression needs statistics of a numeric "
				"target (make them with -a %s)",
				dml_family_name(family),
				dml_family_name(family));
	if (dml_family_is_margin(family) && s->labels.n < 2)
		return dml_fail(err, DML_ELABELS,
				"%s needs at least 2 classes, found %u",
				dml_family_name(family), s->labels.n);
	if (p->l1 > 0 && family != DML_FAMILY_LINEAR &&
	    family != DML_FAMILY_LOGISTIC && family != DML_FAMILY_SOFTMAX &&
	    family != DML_FAMILY_SQUARED_HINGE)
		return dml_fail(err, DML_EPARAM, "--l1 is not supported for "
				"%s models", dml_family_name(family));
	if (p->solver == DML_SOLVER_NORMAL && family != DML_FAMILY_LINEAR)
		return dml_fail(err, DML_EPARAM, "--solver normal is for "
				"-a linear only");
	if (family == DML_FAMILY_MLP && !mlp_reg && s->labels.n < 2)
		return dml_fail(err, DML_ELABELS,
				"an mlp classifier needs at least 2 classes, "
				"found %u", s->labels.n);
	if (family != DML_FAMILY_LOGISTIC && family != DML_FAMILY_SOFTMAX &&
	    family != DML_FAMILY_MLP &&
	    !dml_family_is_regression(family) && !dml_family_is_margin(family))
		return dml_fail(err, DML_EPARAM, "unknown model family");
	m->family = family;
	m->params = *p;
	m->nout = mlp_reg ? 1 : dml_family_nout(family, s->labels.n);
	if (dml_schema_copy(&m->schema, &s->schema))
		goto oom;
	if (family == DML_FAMILY_MLP && ((rc = dml_mlp_check(m, err)) ||
	    (mlp_reg && (rc = dml_mlp_target(m, s, err))))) {
		dml_model_free(m);
		return rc;
	}
	m->labels.n = s->labels.n;
	m->labels.names = calloc(s->labels.n, sizeof *m->labels.names);
	m->labels.counts = calloc(s->labels.n, sizeof *m->labels.counts);
	if (!m->labels.names || !m->labels.counts)
		goto oom;
	for (uint32_t i = 0; i < s->labels.n; i++) {
		if (!(m->labels.names[i] = strdup(s->labels.names[i])))
			goto oom;
		m->labels.counts[i] = s->labels.counts[i];
	}
	if (model_alloc(m))
		goto oom;
	uint32_t nf = m->schema.nfeat;
	double n = (double)s->samples;
	for (uint32_t j = 0; j < nf; j++) {
		long double s1 = dml_fx_to_double(&s->sums[j]);
		long double s2 = dml_fx_to_double(&s->sums[nf + j]);
		double mean = (double)(s1 / n);
		double var = (double)((s2 - s1 * s1 / n) / n);
		double sd = var > 0 ? sqrt(var) : 0;
		m->mean[j] = mean;
		/* A constant feature (known exactly from its range) carries
		 * no information: weight 0.  Rounding can leave a tiny
		 * variance where the range is not empty: fall back on it. */
		if (s->min[j] == s->max[j])
			m->scale[j] = 0;
		else if (sd > 1e-9 * (s->max[j] - s->min[j]))
			m->scale[j] = 1 / sd;
		else
			m->scale[j] = 2 / (s->max[j] - s->min[j]);
		/* a spread too small to scale (subnormal): treat as constant */
		if (!isfinite(m->scale[j]) || !isfinite(m->mean[j]))
			m->scale[j] = 0;
		if (!isfinite(m->mean[j]))
			m->mean[j] = 0;
	}
	if (family == DML_FAMILY_MLP)
		dml_mlp_init(m);
	if (dml_opt_init(&m->opt, family == DML_FAMILY_MLP
			 ? dml_mlp_opt_method(p->optimizer)
			 : dml_opt_is_stochastic(p->optimizer) ? DML_OPT_GD
								: p->optimizer,
			 dml_model_nweights(m), p->memory, m->w))
		goto oom;
	if (dml_family_is_regression(family)) /* start at the mean */
		m->w[nf] = m->opt.trial[nf] =
			dml_fx_to_double(&s->tsums[0]) / n;
	m->samples = s->samples;
	m->contributions = s->contributions;
	m->leaves.id = malloc((s->leaves.n + 1) * sizeof *m->leaves.id);
	if (!m->leaves.id)
		goto oom;
	m->leaves.n = s->leaves.n;
	memcpy(m->leaves.id, s->leaves.id, s->leaves.n * sizeof *m->leaves.id);
	return DML_OK;
oom:
	dml_model_free(m);
	return dml_fail(err, DML_ENOMEM, NULL);
}

enum dml_err dml_model_encode(const struct dml_model *m, struct dml_buf *b)
{
	uint32_t nf = m->schema.nfeat;
	if (m->forest)
		return dml_treemodel_encode(m, b);
	dml_buf_init(b);
	dml_schema_write(b, &m->schema);
	dml_labels_write(b, &m->labels);
	params_write(b, &m->params);
	dml_buf_section(b, DML_SEC_SCALER, 0);
	dml_buf_u32(b, nf);
	dml_buf_u32(b, 0);
	dml_buf_f64s(b, m->mean, nf);
	dml_buf_f64s(b, m->scale, nf);
	if (m->family == DML_FAMILY_MLP)
		dml_mlp_write(b, m);
	dml_buf_section(b, DML_SEC_WEIGHTS, 0);
	/* an mlp: one column of all its layers' weights */
	dml_buf_u32(b, m->family == DML_FAMILY_MLP
		       ? (uint32_t)dml_model_nweights(m) : m->rows);
	dml_buf_u32(b, m->family == DML_FAMILY_MLP ? 1 : m->nout);
	dml_buf_f64s(b, m->w, (size_t)dml_model_nweights(m));
	dml_opt_write(b, &m->opt);
	dml_leaves_write(b, &m->leaves);
	if (m->wsum) {
		uint64_t nw = dml_model_nweights(m);
		dml_buf_section(b, DML_SEC_SUMS, DML_SECF_OPTIONAL);
		dml_buf_u64(b, nw);
		unsigned char *p = dml_buf_reserve(b, (size_t)nw *
						   DML_FX_BYTES);
		for (uint64_t i = 0; p && i < nw; i++)
			dml_fx_store(p + i * DML_FX_BYTES, &m->wsum[i]);
		dml_buf_end(b);
	}
	struct dml_header h = {
		.kind = DML_KIND_MODEL, .family = m->family,
		.schema = m->schema.fingerprint, .iteration = m->iteration,
		.samples = m->samples, .contributions = m->contributions,
	};
	return dml_buf_finish(b, &h);
}

static const uint32_t model_known[] = {
	DML_SEC_SCHEMA, DML_SEC_LABELS, DML_SEC_PARAMS, DML_SEC_SCALER,
	DML_SEC_WEIGHTS, DML_SEC_OPTIM, DML_SEC_LEAVES, DML_SEC_LAYERS,
};

enum dml_err dml_model_decode(const struct dml_record *rec,
			      struct dml_model *m, struct dml_error *err)
{
	memset(m, 0, sizeof *m);
	enum dml_err rc;
	if (rec->h.kind != DML_KIND_MODEL)
		return dml_fail(err, DML_EKIND, "expected a model record, "
				"found %s %s record",
				dml_kind_article(rec->h.kind),
				dml_kind_name(rec->h.kind));
	if (rec->h.family == DML_FAMILY_TREE ||
	    rec->h.family == DML_FAMILY_FOREST)
		return dml_treemodel_decode(rec, m, err);
	if (rec->h.family == DML_FAMILY_KMEANS)
		return dml_fail(err, DML_EUNSUPPORTED, "a kmeans model, not "
				"a linear one (logistic or softmax)");
	if (rec->h.family >= DML_FAMILY_SCALER &&
	    rec->h.family <= DML_FAMILY_PCA)
		return dml_fail(err, DML_EUNSUPPORTED,
				"a %s model is made from statistics: it takes "
				"no gradient steps and is not averaged (reduce "
				"--emit stats records and --apply them with "
				"-a %s)", dml_family_name(rec->h.family),
				dml_family_name(rec->h.family));
	if (rec->h.family != DML_FAMILY_LOGISTIC &&
	    rec->h.family != DML_FAMILY_SOFTMAX &&
	    rec->h.family != DML_FAMILY_MLP &&
	    !dml_family_is_regression(rec->h.family) &&
	    !dml_family_is_margin(rec->h.family))
		return dml_fail(err, DML_EUNSUPPORTED,
				"unknown model family %u", rec->h.family);
	if ((rc = dml_record_check_known(rec, model_known,
					 rec->h.family == DML_FAMILY_MLP ? 8
									 : 7,
					 err)))
		return rc;
	m->family = rec->h.family;
	m->iteration = rec->h.iteration;
	m->samples = rec->h.samples;
	m->contributions = rec->h.contributions;
	if ((rc = dml_schema_read(rec, &m->schema, err)) ||
	    (rc = dml_labels_read(rec, &m->labels, err)) ||
	    (rc = params_read(rec, &m->params, err)) ||
	    (rc = dml_leaves_read(rec, &m->leaves, err)))
		goto fail;
	uint32_t want_out = dml_family_nout(m->family, m->labels.n);
	/* a regression mlp has no classes: dml_mlp_read checks it */
	if (!(m->family == DML_FAMILY_MLP && m->labels.n == 0) &&
	    (dml_family_is_regression(m->family) ? m->labels.n != 0
	    : ((m->family == DML_FAMILY_LOGISTIC && m->labels.n != 2) ||
	       m->labels.n < 2))) {
		rc = dml_fail(err, DML_EFORMAT, "%u classes for a %s model",
			      m->labels.n, dml_family_name(m->family));
		goto fail;
	}
	struct dml_section sec;
	struct dml_cur c;
	uint32_t nf = m->schema.nfeat;
	if (!dml_record_find(rec, DML_SEC_WEIGHTS, &sec)) {
		rc = dml_fail(err, DML_EFORMAT, "no weights section");
		goto fail;
	}
	dml_cur_init(&c, &sec);
	uint32_t rows = dml_cur_u32(&c), cols = dml_cur_u32(&c);
	if (m->family == DML_FAMILY_MLP) {
		if ((rc = dml_mlp_read(rec, m, err)))
			goto fail;
		want_out = 1;
		if (rows != dml_model_nweights(m)) {
			rc = dml_fail(err, DML_EFORMAT, "%u weights for layers "
				      "of %llu", rows, (unsigned long long)
				      dml_model_nweights(m));
			goto fail;
		}
		nf = rows - 1; /* so that the check below holds */
	}
	if (c.bad || rows != nf + 1 || cols != want_out ||
	    c.left != (uint64_t)rows * cols * 8) {
		rc = dml_fail(err, DML_EFORMAT,
			      "weights of %u x %u do not fit %u features "
			      "and %u outputs",
			      rows, cols, nf, want_out);
		goto fail;
	}
	nf = m->schema.nfeat;
	if (m->family != DML_FAMILY_MLP)
		m->nout = cols;
	if (model_alloc(m)) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto fail;
	}
	dml_cur_f64s(&c, m->w, dml_model_nweights(m));
	if (!dml_record_find(rec, DML_SEC_SCALER, &sec)) {
		rc = dml_fail(err, DML_EFORMAT, "no scaler section");
		goto fail;
	}
	dml_cur_init(&c, &sec);
	if (dml_cur_u32(&c) != nf || dml_cur_u32(&c) != 0 ||
	    c.left != 16 * (uint64_t)nf) {
		rc = dml_fail(err, DML_EFORMAT, "malformed scaler section");
		goto fail;
	}
	dml_cur_f64s(&c, m->mean, nf);
	dml_cur_f64s(&c, m->scale, nf);
	for (uint64_t i = 0; i < dml_model_nweights(m); i++)
		if (!isfinite(m->w[i])) {
			rc = dml_fail(err, DML_EFORMAT, "non-finite weight");
			goto fail;
		}
	for (uint32_t j = 0; j < nf; j++)
		if (!isfinite(m->mean[j]) || !isfinite(m->scale[j])) {
			rc = dml_fail(err, DML_EFORMAT, "non-finite scaler");
			goto fail;
		}
	if ((rc = dml_opt_read(rec, &m->opt, dml_model_nweights(m), err)))
		goto fail;
	if (dml_record_find(rec, DML_SEC_SUMS, &sec)) {
		uint64_t count;
		if ((rc = sums_read(rec, dml_model_nweights(m), &m->wsum,
				    &count, err)))
			goto fail;
	}
	return DML_OK;
fail:
	dml_model_free(m);
	return rc;
}

const double *dml_model_point(const struct dml_model *m)
{
	return m->opt.phase == DML_PHASE_DONE || !m->opt.trial ? m->w
							       : m->opt.trial;
}

void dml_model_standardize(const struct dml_model *m, double *x, uint64_t n)
{
	uint32_t nf = m->schema.nfeat;
	for (uint64_t r = 0; r < n; r++, x += nf)
		for (uint32_t j = 0; j < nf; j++)
			x[j] = (x[j] - m->mean[j]) * m->scale[j];
}

DML_WIDE void dml_model_standardize_bytes(const struct dml_model *m,
					  const uint8_t *q, uint64_t n,
					  double *out)
{
	uint32_t nf = m->schema.nfeat;
	const double *mu = m->mean, *sc = m->scale;
	for (uint64_t r = 0; r < n; r++, q += nf, out += nf)
		for (uint32_t j = 0; j < nf; j++)
			out[j] = ((double)q[j] - mu[j]) * sc[j];
}

static double softplus(double z)
{
	return z > 0 ? z + log1p(exp(-z)) : log1p(exp(z));
}

/* Every row of z (nr * nout) starts as the bias of w. */
static void bias_rows(const struct dml_model *m, const double *w,
		      uint64_t nr, double *z)
{
	uint32_t k = m->nout;
	const double *bias = w + (size_t)m->schema.nfeat * k;
	for (uint64_t r = 0; r < nr; r++)
		memcpy(z + r * k, bias, k * sizeof *z);
}

/* Scores z = x W + b for nr rows into z (nr * nout). */
static void scores(const struct dml_model *m, const double *w,
		   const double *x, uint64_t nr, double *z)
{
	uint32_t nf = m->schema.nfeat, k = m->nout;
	bias_rows(m, w, nr, z);
	if (nf == 0 || nr == 0)
		return;
	double one = 1.0;
	bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)nr, k, nf,
		  &one, (double *)x, nf, 1, (double *)w, k, 1, &one, z, k, 1);
}

/* In place: z -> residual (p - onehot); returns the block's loss sum. */
static double residual(const struct dml_model *m, double *z,
		       const uint32_t *y, const double *t, uint64_t nr)
{
	uint32_t k = m->nout;
	double loss = 0;
	if (m->family != DML_FAMILY_LOGISTIC &&
	    m->family != DML_FAMILY_SOFTMAX)
		return dml_linear_residual(m, z, y, t, nr);
	if (m->family == DML_FAMILY_LOGISTIC) {
		for (uint64_t r = 0; r < nr; r++) {
			double t = y[r] ? 1.0 : 0.0, v = z[r];
			loss += softplus(v) - t * v;
			z[r] = 1 / (1 + exp(-v)) - t;
		}
		return loss;
	}
	for (uint64_t r = 0; r < nr; r++) {
		double *v = z + r * k, mx = v[0], s = 0;
		for (uint32_t c = 1; c < k; c++)
			if (v[c] > mx)
				mx = v[c];
		for (uint32_t c = 0; c < k; c++)
			s += exp(v[c] - mx);
		double lse = mx + log(s);
		loss += lse - v[y[r]];
		for (uint32_t c = 0; c < k; c++)
			v[c] = exp(v[c] - lse);
		v[y[r]] -= 1;
	}
	return loss;
}

void dml_model_scores(const struct dml_model *m, const double *w,
		      const double *x, uint64_t nr, double *z)
{
	scores(m, w, x, nr, z);
}

double dml_model_residual(const struct dml_model *m, double *z,
			  const uint32_t *y, const double *t, uint64_t nr)
{
	return residual(m, z, y, t, nr);
}

/* One block of nr rows into g (1 + weights doubles); first: the block
 * that starts a chunk, which starts the sums. */
static void eval_block(const struct dml_model *m, const double *w,
		       const double *xb, const uint32_t *yb, const double *tb,
		       uint64_t nr, int first, double *z, double *g)
{
	uint32_t nf = m->schema.nfeat, k = m->nout;
	double *gw = g + 1, *gb = g + 1 + (size_t)nf * k;
	if (first) {
		g[0] = 0;
		memset(gb, 0, k * sizeof *gb);
	}
	scores(m, w, xb, nr, z);
	g[0] += residual(m, z, yb, tb, nr);
	double one = 1.0, beta = first ? 0.0 : 1.0;
	if (nf)
		bli_dgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, nf, k, (dim_t)nr,
			  &one, (double *)xb, nf, 1, z, k, 1, &beta, gw, k, 1);
	for (uint64_t r = 0; r < nr; r++)
		for (uint32_t c = 0; c < k; c++)
			gb[c] += z[r * k + c];
}

/* Sums of one chunk of rows [c0, c1) into g, block by block; rows of
 * bytes (m->xq) are standardized into xs (BLOCK rows) first. */
static void eval_chunk(const struct dml_model *m, const double *w,
		       const double *x, const uint32_t *y, uint64_t c0,
		       uint64_t c1, double *z, double *g, double *xs)
{
	uint32_t nf = m->schema.nfeat;
	for (uint64_t r0 = c0; r0 < c1; r0 += BLOCK) {
		uint64_t nr = c1 - r0 < BLOCK ? c1 - r0 : BLOCK;
		const double *xb = x + r0 * nf;
		if (m->xq) {
			dml_model_standardize_bytes(m, m->xq + r0 * nf, nr,
						    xs);
			xb = xs;
		}
		eval_block(m, w, xb, y ? y + r0 : NULL,
			   m->t ? m->t + r0 : NULL, nr, r0 == c0, z, g);
	}
}

struct eval_job {
	const struct dml_model *m;
	const double *w, *x;
	const uint32_t *y;
	uint64_t n;
	atomic_uint_fast64_t next; /* next chunk to take */
	atomic_int failed;
};

static enum dml_err eval_part(void *arg, struct dml_fx *acc)
{
	struct eval_job *j = arg;
	size_t nw = (size_t)dml_model_nweights(j->m);
	double *z = malloc((size_t)BLOCK * j->m->nout * sizeof *z);
	double *g = malloc((nw + 1) * sizeof *g);
	double *xs = j->m->xq ? malloc((size_t)BLOCK * j->m->schema.nfeat *
				       sizeof *xs + 1) : NULL;
	enum dml_err rc = DML_OK;
	if (!z || !g || (j->m->xq && !xs)) {
		rc = DML_ENOMEM;
		atomic_store(&j->failed, 1);
	}
	while (!rc && !atomic_load(&j->failed)) {
		uint64_t c = atomic_fetch_add(&j->next, 1);
		uint64_t c0 = c * CHUNK;
		if (c0 >= j->n)
			break;
		uint64_t c1 = j->n - c0 < CHUNK ? j->n : c0 + CHUNK;
		eval_chunk(j->m, j->w, j->x, j->y, c0, c1, z, g, xs);
		if (dml_fx_add_doubles(acc, g, nw + 1)) {
			rc = DML_ERANGE;
			atomic_store(&j->failed, 1);
		}
	}
	free(z);
	free(g);
	free(xs);
	return rc;
}

/* Chunks are handed to threads in any order; each thread sums exactly,
 * and the thread sums are added exactly: the same bits for any -j. */
enum dml_err dml_model_eval(const struct dml_model *m, const double *w,
			    const double *x, const uint32_t *y, uint64_t n,
			    struct dml_fx *acc, struct dml_error *err)
{
	if (m->family == DML_FAMILY_MLP)
		return dml_mlp_eval(m, w, x, y, n, acc, err);
	size_t nw = (size_t)dml_model_nweights(m);
	uint64_t nchunks = (n + CHUNK - 1) / CHUNK;
	uint32_t nt = m->threads ? m->threads : 1;
	if (nt > nchunks)
		nt = nchunks ? (uint32_t)nchunks : 1;
	struct eval_job job = { .m = m, .w = w, .x = x, .y = y, .n = n };
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, 0);
	enum dml_err rc = dml_parsum(nt, nw + 1, acc, eval_part, &job);
	if (rc == DML_ENOMEM)
		return dml_fail(err, rc, NULL);
	if (rc)
		return dml_fail(err, DML_ERANGE,
				"loss or gradient out of range (diverged?)");
	return DML_OK;
}

enum dml_err dml_model_eval_begin(struct dml_eval_stream *s,
				  const struct dml_model *m, const double *w,
				  struct dml_fx *acc, struct dml_error *err)
{
	memset(s, 0, sizeof *s);
	size_t nw = (size_t)dml_model_nweights(m);
	s->m = m;
	s->w = w;
	s->acc = acc;
	s->z = malloc((size_t)BLOCK * m->nout * sizeof *s->z + 1);
	s->g = malloc((nw + 1) * sizeof *s->g);
	if (!s->z || !s->g) {
		dml_model_eval_free(s);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	return DML_OK;
}

static enum dml_err eval_add(struct dml_eval_stream *s, struct dml_error *err)
{
	size_t nw = (size_t)dml_model_nweights(s->m);
	if (dml_fx_add_doubles(s->acc, s->g, nw + 1))
		return dml_fail(err, DML_ERANGE,
				"loss or gradient out of range (diverged?)");
	return DML_OK;
}

/* Rows arrive in blocks counted from the first row, so the blocks and
 * chunks, and so the bits of the sums, are those of dml_model_eval. */
enum dml_err dml_model_eval_rows(struct dml_eval_stream *s, const double *x,
				 const uint32_t *y, uint64_t n,
				 struct dml_error *err)
{
	uint32_t nf = s->m->schema.nfeat;
	while (n) {
		uint64_t pos = s->rows % CHUNK;
		uint64_t nr = BLOCK - pos % BLOCK;
		if (nr > n)
			nr = n;
		eval_block(s->m, s->w, x, y, NULL, nr, pos == 0, s->z, s->g);
		x += nr * nf;
		y += nr;
		n -= nr;
		s->rows += nr;
		if (s->rows % CHUNK == 0) {
			enum dml_err rc = eval_add(s, err);
			if (rc)
				return rc;
		}
	}
	return DML_OK;
}

enum dml_err dml_model_eval_end(struct dml_eval_stream *s,
				struct dml_error *err)
{
	enum dml_err rc = s->rows % CHUNK ? eval_add(s, err) : DML_OK;
	dml_model_eval_free(s);
	return rc;
}

void dml_model_eval_free(struct dml_eval_stream *s)
{
	free(s->z);
	free(s->g);
	s->z = s->g = NULL;
}

void dml_model_objective(const struct dml_model *m, const double *w,
			 const struct dml_fx *acc, uint64_t n, double *f,
			 double *g)
{
	if (m->family == DML_FAMILY_MLP) {
		dml_mlp_objective(m, w, acc, n, f, g);
		return;
	}
	size_t nw = (size_t)dml_model_nweights(m);
	size_t nreg = (size_t)m->schema.nfeat * m->nout; /* not the bias */
	double inv = n ? 1.0 / (double)n : 0.0, pen = 0;
	for (size_t i = 0; i < nw; i++)
		g[i] = dml_fx_to_double(&acc[1 + i]) * inv;
	double pen1 = 0;
	for (size_t i = 0; i < nreg; i++) {
		pen += w[i] * w[i];
		pen1 += fabs(w[i]);
		g[i] += m->params.l2 * w[i];
	}
	/* the L1 term is in f only: OWL-QN makes its pseudo-gradient */
	*f = dml_fx_to_double(&acc[0]) * inv + 0.5 * m->params.l2 * pen +
	     m->params.l1 * pen1;
}

enum dml_err dml_model_fold(struct dml_model *m)
{
	if (m->family == DML_FAMILY_MLP)
		return dml_mlp_fold(m);
	uint32_t nf = m->schema.nfeat, k = m->nout;
	free(m->raw_w);
	m->raw_w = malloc(((size_t)dml_model_nweights(m) + 1) *
			  sizeof *m->raw_w);
	if (!m->raw_w)
		return DML_ENOMEM;
	/* w . ((x - mean) * scale) + b = (w * scale) . x + (b - sum) */
	double *bias = m->raw_w + (size_t)nf * k;
	memcpy(bias, m->w + (size_t)nf * k, k * sizeof *bias);
	for (uint32_t j = 0; j < nf; j++)
		for (uint32_t c = 0; c < k; c++) {
			double wj = m->w[(size_t)j * k + c] * m->scale[j];
			m->raw_w[(size_t)j * k + c] = wj;
			bias[c] -= wj * m->mean[j];
		}
	return DML_OK;
}

static void proba_with(const struct dml_model *m, const double *w,
		       const double *x, uint64_t n, double *p);

void dml_model_proba_raw(const struct dml_model *m, const double *x,
			 uint64_t n, double *p)
{
	proba_with(m, m->raw_w, x, n, p);
}

void dml_model_proba(const struct dml_model *m, const double *x, uint64_t n,
		     double *p)
{
	proba_with(m, m->w, x, n, p);
}

/* The scores as scores() gives them (dml_gemm_add: the same bits). */
static void predict_scores(const struct dml_model *m, const double *w,
			   const double *x, uint64_t nr, double *z)
{
	bias_rows(m, w, nr, z);
	dml_gemm_add(nr, m->nout, m->schema.nfeat, x, w, z);
}

static void proba_with(const struct dml_model *m, const double *w,
		       const double *x, uint64_t n, double *p)
{
	if (m->family == DML_FAMILY_MLP) {
		dml_mlp_proba(m, w, x, n, p);
		return;
	}
	uint32_t k = m->nout, nc = m->labels.n ? m->labels.n : 1;
	for (uint64_t r0 = 0; r0 < n; r0 += BLOCK) {
		uint64_t nr = n - r0 < BLOCK ? n - r0 : BLOCK;
		double z[BLOCK * 16], *zz = z;
		double *heap = NULL;
		if (k > 16)
			zz = heap = malloc((size_t)BLOCK * k * sizeof *zz);
		if (!zz)
			return;
		predict_scores(m, w, x + r0 * m->schema.nfeat, nr, zz);
		for (uint64_t r = 0; r < nr; r++) {
			double *out = p + (r0 + r) * nc;
			if (dml_family_is_regression(m->family)) {
				out[0] = zz[r]; /* the prediction */
				continue;
			}
			/* margin classifiers: a monotone map of the
			 * scores, so the most likely class is the best
			 * scored one (not probabilities) */
			if (k == 1) {
				double s = 1 / (1 + exp(-zz[r]));
				out[0] = 1 - s;
				out[1] = s;
				continue;
			}
			double *v = zz + r * k, mx = v[0], s = 0;
			for (uint32_t c = 1; c < k; c++)
				if (v[c] > mx)
					mx = v[c];
			for (uint32_t c = 0; c < k; c++)
				s += (out[c] = exp(v[c] - mx));
			for (uint32_t c = 0; c < k; c++)
				out[c] /= s;
		}
		free(heap);
	}
}

static enum dml_err fit_holdout(struct dml_model *m, const double *x,
				const uint32_t *y, uint64_t n,
				dml_progress_fn progress, void *ctx,
				struct dml_error *err);
static enum dml_err fit_split(struct dml_model *m, const double *x,
			      const uint32_t *y, uint64_t n, const double *hx,
			      const uint32_t *hy, const double *ht,
			      uint64_t hn, dml_progress_fn progress,
			      void *ctx, struct dml_error *err);

enum dml_err dml_model_fit(struct dml_model *m, const double *x,
			   const uint32_t *y, uint64_t n,
			   dml_progress_fn progress, void *ctx,
			   struct dml_error *err)
{
	if (n == 0)
		return dml_fail(err, DML_EEMPTY, "no rows to fit");
	free(m->wsum);
	m->wsum = NULL;
	if (m->xq && (m->held || m->family == DML_FAMILY_MLP))
		return dml_fail(err, DML_EPARAM, "rows as bytes are for the "
				"linear families without held-out rows");
	if (m->family == DML_FAMILY_MLP && m->params.optimizer >= DML_OPT_SGD)
		return dml_mlp_fit(m, x, y, n, m->params.epochs, progress, ctx,
				   err);
	if (m->held)
		return fit_holdout(m, x, y, n, progress, ctx, err);
	return fit_split(m, x, y, n, NULL, NULL, NULL, 0, progress, ctx,
			 err);
}

/* Rows apart from the held-out ones, which only stop SGD early. */
static enum dml_err fit_holdout(struct dml_model *m, const double *x,
				const uint32_t *y, uint64_t n,
				dml_progress_fn progress, void *ctx,
				struct dml_error *err)
{
	uint32_t nf = m->schema.nfeat;
	uint64_t hn = 0;
	for (uint64_t r = 0; r < n; r++)
		hn += m->held[r] != 0;
	if (hn == n)
		return dml_fail(err, DML_EEMPTY, "every row is held out "
				"(lower --holdout)");
	uint64_t tn = n - hn;
	double *tx = malloc(((size_t)tn * nf + 1) * sizeof *tx);
	double *hx = malloc(((size_t)hn * nf + 1) * sizeof *hx);
	uint32_t *ty = malloc((tn + 1) * sizeof *ty);
	uint32_t *hy = malloc((hn + 1) * sizeof *hy);
	double *tt = malloc((tn + 1) * sizeof *tt);
	double *ht = malloc((hn + 1) * sizeof *ht);
	enum dml_err rc = DML_OK;
	if (!tx || !hx || !ty || !hy || !tt || !ht) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto out;
	}
	uint64_t a = 0, b = 0;
	for (uint64_t r = 0; r < n; r++) {
		int h = m->held[r] != 0;
		uint64_t i = h ? b++ : a++;
		memcpy((h ? hx : tx) + i * nf, x + r * nf, nf * sizeof *x);
		if (y)
			(h ? hy : ty)[i] = y[r];
		if (m->t)
			(h ? ht : tt)[i] = m->t[r];
	}
	const double *t0 = m->t;
	const uint8_t *held = m->held;
	m->t = t0 ? tt : NULL;
	m->held = NULL;
	rc = fit_split(m, tx, y ? ty : NULL, tn, hx, y ? hy : NULL,
		       t0 ? ht : NULL, hn, progress, ctx, err);
	m->t = t0;
	m->held = held;
out:
	free(tx); free(hx); free(ty); free(hy); free(tt); free(ht);
	return rc;
}

static enum dml_err fit_split(struct dml_model *m, const double *x,
			      const uint32_t *y, uint64_t n, const double *hx,
			      const uint32_t *hy, const double *ht,
			      uint64_t hn, dml_progress_fn progress,
			      void *ctx, struct dml_error *err)
{
	if (dml_opt_is_stochastic(m->params.optimizer))
		return dml_sgd_fit(m, m->params.optimizer, x, y, n, hx, hy,
				   ht, hn, m->params.epochs, progress, ctx,
				   err);
	enum dml_err rc;
	if (m->params.warm_start && m->opt.phase == DML_PHASE_START &&
	    (rc = m->family == DML_FAMILY_MLP
		  ? dml_mlp_fit(m, x, y, n, m->params.warm_start, progress,
				ctx, err)
		  : dml_sgd_fit(m, DML_OPT_SGD, x, y, n, hx, hy, ht, hn,
				m->params.warm_start, progress, ctx, err)))
		return rc;
	size_t nw = (size_t)dml_model_nweights(m);
	struct dml_fx *acc = malloc((nw + 1) * sizeof *acc);
	double *g = malloc(nw * sizeof *g);
	if (!acc || !g) {
		free(acc);
		free(g);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	struct dml_opt_params op = {
		.max_iter = m->params.max_iter, .tol = m->params.tol,
		.ftol = 1e-12, .l1 = m->params.l1,
		.nreg = (uint64_t)m->schema.nfeat * m->nout,
	};
	rc = DML_OK;
	while (m->opt.phase != DML_PHASE_DONE) {
		const double *w = dml_model_point(m);
		memset(acc, 0, (nw + 1) * sizeof *acc);
		if ((rc = dml_model_eval(m, w, x, y, n, acc, err)))
			break;
		double f;
		dml_model_objective(m, w, acc, n, &f, g);
		if ((rc = dml_opt_step(&m->opt, m->w, f, g, &op))) {
			rc = dml_fail(err, rc, "optimizer failed");
			break;
		}
		m->iteration++;
		if (progress)
			progress(ctx, m, m->opt.f);
	}
	free(acc);
	free(g);
	return rc;
}

/* ---- gradients ---- */

void dml_grad_free(struct dml_grad *g)
{
	free(g->sums);
	dml_leaves_free(&g->leaves);
	memset(g, 0, sizeof *g);
}

enum dml_err dml_grad_encode(const struct dml_grad *g, struct dml_buf *b)
{
	dml_buf_init(b);
	sums_write(b, g->sums, g->count);
	dml_leaves_write(b, &g->leaves);
	struct dml_header h = {
		.kind = DML_KIND_GRADIENT, .family = g->family,
		.schema = g->schema, .basis = g->basis,
		.iteration = g->iteration, .samples = g->samples,
		.contributions = g->contributions,
	};
	return dml_buf_finish(b, &h);
}

static const uint32_t grad_known[] = { DML_SEC_SUMS, DML_SEC_LEAVES,
				       DML_SEC_KMPICK };

static enum dml_err grad_check(const struct dml_record *rec,
			       struct dml_error *err)
{
	if (rec->h.kind != DML_KIND_GRADIENT)
		return dml_fail(err, DML_EKIND, "expected a gradient record, "
				"found %s %s record",
				dml_kind_article(rec->h.kind),
				dml_kind_name(rec->h.kind));
	return dml_record_check_known(rec, grad_known, 3, err);
}

enum dml_err dml_grad_sums(const struct dml_record *rec,
			   const unsigned char **p, uint64_t *n,
			   struct dml_error *err)
{
	enum dml_err rc = grad_check(rec, err);
	return rc ? rc : sums_find(rec, 0, p, n, err);
}

enum dml_err dml_grad_decode(const struct dml_record *rec,
			     struct dml_grad *g, struct dml_error *err)
{
	memset(g, 0, sizeof *g);
	enum dml_err rc;
	if ((rc = grad_check(rec, err)))
		return rc;
	g->family = rec->h.family;
	g->schema = rec->h.schema;
	g->basis = rec->h.basis;
	g->iteration = rec->h.iteration;
	g->samples = rec->h.samples;
	g->contributions = rec->h.contributions;
	if ((rc = sums_read(rec, 0, &g->sums, &g->count, err)) ||
	    (rc = dml_leaves_read(rec, &g->leaves, err))) {
		dml_grad_free(g);
		return rc;
	}
	return DML_OK;
}

enum dml_err dml_model_apply(struct dml_model *m, uint64_t model_hash,
			     const struct dml_grad *g, struct dml_error *err)
{
	size_t nw = (size_t)dml_model_nweights(m);
	if (g->family != m->family)
		return dml_fail(err, DML_EMISMATCH,
				"gradient of a %s model applied to a %s model",
				dml_family_name(g->family),
				dml_family_name(m->family));
	if (g->schema != m->schema.fingerprint)
		return dml_fail(err, DML_ESCHEMA,
				"gradient and model have different feature "
				"schemas");
	if (g->iteration != m->iteration)
		return dml_fail(err, DML_EMISMATCH,
				"gradient was taken at iteration %llu, the "
				"model is at iteration %llu",
				(unsigned long long)g->iteration,
				(unsigned long long)m->iteration);
	if (g->basis != model_hash)
		return dml_fail(err, DML_EMISMATCH,
				"gradient was taken at another model of "
				"the same iteration");
	if (g->count != nw + 1)
		return dml_fail(err, DML_EFORMAT,
				"gradient has %llu values, the model %zu",
				(unsigned long long)g->count, nw + 1);
	if (!dml_leaves_equal(&g->leaves, &m->leaves))
		return dml_fail(err, DML_EMISMATCH,
				"gradient covers %llu shard%s (%llu rows), the "
				"model was set up on %llu shard%s (%llu rows)",
				(unsigned long long)g->leaves.n,
				g->leaves.n == 1 ? "" : "s",
				(unsigned long long)g->samples,
				(unsigned long long)m->leaves.n,
				m->leaves.n == 1 ? "" : "s",
				(unsigned long long)m->samples);
	if (m->opt.phase == DML_PHASE_DONE)
		return DML_OK;
	free(m->wsum);
	m->wsum = NULL;
	double *grad = malloc((nw + 1) * sizeof *grad);
	if (!grad)
		return dml_fail(err, DML_ENOMEM, NULL);
	double f;
	dml_model_objective(m, m->opt.trial, g->sums, g->samples, &f, grad);
	struct dml_opt_params op = {
		.max_iter = m->params.max_iter, .tol = m->params.tol,
		.ftol = 1e-12, .l1 = m->params.l1,
		.nreg = (uint64_t)m->schema.nfeat * m->nout,
	};
	enum dml_err rc = dml_opt_step(&m->opt, m->w, f, grad, &op);
	free(grad);
	if (rc)
		return dml_fail(err, rc, "optimizer failed");
	m->iteration++;
	return DML_OK;
}

void dml_blas_info(struct dml_blas_info *info)
{
	bli_init();
	info->version = bli_info_get_version_str();
	info->kernels = bli_arch_string(bli_arch_query_id());
	info->threads = (long)bli_thread_get_num_threads();
	if (info->threads < 1)
		info->threads = 1; /* unset: BLIS runs single-threaded */
	info->openmp = (int)bli_info_get_enable_openmp();
}
