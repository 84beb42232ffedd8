/* statmodel.c - the scaler, Gaussian anomaly and PCA models, built from
 * exact statistics; and the symmetric eigensolver PCA needs. */
#include "statmodel.h"

#include <blis.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"

/* PARAMS keys of these families (30..39 are theirs). */
enum { P_COVARIANCE = 30, P_COMPONENTS = 31 };

int dml_smodel_family(uint32_t family)
{
	return family == DML_FAMILY_SCALER || family == DML_FAMILY_GAUSSIAN ||
	       family == DML_FAMILY_PCA;
}

int dml_smodel_anomaly(uint32_t family)
{
	return family == DML_FAMILY_GAUSSIAN;
}

int dml_smodel_needs_xprod(uint32_t family, const struct dml_sparams *p)
{
	return family == DML_FAMILY_PCA ||
	       (family == DML_FAMILY_GAUSSIAN &&
		p->covariance == DML_COV_FULL);
}

/* ---- exact statistics ---- */

static enum dml_err copy_labels(struct dml_labels *dst,
				const struct dml_labels *src)
{
	dst->n = src->n;
	dst->names = calloc(src->n + 1, sizeof *dst->names);
	dst->counts = calloc(src->n + 1, sizeof *dst->counts);
	if (!dst->names || !dst->counts)
		return DML_ENOMEM;
	for (uint32_t i = 0; i < src->n; i++) {
		if (!(dst->names[i] = strdup(src->names[i])))
			return DML_ENOMEM;
		dst->counts[i] = src->counts[i];
	}
	return DML_OK;
}

static enum dml_err copy_leaves(struct dml_leaves *dst,
				const struct dml_leaves *src)
{
	dst->id = malloc((src->n + 1) * sizeof *dst->id);
	if (!dst->id)
		return DML_ENOMEM;
	dst->n = src->n;
	memcpy(dst->id, src->id, src->n * sizeof *dst->id);
	return DML_OK;
}

/* acc += v exactly: the same bits as dml_fx_from_double and dml_fx_add,
 * without their general cases when v is a multiple of 2^-96 well inside
 * the range (every double from about 2^-44 to 2^85).  0 on overflow. */
static inline int fx_add1(struct dml_fx *acc, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	int e = (int)((bits >> 52) & 0x7ff);
	int sh = e - 1075 + DML_FX_FRAC;
	if ((bits << 1) == 0)
		return 1; /* +0 or -0 */
	if (e == 0 || sh < 0 || sh > 138) {
		struct dml_fx f;
		return dml_fx_from_double(v, &f) == DML_OK &&
		       dml_fx_add(acc, &f) == DML_OK;
	}
	uint64_t mant = (bits & ((UINT64_C(1) << 52) - 1)) |
			(UINT64_C(1) << 52);
	unsigned __int128 t = (unsigned __int128)mant << (sh & 63);
	uint64_t p[3] = { 0, 0, 0 };
	int limb = sh >> 6;
	p[limb] = (uint64_t)t;
	if (limb < 2)
		p[limb + 1] = (uint64_t)(t >> 64);
	int neg = (int)(bits >> 63), before = (int)(acc->w[2] >> 63);
	unsigned __int128 c;
	if (!neg) {
		c = (unsigned __int128)acc->w[0] + p[0];
		acc->w[0] = (uint64_t)c;
		c = (c >> 64) + acc->w[1] + p[1];
		acc->w[1] = (uint64_t)c;
		acc->w[2] += (uint64_t)(c >> 64) + p[2];
		return before || !(acc->w[2] >> 63);
	}
	uint64_t borrow = acc->w[0] < p[0];
	acc->w[0] -= p[0];
	uint64_t b1 = acc->w[1] < p[1] || (acc->w[1] - p[1]) < borrow;
	acc->w[1] = acc->w[1] - p[1] - borrow;
	acc->w[2] = acc->w[2] - p[2] - b1;
	return !before || (acc->w[2] >> 63);
}

/* What one thread sums over its rows. */
struct part {
	const struct dml_data *d;
	uint64_t r0, r1;
	struct dml_fx *sums, *xprod;
	double *min, *max;
	double *c;  /* nf x nf: a block's cross products, when integral */
	int bad;
};

/* Rows of integers of at most 2^20 in absolute value: in blocks of up to
 * XBLOCK of them, every product and every partial sum of products is an
 * integer below 2^53, so floating point adds them exactly in any order,
 * and a matrix product gives the exact cross products of the block. */
#define XBLOCK 1024
#define XINT 1048576.0

static int integral(const double *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!(fabs(x[i]) <= XINT) || x[i] != (double)(int32_t)x[i])
			return 0;
	return 1;
}

static int block_xprod(struct part *w, const double *xb, uint64_t nr)
{
	uint32_t nf = w->d->schema.nfeat;
	double one = 1.0, zero = 0.0;
	bli_dsyrk(BLIS_UPPER, BLIS_NO_TRANSPOSE, nf, (dim_t)nr, &one,
		  (double *)xb, 1, nf, &zero, w->c, nf, 1);
	struct dml_fx *xp = w->xprod;
	int ok = 1;
	for (uint32_t j = 0; j < nf; j++)
		for (uint32_t l = j; l < nf; l++)
			ok &= fx_add1(xp++, w->c[(size_t)j * nf + l]);
	return ok;
}

static void *part_rows(void *arg)
{
	struct part *w = arg;
	uint32_t nf = w->d->schema.nfeat;
	uint64_t fast_end = w->r0;
	for (uint64_t r = w->r0; r < w->r1 && !w->bad; r++) {
		const double *x = w->d->x + r * nf;
		int ok = 1;
		if (w->c && r >= fast_end) {
			uint64_t nr = w->r1 - r < XBLOCK ? w->r1 - r : XBLOCK;
			if (integral(x, (size_t)nr * nf)) {
				ok &= block_xprod(w, x, nr);
				fast_end = r + nr;
			}
		}
		for (uint32_t j = 0; j < nf; j++) {
			ok &= fx_add1(&w->sums[j], x[j]);
			ok &= fx_add1(&w->sums[nf + j], x[j] * x[j]);
			dml_range_add(&w->min[j], &w->max[j], x[j]);
		}
		struct dml_fx *xp = r < fast_end ? NULL : w->xprod;
		for (uint32_t j = 0; xp && j < nf; j++) {
			double a = x[j];
			if (a == 0) { /* a row of zero products */
				xp += nf - j;
				continue;
			}
			for (uint32_t l = j; l < nf; l++)
				ok &= fx_add1(xp++, a * x[l]);
		}
		if (!ok)
			w->bad = 1;
	}
	return NULL;
}

/* The rows in up to `threads` contiguous parts, each summed exactly on
 * its own and then added: the bits do not depend on the parts. */
static enum dml_err stats_rows(struct dml_stats *s, const struct dml_data *d,
			       uint32_t threads, struct dml_error *err)
{
	uint32_t nf = s->schema.nfeat;
	size_t nx = s->xprod ? (size_t)nf * (nf + 1) / 2 : 0;
	uint64_t per = nx ? 256 : 4096;
	uint32_t nt = threads ? threads : 1;
	if (nt > d->n / per + 1)
		nt = (uint32_t)(d->n / per + 1);
	struct part *w = calloc(nt, sizeof *w);
	enum dml_err rc = DML_OK;
	if (!w)
		return dml_fail(err, DML_ENOMEM, NULL);
	for (uint32_t t = 0; t < nt; t++) {
		w[t].d = d;
		w[t].r0 = d->n * t / nt;
		w[t].r1 = d->n * (t + 1) / nt;
		if (nx && !(w[t].c = malloc(((size_t)nf * nf + 1) *
					    sizeof *w[t].c))) {
			rc = dml_fail(err, DML_ENOMEM, NULL);
			nt = t + 1;
			goto out;
		}
		if (t == 0) {
			w[t].sums = s->sums;
			w[t].xprod = s->xprod;
			w[t].min = s->min;
			w[t].max = s->max;
			continue;
		}
		w[t].sums = calloc(2 * (size_t)nf + 1, sizeof *w[t].sums);
		w[t].xprod = nx ? calloc(nx, sizeof *w[t].xprod) : NULL;
		w[t].min = malloc(((size_t)nf + 1) * sizeof *w[t].min);
		w[t].max = malloc(((size_t)nf + 1) * sizeof *w[t].max);
		if (!w[t].sums || (nx && !w[t].xprod) || !w[t].min ||
		    !w[t].max) {
			rc = dml_fail(err, DML_ENOMEM, NULL);
			nt = t + 1;
			goto out;
		}
		memcpy(w[t].min, s->min, nf * sizeof *s->min);
		memcpy(w[t].max, s->max, nf * sizeof *s->max);
	}
	dml_threads_run(nt, part_rows, w, sizeof *w);
	for (uint32_t t = 0; t < nt; t++)
		if (w[t].bad)
			goto range;
	for (uint32_t t = 1; t < nt; t++) {
		for (size_t i = 0; i < 2 * (size_t)nf; i++)
			if (dml_fx_add(&s->sums[i], &w[t].sums[i]))
				goto range;
		for (size_t i = 0; i < nx; i++)
			if (dml_fx_add(&s->xprod[i], &w[t].xprod[i]))
				goto range;
		for (uint32_t j = 0; j < nf; j++) {
			dml_range_add(&s->min[j], &s->max[j], w[t].min[j]);
			dml_range_add(&s->min[j], &s->max[j], w[t].max[j]);
		}
	}
	goto out;
range:
	rc = dml_fail(err, DML_ERANGE, "feature values too large to sum "
		      "exactly (|sum| must stay below 2^95)");
out:
	for (uint32_t t = 0; t < nt; t++)
		free(w[t].c);
	for (uint32_t t = 1; t < nt; t++) {
		free(w[t].sums);
		free(w[t].xprod);
		free(w[t].min);
		free(w[t].max);
	}
	free(w);
	return rc;
}

enum dml_err dml_stats_exact(struct dml_stats *s, const struct dml_data *d,
			     int xprod, uint32_t threads,
			     struct dml_error *err)
{
	memset(s, 0, sizeof *s);
	uint32_t nf = d->schema.nfeat;
	size_t nx = (size_t)nf * (nf + 1) / 2;
	uint32_t nl = d->has_label ? d->labels.n : 0;
	enum dml_err rc = DML_OK;
	s->sums = calloc(2 * (size_t)nf + 1, sizeof *s->sums);
	s->min = calloc((size_t)nf + 1, sizeof *s->min);
	s->max = calloc((size_t)nf + 1, sizeof *s->max);
	s->labels.names = calloc(nl + 1, sizeof *s->labels.names);
	s->labels.counts = calloc(nl + 1, sizeof *s->labels.counts);
	if (xprod)
		s->xprod = calloc(nx + 1, sizeof *s->xprod);
	if (!s->sums || !s->min || !s->max || !s->labels.names ||
	    !s->labels.counts || (xprod && !s->xprod) ||
	    dml_schema_copy(&s->schema, &d->schema))
		goto oom;
	s->labels.n = nl;
	for (uint32_t i = 0; i < nl; i++)
		if (!(s->labels.names[i] = strdup(d->labels.s[i])))
			goto oom;
	for (uint64_t r = 0; nl && r < d->n; r++)
		s->labels.counts[d->y[r]]++;
	dml_labels_sort(&s->labels);
	for (uint32_t j = 0; d->n && j < nf; j++)
		s->min[j] = s->max[j] = d->x[j];
	if ((rc = stats_rows(s, d, threads, err)))
		goto fail;
	s->samples = d->n;
	s->contributions = 1;
	if (dml_leaves_set1(&s->leaves, dml_data_leaf(d)))
		goto oom;
	return DML_OK;
oom:
	rc = dml_fail(err, DML_ENOMEM, NULL);
fail:
	dml_stats_free(s);
	return rc;
}

/* ---- building models ---- */

void dml_smodel_free(struct dml_smodel *m)
{
	dml_schema_free(&m->schema);
	dml_labels_free(&m->labels);
	free(m->mean);
	free(m->scale);
	free(m->min);
	free(m->max);
	free(m->sums);
	free(m->center);
	free(m->var);
	free(m->chol);
	free(m->eigval);
	free(m->comp);
	dml_leaves_free(&m->leaves);
	memset(m, 0, sizeof *m);
}

static uint32_t nout_of(const struct dml_smodel *m)
{
	switch (m->family) {
	case DML_FAMILY_SCALER: return m->schema.nfeat;
	case DML_FAMILY_GAUSSIAN: return 1;
	default: return m->params.components;
	}
}

/* The mean and scale a linear model computes from the same statistics
 * (dml_model_from_stats): population standard deviation, 0 for a
 * constant feature, half the range where rounding hides the spread. */
static void standard_scale(const struct dml_stats *s, double *mean,
			   double *scale)
{
	uint32_t nf = s->schema.nfeat;
	double n = (double)s->samples;
	for (uint32_t j = 0; j < nf; j++) {
		long double s1 = dml_fx_to_double(&s->sums[j]);
		long double s2 = dml_fx_to_double(&s->sums[nf + j]);
		double mu = (double)(s1 / n);
		double var = (double)((s2 - s1 * s1 / n) / n);
		double sd = var > 0 ? sqrt(var) : 0;
		mean[j] = mu;
		if (s->min[j] == s->max[j])
			scale[j] = 0;
		else if (sd > 1e-9 * (s->max[j] - s->min[j]))
			scale[j] = 1 / sd;
		else
			scale[j] = 2 / (s->max[j] - s->min[j]);
		if (!isfinite(scale[j]) || !isfinite(mean[j]))
			scale[j] = 0;
		if (!isfinite(mean[j]))
			mean[j] = 0;
	}
}

static double xprod_at(const struct dml_stats *s, uint32_t j, uint32_t k)
{
	uint32_t nf = s->schema.nfeat;
	if (j > k) {
		uint32_t t = j;
		j = k;
		k = t;
	}
	if (!s->xprod)
		return dml_fx_to_double(&s->sums[nf + j]);
	size_t row = (size_t)j * nf - (size_t)j * (j - 1) / 2;
	return dml_fx_to_double(&s->xprod[row + (k - j)]);
}

/* Sample covariance (divisor n - 1) of the standardized features into
 * c (nf x nf, or only its diagonal when diag), and their mean into
 * m->center.  m->mean and m->scale are set. */
static void covariance(const struct dml_smodel *m, const struct dml_stats *s,
		       int diag, double *c)
{
	uint32_t nf = s->schema.nfeat;
	long double n = (long double)s->samples;
	for (uint32_t j = 0; j < nf; j++) {
		long double sj = dml_fx_to_double(&s->sums[j]);
		m->center[j] = (double)(sj / n - m->mean[j]) * m->scale[j];
		for (uint32_t k = diag ? j : 0; k < (diag ? j + 1 : nf); k++) {
			long double sk = dml_fx_to_double(&s->sums[k]);
			long double p = xprod_at(s, j, k);
			double v = (double)((p - sj * sk / n) / (n - 1));
			v *= m->scale[j] * m->scale[k];
			if (j == k && v < 0)
				v = 0;
			c[diag ? j : (size_t)j * nf + k] = v;
		}
	}
}

/* Lower Cholesky factor of a + ridge I, packed by rows; 0 if a pivot is
 * not positive. */
static int cholesky(const double *a, uint32_t n, double ridge, double *l)
{
	for (uint32_t i = 0; i < n; i++) {
		double *li = l + (size_t)i * (i + 1) / 2;
		for (uint32_t j = 0; j <= i; j++) {
			const double *lj = l + (size_t)j * (j + 1) / 2;
			long double sum = a[(size_t)i * n + j];
			if (i == j)
				sum += ridge;
			for (uint32_t k = 0; k < j; k++)
				sum -= (long double)li[k] * lj[k];
			if (i == j) {
				if (!(sum > 0))
					return 0;
				li[i] = sqrt((double)sum);
			} else {
				li[j] = (double)(sum / lj[j]);
			}
		}
	}
	return 1;
}

static enum dml_err build_gaussian(struct dml_smodel *m,
				   const struct dml_stats *s,
				   struct dml_error *err)
{
	uint32_t nf = s->schema.nfeat;
	int full = m->params.covariance == DML_COV_FULL;
	size_t nc = full ? (size_t)nf * nf : nf;
	double *c = malloc((nc + 1) * sizeof *c);
	if (!c)
		return dml_fail(err, DML_ENOMEM, NULL);
	covariance(m, s, !full, c);
	long double trace = 0;
	for (uint32_t j = 0; j < nf; j++)
		trace += full ? c[(size_t)j * nf + j] : c[j];
	/* a tiny ridge keeps a singular covariance invertible */
	m->ridge = trace > 0 ? 1e-9 * (double)(trace / nf) : 1e-9;
	if (!full) {
		m->var = c;
		return DML_OK;
	}
	m->chol = malloc(((size_t)nf * (nf + 1) / 2 + 1) * sizeof *m->chol);
	if (!m->chol) {
		free(c);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	while (!cholesky(c, nf, m->ridge, m->chol)) {
		m->ridge *= 10;
		if (!isfinite(m->ridge) || m->ridge > 1e300) {
			free(c);
			return dml_fail(err, DML_ERANGE, "the covariance "
					"cannot be factored");
		}
	}
	free(c);
	return DML_OK;
}

static enum dml_err build_pca(struct dml_smodel *m, const struct dml_stats *s,
			      struct dml_error *err)
{
	uint32_t nf = s->schema.nfeat, k = m->params.components;
	double *c = malloc(((size_t)nf * nf + 1) * sizeof *c);
	double *w = malloc(((size_t)nf + 1) * sizeof *w);
	double *v = malloc(((size_t)nf * nf + 1) * sizeof *v);
	m->eigval = malloc(((size_t)k + 1) * sizeof *m->eigval);
	m->comp = malloc(((size_t)k * nf + 1) * sizeof *m->comp);
	enum dml_err rc = DML_OK;
	if (!c || !w || !v || !m->eigval || !m->comp) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto out;
	}
	covariance(m, s, 0, c);
	long double trace = 0;
	for (uint32_t j = 0; j < nf; j++)
		trace += c[(size_t)j * nf + j];
	m->total = (double)trace;
	if ((rc = dml_symeig(c, nf, w, v))) {
		rc = dml_fail(err, rc, "the eigensolver did not converge");
		goto out;
	}
	for (uint32_t i = 0; i < k; i++) {
		double *row = v + (size_t)i * nf;
		uint32_t big = 0;
		for (uint32_t j = 1; j < nf; j++)
			if (fabs(row[j]) > fabs(row[big]))
				big = j;
		double sign = row[big] < 0 ? -1 : 1;
		for (uint32_t j = 0; j < nf; j++)
			m->comp[(size_t)i * nf + j] = sign * row[j] + 0.0;
		m->eigval[i] = w[i] > 0 ? w[i] : 0;
	}
out:
	free(c);
	free(w);
	free(v);
	return rc;
}

static enum dml_err check_stats(const struct dml_stats *s, uint32_t family,
				const struct dml_sparams *p,
				const struct dml_smodel *scaler,
				struct dml_error *err)
{
	uint32_t nf = s->schema.nfeat;
	if (s->samples == 0)
		return dml_fail(err, DML_EEMPTY, "statistics of no rows");
	if (!dml_smodel_family(family))
		return dml_fail(err, DML_EPARAM, "unknown model family");
	if (family != DML_FAMILY_SCALER && s->samples < 2)
		return dml_fail(err, DML_EEMPTY, "a %s model needs at least "
				"2 rows, found 1", dml_family_name(family));
	if (dml_smodel_needs_xprod(family, p) && !s->xprod)
		return dml_fail(err, DML_EPARAM, "the statistics have no cross "
				"products, which %s needs (emit them with "
				"'dml-train --emit stats -a %s%s')",
				family == DML_FAMILY_PCA ? "pca"
				: "a full covariance",
				dml_family_name(family),
				family == DML_FAMILY_PCA ? ""
				: " --covariance full");
	if (family == DML_FAMILY_PCA && p->components == 0)
		return dml_fail(err, DML_EPARAM, "pca needs the number of "
				"components (--components K)");
	if (family == DML_FAMILY_PCA && p->components > nf)
		return dml_fail(err, DML_EPARAM, "--components %u is more than "
				"the %u features", p->components, nf);
	if (scaler && scaler->schema.fingerprint != s->schema.fingerprint)
		return dml_fail(err, DML_ESCHEMA, "the scaler's features "
				"(schema %016llx) differ from the data's "
				"(schema %016llx)",
				(unsigned long long)scaler->schema.fingerprint,
				(unsigned long long)s->schema.fingerprint);
	return DML_OK;
}

enum dml_err dml_smodel_from_stats(struct dml_smodel *m,
				   const struct dml_stats *s, uint32_t family,
				   const struct dml_sparams *p,
				   const struct dml_smodel *scaler,
				   struct dml_error *err)
{
	memset(m, 0, sizeof *m);
	enum dml_err rc;
	if ((rc = check_stats(s, family, p, scaler, err)))
		return rc;
	uint32_t nf = s->schema.nfeat;
	m->family = family;
	m->params = *p;
	if (family != DML_FAMILY_GAUSSIAN)
		m->params.covariance = 0;
	if (family != DML_FAMILY_PCA)
		m->params.components = 0;
	m->nout = nout_of(m);
	m->samples = s->samples;
	m->contributions = s->contributions;
	m->mean = calloc((size_t)nf + 1, sizeof *m->mean);
	m->scale = calloc((size_t)nf + 1, sizeof *m->scale);
	if (!m->mean || !m->scale || dml_schema_copy(&m->schema, &s->schema) ||
	    copy_labels(&m->labels, &s->labels) ||
	    copy_leaves(&m->leaves, &s->leaves))
		goto oom;
	if (family == DML_FAMILY_SCALER) {
		standard_scale(s, m->mean, m->scale);
		m->min = malloc(((size_t)nf + 1) * sizeof *m->min);
		m->max = malloc(((size_t)nf + 1) * sizeof *m->max);
		m->sums = malloc((2 * (size_t)nf + 1) * sizeof *m->sums);
		if (!m->min || !m->max || !m->sums)
			goto oom;
		memcpy(m->min, s->min, nf * sizeof *m->min);
		memcpy(m->max, s->max, nf * sizeof *m->max);
		memcpy(m->sums, s->sums, 2 * (size_t)nf * sizeof *m->sums);
		return DML_OK;
	}
	m->center = calloc((size_t)nf + 1, sizeof *m->center);
	if (!m->center)
		goto oom;
	for (uint32_t j = 0; j < nf; j++) {
		if (scaler) {
			m->mean[j] = scaler->mean[j];
			m->scale[j] = scaler->scale[j];
		} else {
			m->mean[j] = dml_fx_to_double(&s->sums[j]) /
				     (double)s->samples;
			m->scale[j] = 1;
		}
	}
	rc = family == DML_FAMILY_GAUSSIAN ? build_gaussian(m, s, err)
					   : build_pca(m, s, err);
	if (rc)
		dml_smodel_free(m);
	return rc;
oom:
	dml_smodel_free(m);
	return dml_fail(err, DML_ENOMEM, NULL);
}

enum dml_err dml_scaler_apply(const struct dml_smodel *sc,
			      struct dml_model *m, struct dml_error *err)
{
	if (sc->family != DML_FAMILY_SCALER)
		return dml_fail(err, DML_EKIND, "a %s model, not a scaler",
				dml_family_name(sc->family));
	if (sc->schema.fingerprint != m->schema.fingerprint)
		return dml_fail(err, DML_ESCHEMA, "the scaler's features "
				"(schema %016llx) differ from the data's "
				"(schema %016llx)",
				(unsigned long long)sc->schema.fingerprint,
				(unsigned long long)m->schema.fingerprint);
	memcpy(m->mean, sc->mean, sc->schema.nfeat * sizeof *m->mean);
	memcpy(m->scale, sc->scale, sc->schema.nfeat * sizeof *m->scale);
	return DML_OK;
}

/* ---- records ---- */

static void fx_section(struct dml_buf *b, uint32_t tag,
		       const struct dml_fx *s, uint64_t n)
{
	dml_buf_section(b, tag, 0);
	dml_buf_u64(b, n);
	unsigned char *p = dml_buf_reserve(b, (size_t)n * DML_FX_BYTES);
	for (uint64_t i = 0; p && i < n; i++)
		dml_fx_store(p + i * DML_FX_BYTES, &s[i]);
	dml_buf_end(b);
}

enum dml_err dml_smodel_encode(const struct dml_smodel *m, struct dml_buf *b)
{
	uint32_t nf = m->schema.nfeat;
	dml_buf_init(b);
	dml_schema_write(b, &m->schema);
	dml_labels_write(b, &m->labels);
	dml_buf_section(b, DML_SEC_PARAMS, 0);
	if (m->family == DML_FAMILY_GAUSSIAN) {
		dml_buf_u32(b, P_COVARIANCE);
		dml_buf_u32(b, 0);
		dml_buf_u64(b, m->params.covariance);
	}
	if (m->family == DML_FAMILY_PCA) {
		dml_buf_u32(b, P_COMPONENTS);
		dml_buf_u32(b, 0);
		dml_buf_u64(b, m->params.components);
	}
	dml_buf_section(b, DML_SEC_SCALER, 0);
	dml_buf_u32(b, nf);
	dml_buf_u32(b, 0);
	dml_buf_f64s(b, m->mean, nf);
	dml_buf_f64s(b, m->scale, nf);
	if (m->family == DML_FAMILY_SCALER) {
		dml_buf_section(b, DML_SEC_RANGE, 0);
		dml_buf_u32(b, nf);
		dml_buf_u32(b, 0);
		dml_buf_f64s(b, m->min, nf);
		dml_buf_f64s(b, m->max, nf);
		fx_section(b, DML_SEC_SUMS, m->sums, 2 * (uint64_t)nf);
	} else if (m->family == DML_FAMILY_GAUSSIAN) {
		int full = m->params.covariance == DML_COV_FULL;
		dml_buf_section(b, DML_SEC_GAUSS, 0);
		dml_buf_u32(b, nf);
		dml_buf_u32(b, m->params.covariance);
		dml_buf_f64(b, m->ridge);
		dml_buf_f64s(b, m->center, nf);
		if (full)
			dml_buf_f64s(b, m->chol, (size_t)nf * (nf + 1) / 2);
		else
			dml_buf_f64s(b, m->var, nf);
	} else {
		uint32_t k = m->params.components;
		dml_buf_section(b, DML_SEC_COMPONENTS, 0);
		dml_buf_u32(b, nf);
		dml_buf_u32(b, k);
		dml_buf_f64(b, m->total);
		dml_buf_f64s(b, m->center, nf);
		dml_buf_f64s(b, m->eigval, k);
		dml_buf_f64s(b, m->comp, (size_t)k * nf);
	}
	dml_leaves_write(b, &m->leaves);
	struct dml_header h = {
		.kind = DML_KIND_MODEL, .family = m->family,
		.schema = m->schema.fingerprint, .samples = m->samples,
		.contributions = m->contributions,
	};
	return dml_buf_finish(b, &h);
}

static const uint32_t smodel_known[] = {
	DML_SEC_SCHEMA, DML_SEC_LABELS, DML_SEC_PARAMS, DML_SEC_SCALER,
	DML_SEC_RANGE, DML_SEC_SUMS, DML_SEC_GAUSS, DML_SEC_COMPONENTS,
	DML_SEC_LEAVES,
};

/* n finite doubles from c into a new array *out. */
static int read_f64s(struct dml_cur *c, double **out, uint64_t n)
{
	*out = malloc((n + 1) * sizeof **out);
	if (!*out || n * 8 > c->left || !dml_cur_f64s(c, *out, n))
		return 0;
	for (uint64_t i = 0; i < n; i++)
		if (!isfinite((*out)[i]))
			return 0;
	return 1;
}

static int find_sized(const struct dml_record *rec, uint32_t tag,
		      uint32_t nf, struct dml_cur *c, uint32_t *extra)
{
	struct dml_section sec;
	if (!dml_record_find(rec, tag, &sec))
		return 0;
	dml_cur_init(c, &sec);
	uint32_t n = dml_cur_u32(c);
	*extra = dml_cur_u32(c);
	return !c->bad && n == nf;
}

static enum dml_err decode_params(const struct dml_record *rec,
				  struct dml_sparams *p)
{
	struct dml_section sec;
	memset(p, 0, sizeof *p);
	if (!dml_record_find(rec, DML_SEC_PARAMS, &sec))
		return DML_EFORMAT;
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	while (c.left && !c.bad) {
		uint32_t key = dml_cur_u32(&c), type = dml_cur_u32(&c);
		uint64_t u = dml_cur_u64(&c);
		if (type > 1)
			c.bad = 1;
		if (key == P_COVARIANCE)
			p->covariance = u > 1 ? 2 : (uint32_t)u;
		else if (key == P_COMPONENTS)
			p->components = u > UINT32_MAX ? 0 : (uint32_t)u;
	}
	return c.bad || p->covariance > 1 ? DML_EFORMAT : DML_OK;
}

static enum dml_err decode_body(const struct dml_record *rec,
				struct dml_smodel *m, struct dml_error *err)
{
	uint32_t nf = m->schema.nfeat, x;
	struct dml_cur c;
	if (!find_sized(rec, DML_SEC_SCALER, nf, &c, &x) || x ||
	    c.left != 16 * (uint64_t)nf || !read_f64s(&c, &m->mean, nf) ||
	    !read_f64s(&c, &m->scale, nf))
		return dml_fail(err, DML_EFORMAT, "malformed scaler section");
	if (m->family == DML_FAMILY_SCALER) {
		if (!find_sized(rec, DML_SEC_RANGE, nf, &c, &x) || x ||
		    c.left != 16 * (uint64_t)nf ||
		    !read_f64s(&c, &m->min, nf) || !read_f64s(&c, &m->max, nf))
			return dml_fail(err, DML_EFORMAT,
					"malformed range section");
		struct dml_stats s;
		enum dml_err rc = dml_scaler_stats(rec, &s, err);
		if (rc)
			return rc;
		m->sums = s.sums;
		s.sums = NULL;
		dml_stats_free(&s);
		return DML_OK;
	}
	if (m->family == DML_FAMILY_GAUSSIAN) {
		int full = m->params.covariance == DML_COV_FULL;
		uint64_t nv = full ? (uint64_t)nf * (nf + 1) / 2 : nf;
		if (!find_sized(rec, DML_SEC_GAUSS, nf, &c, &x) ||
		    x != m->params.covariance ||
		    c.left != 8 * (1 + (uint64_t)nf + nv))
			return dml_fail(err, DML_EFORMAT,
					"malformed gaussian section");
		m->ridge = dml_cur_f64(&c);
		if (!(m->ridge >= 0) || !isfinite(m->ridge) ||
		    !read_f64s(&c, &m->center, nf) ||
		    !read_f64s(&c, full ? &m->chol : &m->var, nv))
			return dml_fail(err, DML_EFORMAT,
					"malformed gaussian section");
		for (uint32_t i = 0; full && i < nf; i++)
			if (!(m->chol[(size_t)i * (i + 1) / 2 + i] > 0))
				return dml_fail(err, DML_EFORMAT, "malformed "
						"gaussian section");
		for (uint32_t i = 0; !full && i < nf; i++)
			if (m->var[i] < 0 || m->var[i] + m->ridge <= 0)
				return dml_fail(err, DML_EFORMAT, "malformed "
						"gaussian section");
		return DML_OK;
	}
	uint32_t k = m->params.components;
	if (!find_sized(rec, DML_SEC_COMPONENTS, nf, &c, &x) || x != k ||
	    k == 0 || k > nf ||
	    c.left != 8 * (1 + (uint64_t)nf + k + (uint64_t)k * nf))
		return dml_fail(err, DML_EFORMAT,
				"malformed components section");
	m->total = dml_cur_f64(&c);
	if (!isfinite(m->total) || !read_f64s(&c, &m->center, nf) ||
	    !read_f64s(&c, &m->eigval, k) ||
	    !read_f64s(&c, &m->comp, (uint64_t)k * nf))
		return dml_fail(err, DML_EFORMAT,
				"malformed components section");
	return DML_OK;
}

enum dml_err dml_smodel_decode(const struct dml_record *rec,
			       struct dml_smodel *m, struct dml_error *err)
{
	memset(m, 0, sizeof *m);
	enum dml_err rc;
	if (rec->h.kind != DML_KIND_MODEL)
		return dml_fail(err, DML_EKIND, "expected a model record, "
				"found %s %s record",
				dml_kind_article(rec->h.kind),
				dml_kind_name(rec->h.kind));
	if (!dml_smodel_family(rec->h.family))
		return dml_fail(err, DML_EUNSUPPORTED, "a %s model, not a "
				"scaler, gaussian or pca model",
				dml_family_name(rec->h.family));
	if ((rc = dml_record_check_known(rec, smodel_known, 9, err)))
		return rc;
	m->family = rec->h.family;
	m->samples = rec->h.samples;
	m->contributions = rec->h.contributions;
	if ((rc = dml_schema_read(rec, &m->schema, err)) ||
	    (rc = dml_labels_read(rec, &m->labels, err)) ||
	    (rc = dml_leaves_read(rec, &m->leaves, err)))
		goto fail;
	if (decode_params(rec, &m->params)) {
		rc = dml_fail(err, DML_EFORMAT, "malformed parameters");
		goto fail;
	}
	m->nout = nout_of(m);
	if ((rc = decode_body(rec, m, err)))
		goto fail;
	return DML_OK;
fail:
	dml_smodel_free(m);
	return rc;
}

enum dml_err dml_scaler_stats(const struct dml_record *rec,
			      struct dml_stats *s, struct dml_error *err)
{
	memset(s, 0, sizeof *s);
	enum dml_err rc;
	struct dml_section sec;
	struct dml_cur c;
	if (rec->h.kind != DML_KIND_MODEL ||
	    rec->h.family != DML_FAMILY_SCALER)
		return dml_fail(err, DML_EKIND, "expected a scaler model");
	if ((rc = dml_record_check_known(rec, smodel_known, 9, err)))
		return rc;
	s->family = rec->h.family;
	s->samples = rec->h.samples;
	s->contributions = rec->h.contributions;
	if ((rc = dml_schema_read(rec, &s->schema, err)) ||
	    (rc = dml_labels_read(rec, &s->labels, err)) ||
	    (rc = dml_leaves_read(rec, &s->leaves, err)))
		goto fail;
	uint32_t nf = s->schema.nfeat, x;
	uint64_t n2 = 2 * (uint64_t)nf;
	if (!dml_record_find(rec, DML_SEC_SUMS, &sec)) {
		rc = dml_fail(err, DML_EFORMAT, "no sums section");
		goto fail;
	}
	dml_cur_init(&c, &sec);
	if (dml_cur_u64(&c) != n2 || c.left != n2 * DML_FX_BYTES) {
		rc = dml_fail(err, DML_EFORMAT, "malformed sums section");
		goto fail;
	}
	s->sums = malloc((n2 + 1) * sizeof *s->sums);
	if (!s->sums) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto fail;
	}
	const unsigned char *p = dml_cur_bytes(&c, n2 * DML_FX_BYTES);
	for (uint64_t i = 0; i < n2; i++)
		dml_fx_load(&s->sums[i], p + i * DML_FX_BYTES);
	if (!find_sized(rec, DML_SEC_RANGE, nf, &c, &x) || x ||
	    c.left != 16 * (uint64_t)nf || !read_f64s(&c, &s->min, nf) ||
	    !read_f64s(&c, &s->max, nf)) {
		rc = dml_fail(err, DML_EFORMAT, "malformed range section");
		goto fail;
	}
	for (uint32_t j = 0; j < nf; j++)
		if (s->min[j] > s->max[j]) {
			rc = dml_fail(err, DML_EFORMAT,
				      "malformed range section");
			goto fail;
		}
	return DML_OK;
fail:
	dml_stats_free(s);
	return rc;
}

enum dml_err dml_scaler_reduced(const struct dml_stats *s, struct dml_buf *b,
				struct dml_error *err)
{
	struct dml_smodel m;
	struct dml_sparams p = {0};
	enum dml_err rc = dml_smodel_from_stats(&m, s, DML_FAMILY_SCALER, &p,
						NULL, err);
	if (rc)
		return rc;
	rc = dml_smodel_encode(&m, b);
	dml_smodel_free(&m);
	return rc ? dml_fail(err, rc, NULL) : DML_OK;
}

/* ---- prediction ---- */

static void centered(const struct dml_smodel *m, const double *x, double *z)
{
	for (uint32_t j = 0; j < m->schema.nfeat; j++)
		z[j] = (x[j] - m->mean[j]) * m->scale[j] - m->center[j];
}

static double mahalanobis(const struct dml_smodel *m, double *z)
{
	uint32_t nf = m->schema.nfeat;
	double d2 = 0;
	if (m->params.covariance != DML_COV_FULL) {
		for (uint32_t j = 0; j < nf; j++)
			d2 += z[j] * z[j] / (m->var[j] + m->ridge);
		return d2;
	}
	/* solve L w = z in place: d2 = |w|^2 */
	for (uint32_t i = 0; i < nf; i++) {
		const double *li = m->chol + (size_t)i * (i + 1) / 2;
		double s = z[i];
		for (uint32_t k = 0; k < i; k++)
			s -= li[k] * z[k];
		z[i] = s / li[i];
		d2 += z[i] * z[i];
	}
	return d2;
}

void dml_smodel_predict(const struct dml_smodel *m, const double *x,
			uint64_t n, double *out)
{
	uint32_t nf = m->schema.nfeat;
	double *z = out; /* scaler: standardized rows are the output */
	double zbuf[64];
	double *heap = NULL;
	if (m->family != DML_FAMILY_SCALER) {
		z = nf <= 64 ? zbuf : (heap = malloc(nf * sizeof *z));
		if (!z) {
			for (uint64_t i = 0; i < n * m->nout; i++)
				out[i] = NAN;
			return;
		}
	}
	for (uint64_t r = 0; r < n; r++) {
		const double *xr = x + r * nf;
		double *o = out + r * m->nout;
		if (m->family == DML_FAMILY_SCALER) {
			for (uint32_t j = 0; j < nf; j++)
				o[j] = (xr[j] - m->mean[j]) * m->scale[j];
			continue;
		}
		centered(m, xr, z);
		if (m->family == DML_FAMILY_GAUSSIAN) {
			o[0] = mahalanobis(m, z);
			continue;
		}
		for (uint32_t i = 0; i < m->nout; i++) {
			const double *v = m->comp + (size_t)i * nf;
			double s = 0;
			for (uint32_t j = 0; j < nf; j++)
				s += v[j] * z[j];
			o[i] = s;
		}
	}
	free(heap);
}

/* ---- AUC ---- */

struct scored {
	double s;
	unsigned char y;
};

static int by_score(const void *a, const void *b)
{
	double x = ((const struct scored *)a)->s;
	double y = ((const struct scored *)b)->s;
	return (x > y) - (x < y);
}

double dml_auc(const double *score, const unsigned char *y, uint64_t n)
{
	struct scored *v = malloc((n + 1) * sizeof *v);
	if (!v)
		return -2;
	uint64_t pos = 0;
	for (uint64_t i = 0; i < n; i++) {
		v[i].s = score[i];
		v[i].y = y[i];
		pos += y[i] != 0;
	}
	if (pos == 0 || pos == n) {
		free(v);
		return -1;
	}
	qsort(v, n, sizeof *v, by_score);
	long double ranks = 0;
	for (uint64_t i = 0; i < n;) {
		uint64_t j = i, p = 0;
		while (j < n && v[j].s == v[i].s)
			p += v[j++].y != 0;
		/* ranks i+1..j, on average (i + 1 + j) / 2 */
		ranks += (long double)p * (long double)(i + 1 + j) / 2;
		i = j;
	}
	free(v);
	long double np = pos, nn = n - pos;
	return (double)((ranks - np * (np + 1) / 2) / (np * nn));
}

/* ---- symmetric eigensolver ---- */

/* Householder reduction of a (n x n, row-major, overwritten by the
 * orthogonal transformation Q) to a tridiagonal matrix: diagonal d,
 * subdiagonal e (e[0] = 0).  After Numerical Recipes' tred2, 0-based. */
static void tred2(double *a, uint32_t n, double *d, double *e)
{
#define A(i, j) a[(size_t)(i) * n + (j)]
	for (uint32_t i = n - 1; i > 0; i--) {
		uint32_t l = i - 1;
		double h = 0, scale = 0;
		if (l > 0) {
			for (uint32_t k = 0; k <= l; k++)
				scale += fabs(A(i, k));
			if (scale == 0) {
				e[i] = A(i, l);
			} else {
				for (uint32_t k = 0; k <= l; k++) {
					A(i, k) /= scale;
					h += A(i, k) * A(i, k);
				}
				double f = A(i, l);
				double g = f >= 0 ? -sqrt(h) : sqrt(h);
				e[i] = scale * g;
				h -= f * g;
				A(i, l) = f - g;
				f = 0;
				for (uint32_t j = 0; j <= l; j++) {
					A(j, i) = A(i, j) / h;
					g = 0;
					for (uint32_t k = 0; k <= j; k++)
						g += A(j, k) * A(i, k);
					for (uint32_t k = j + 1; k <= l; k++)
						g += A(k, j) * A(i, k);
					e[j] = g / h;
					f += e[j] * A(i, j);
				}
				double hh = f / (h + h);
				for (uint32_t j = 0; j <= l; j++) {
					f = A(i, j);
					e[j] = g = e[j] - hh * f;
					for (uint32_t k = 0; k <= j; k++)
						A(j, k) -= f * e[k] + g * A(i, k);
				}
			}
		} else {
			e[i] = A(i, l);
		}
		d[i] = h;
	}
	d[0] = 0;
	e[0] = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (d[i] != 0) {
			for (uint32_t j = 0; j < i; j++) {
				double g = 0;
				for (uint32_t k = 0; k < i; k++)
					g += A(i, k) * A(k, j);
				for (uint32_t k = 0; k < i; k++)
					A(k, j) -= g * A(k, i);
			}
		}
		d[i] = A(i, i);
		A(i, i) = 1;
		for (uint32_t j = 0; j < i; j++)
			A(j, i) = A(i, j) = 0;
	}
#undef A
}

/* Implicit QL on the tridiagonal (d, e); the rotations are applied to
 * the rows of zt (the transposed Q), whose row i ends as the unit
 * eigenvector of d[i].  After Numerical Recipes' tqli, 0-based. */
static int tqli(double *d, double *e, uint32_t n, double *zt)
{
	for (uint32_t i = 1; i < n; i++)
		e[i - 1] = e[i];
	e[n - 1] = 0;
	for (uint32_t l = 0; l < n; l++) {
		uint32_t iter = 0, m;
		do {
			for (m = l; m + 1 < n; m++) {
				double dd = fabs(d[m]) + fabs(d[m + 1]);
				if (fabs(e[m]) <= DBL_EPSILON * dd)
					break;
			}
			if (m == l)
				break;
			if (iter++ == 100)
				return 0;
			double g = (d[l + 1] - d[l]) / (2 * e[l]);
			double r = hypot(g, 1);
			g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
			double s = 1, c = 1, p = 0;
			int64_t i;
			for (i = (int64_t)m - 1; i >= (int64_t)l; i--) {
				double f = s * e[i], b = c * e[i];
				e[i + 1] = r = hypot(f, g);
				if (r == 0) {
					d[i + 1] -= p;
					e[m] = 0;
					break;
				}
				s = f / r;
				c = g / r;
				g = d[i + 1] - p;
				r = (d[i] - g) * s + 2 * c * b;
				d[i + 1] = g + (p = s * r);
				g = c * r - b;
				double *z0 = zt + (size_t)i * n;
				double *z1 = z0 + n;
				for (uint32_t k = 0; k < n; k++) {
					f = z1[k];
					z1[k] = s * z0[k] + c * f;
					z0[k] = c * z0[k] - s * f;
				}
			}
			if (r == 0 && i >= (int64_t)l)
				continue;
			d[l] -= p;
			e[l] = g;
			e[m] = 0;
		} while (m != l);
	}
	return 1;
}

enum dml_err dml_symeig(const double *a, uint32_t n, double *w, double *v)
{
	size_t nn = (size_t)n * n;
	double *q = malloc((nn + 1) * sizeof *q);
	double *e = malloc(((size_t)n + 1) * sizeof *e);
	double *d = malloc(((size_t)n + 1) * sizeof *d);
	uint32_t *order = malloc(((size_t)n + 1) * sizeof *order);
	enum dml_err rc = DML_OK;
	if (!q || !e || !d || !order) {
		rc = DML_ENOMEM;
		goto out;
	}
	memcpy(q, a, nn * sizeof *q);
	if (n == 0)
		goto out;
	tred2(q, n, d, e);
	/* transpose, so that the rotations touch rows */
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = i + 1; j < n; j++) {
			double t = q[(size_t)i * n + j];
			q[(size_t)i * n + j] = q[(size_t)j * n + i];
			q[(size_t)j * n + i] = t;
		}
	if (!tqli(d, e, n, q)) {
		rc = DML_ERANGE;
		goto out;
	}
	/* descending, stable on ties (insertion sort of an index) */
	for (uint32_t i = 0; i < n; i++) {
		uint32_t j = i;
		while (j > 0 && d[order[j - 1]] < d[i]) {
			order[j] = order[j - 1];
			j--;
		}
		order[j] = i;
	}
	for (uint32_t i = 0; i < n; i++) {
		w[i] = d[order[i]];
		memcpy(v + (size_t)i * n, q + (size_t)order[i] * n,
		       n * sizeof *v);
	}
out:
	free(q);
	free(e);
	free(d);
	free(order);
	return rc;
}
