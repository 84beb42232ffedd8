/* linear.c - the linear-model families beyond logistic and softmax:
 * least squares (ridge, lasso, elastic net; also solved exactly from the
 * normal equations), hinge (linear SVM), squared hinge and perceptron,
 * binary or one-vs-rest. */
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"

/* Largest dimension for the normal equations: X'X is sent in records. */
#define NORMAL_MAX_FEATURES 2048

int dml_family_is_regression(uint32_t family)
{
	return family == DML_FAMILY_LINEAR;
}

int dml_family_is_margin(uint32_t family)
{
	return family == DML_FAMILY_HINGE ||
	       family == DML_FAMILY_SQUARED_HINGE ||
	       family == DML_FAMILY_PERCEPTRON;
}

uint32_t dml_family_nout(uint32_t family, uint32_t classes)
{
	if (dml_family_is_regression(family))
		return 1;
	if (family == DML_FAMILY_LOGISTIC)
		return 1;
	if (dml_family_is_margin(family) && classes == 2)
		return 1;
	return classes;
}

/* Loss of one score z with sign s (+1 for the class, -1 against it), and
 * its derivative in *dz. */
static double margin_loss(uint32_t family, double z, double s, double *dz)
{
	double m = s * z;
	switch (family) {
	case DML_FAMILY_HINGE:
		*dz = m < 1 ? -s : 0;
		return m < 1 ? 1 - m : 0;
	case DML_FAMILY_SQUARED_HINGE:
		*dz = m < 1 ? -2 * s * (1 - m) : 0;
		return m < 1 ? (1 - m) * (1 - m) : 0;
	default: /* perceptron criterion */
		*dz = m <= 0 ? -s : 0;
		return m <= 0 ? -m : 0;
	}
}

double dml_linear_residual(const struct dml_model *m, double *z,
			   const uint32_t *y, const double *t, uint64_t nr)
{
	uint32_t k = m->nout;
	double loss = 0;
	if (dml_family_is_regression(m->family)) {
		for (uint64_t r = 0; r < nr; r++) {
			double e = z[r] - t[r];
			loss += 0.5 * e * e;
			z[r] = e;
		}
		return loss;
	}
	for (uint64_t r = 0; r < nr; r++)
		for (uint32_t c = 0; c < k; c++) {
			double s = k == 1 ? (y[r] ? 1.0 : -1.0)
					  : (y[r] == c ? 1.0 : -1.0);
			double *v = &z[r * k + c];
			loss += margin_loss(m->family, *v, s, v);
		}
	return loss;
}

enum dml_err dml_data_targets(const struct dml_data *d, double **t,
			      struct dml_error *err)
{
	uint32_t nl = d->labels.n;
	double *v = malloc(((size_t)nl + 1) * sizeof *v);
	double *out = malloc(((size_t)d->n + 1) * sizeof *out);
	if (!v || !out) {
		free(v);
		free(out);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	for (uint32_t i = 0; i < nl; i++)
		if (dml_parse_double(d->labels.s[i], &v[i])) {
			enum dml_err rc = dml_fail(err, DML_ENUMBER,
					"target '%.40s' is not a finite number",
					d->labels.s[i]);
			free(v);
			free(out);
			return rc;
		}
	for (uint64_t r = 0; r < d->n; r++)
		out[r] = d->y[r] < nl ? v[d->y[r]] : 0;
	free(v);
	*t = out;
	return DML_OK;
}

void dml_data_drop_labels(struct dml_data *d)
{
	dml_strtab_free(&d->labels);
	memset(&d->labels, 0, sizeof d->labels);
	if (d->y)
		memset(d->y, 0, (size_t)d->n * sizeof *d->y);
}

enum dml_err dml_stats_add_targets(struct dml_stats *s,
				   const struct dml_data *d, const double *t,
				   int gram, struct dml_error *err)
{
	uint32_t nf = d->schema.nfeat;
	if (gram && nf > NORMAL_MAX_FEATURES)
		return dml_fail(err, DML_EPARAM,
				"--solver normal takes at most %u features, "
				"the data has %u", NORMAL_MAX_FEATURES, nf);
	uint64_t cnt = 2 + (gram ? nf + (uint64_t)nf * (nf + 1) / 2 : 0);
	double *row = malloc(((size_t)cnt + 2 * (size_t)nf) * sizeof *row);
	struct dml_fx *acc = calloc((size_t)cnt, sizeof *acc);
	struct dml_fx *mom = calloc(2 * (size_t)nf + 1, sizeof *mom);
	if (!row || !acc || !mom) {
		free(row);
		free(acc);
		free(mom);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	/* every product is added exactly, row by row, so that the sums do
	 * not depend on how the rows are split into shards */
	for (uint64_t r = 0; r < d->n; r++) {
		const double *x = d->x + r * nf;
		uint64_t k = 0;
		row[k++] = t[r];
		row[k++] = t[r] * t[r];
		if (gram) {
			for (uint32_t i = 0; i < nf; i++)
				row[k++] = x[i] * t[r];
			for (uint32_t i = 0; i < nf; i++)
				for (uint32_t j = i; j < nf; j++)
					row[k++] = x[i] * x[j];
		}
		/* for the normal equations the feature moments (and so the
		 * scaler) are summed row by row as well */
		for (uint32_t i = 0; gram && i < nf; i++) {
			row[cnt + i] = x[i];
			row[cnt + nf + i] = x[i] * x[i];
		}
		if (dml_fx_add_doubles(acc, row, (size_t)cnt) ||
		    (gram && dml_fx_add_doubles(mom, row + cnt,
						2 * (size_t)nf))) {
			free(row);
			free(acc);
			free(mom);
			return dml_fail(err, DML_ERANGE,
					"target or feature values too large "
					"to sum exactly");
		}
	}
	free(row);
	if (gram) {
		free(s->sums);
		s->sums = mom;
	} else {
		free(mom);
	}
	/* a regression has no classes */
	dml_labels_free(&s->labels);
	free(s->tsums);
	s->tsums = acc;
	s->ntsums = cnt;
	return DML_OK;
}

/* In place: A (n x n, row-major, symmetric positive definite) = L L'.
 * Returns -1 if A is not positive definite. */
static int cholesky(double *a, uint32_t n)
{
	for (uint32_t j = 0; j < n; j++) {
		long double d = a[(size_t)j * n + j];
		for (uint32_t k = 0; k < j; k++)
			d -= (long double)a[(size_t)j * n + k] *
			     a[(size_t)j * n + k];
		if (!(d > 0))
			return -1;
		double ljj = sqrt((double)d);
		a[(size_t)j * n + j] = ljj;
		for (uint32_t i = j + 1; i < n; i++) {
			long double s = a[(size_t)i * n + j];
			for (uint32_t k = 0; k < j; k++)
				s -= (long double)a[(size_t)i * n + k] *
				     a[(size_t)j * n + k];
			a[(size_t)i * n + j] = (double)(s / ljj);
		}
	}
	return 0;
}

/* Solve L L' x = b in place. */
static void cholesky_solve(const double *l, uint32_t n, double *b)
{
	for (uint32_t i = 0; i < n; i++) {
		long double s = b[i];
		for (uint32_t k = 0; k < i; k++)
			s -= (long double)l[(size_t)i * n + k] * b[k];
		b[i] = (double)(s / l[(size_t)i * n + i]);
	}
	for (uint32_t i = n; i-- > 0;) {
		long double s = b[i];
		for (uint32_t k = i + 1; k < n; k++)
			s -= (long double)l[(size_t)k * n + i] * b[k];
		b[i] = (double)(s / l[(size_t)i * n + i]);
	}
}

/* The minimiser of (1/2n) sum (w.x' + b - t)^2 + (l2/2) |w|^2 over the
 * standardized rows x' = (x - mean) * scale: with the centred moments
 * C = X'X/n - mean mean' and c = X't/n - mean tbar,
 * (S C S + l2 I) w = S c and b = tbar. */
enum dml_err dml_model_solve_normal(struct dml_model *m,
				    const struct dml_stats *s,
				    struct dml_error *err)
{
	uint32_t nf = m->schema.nfeat;
	if (m->family != DML_FAMILY_LINEAR)
		return dml_fail(err, DML_EPARAM, "--solver normal is for "
				"-a linear only");
	if (m->params.l1 > 0)
		return dml_fail(err, DML_EPARAM, "--solver normal does not "
				"take --l1 (use the default solver)");
	if (nf > NORMAL_MAX_FEATURES)
		return dml_fail(err, DML_EPARAM,
				"--solver normal takes at most %u features, "
				"the statistics have %u", NORMAL_MAX_FEATURES,
				nf);
	if (s->ntsums != 2 + nf + (uint64_t)nf * (nf + 1) / 2)
		return dml_fail(err, DML_EFORMAT, "the statistics hold no "
				"X'X sums (make them with -a linear --solver "
				"normal --emit stats)");
	long double n = (long double)s->samples;
	long double tbar = dml_fx_to_double(&s->tsums[0]) / n;
	double *a = malloc(((size_t)nf * nf + 1) * sizeof *a);
	double *b = malloc(((size_t)nf + 1) * sizeof *b);
	if (!a || !b) {
		free(a);
		free(b);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	const struct dml_fx *xt = s->tsums + 2, *xx = s->tsums + 2 + nf;
	uint64_t k = 0;
	for (uint32_t i = 0; i < nf; i++) {
		long double mi = dml_fx_to_double(&s->sums[i]) / n;
		b[i] = (double)((dml_fx_to_double(&xt[i]) / n - mi * tbar) *
				m->scale[i]);
		for (uint32_t j = i; j < nf; j++) {
			long double mj = dml_fx_to_double(&s->sums[j]) / n;
			long double c = dml_fx_to_double(&xx[k++]) / n -
					mi * mj;
			double v = (double)(c * m->scale[i] * m->scale[j]);
			a[(size_t)i * nf + j] = a[(size_t)j * nf + i] = v;
		}
	}
	for (uint32_t i = 0; i < nf; i++) {
		a[(size_t)i * nf + i] += m->params.l2;
		if (m->scale[i] == 0) { /* constant feature: weight 0 */
			for (uint32_t j = 0; j < nf; j++)
				a[(size_t)i * nf + j] = a[(size_t)j * nf + i] =
					0;
			a[(size_t)i * nf + i] = 1;
			b[i] = 0;
		}
	}
	if (cholesky(a, nf)) {
		free(a);
		free(b);
		return dml_fail(err, DML_ERANGE, "the normal equations are "
				"singular (collinear features): add --l2");
	}
	cholesky_solve(a, nf, b);
	for (uint32_t i = 0; i < nf; i++)
		m->w[i] = b[i];
	m->w[nf] = (double)tbar;
	free(a);
	free(b);
	/* solved: the optimizer has nothing left to do */
	dml_opt_free(&m->opt);
	if (dml_opt_init(&m->opt, DML_OPT_LBFGS, dml_model_nweights(m),
			 m->params.memory, m->w))
		return dml_fail(err, DML_ENOMEM, NULL);
	m->opt.phase = DML_PHASE_DONE;
	m->opt.stop = DML_STOP_GRADIENT;
	m->iteration++;
	return DML_OK;
}
