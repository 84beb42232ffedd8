/* kmeans.c - k-means: seeding by exponential races, exact Lloyd steps.
 *
 * Seeding is k-means++: center r is a row drawn with probability
 * proportional to its squared distance w to the nearest of the centers
 * chosen before (round 0: uniformly).  The draw is an exponential race:
 * row x runs time -log(u(x)) / w(x), u(x) a uniform number hashed from
 * (seed, r, the bytes of x), and the first row home wins.  The winner is a
 * minimum, so it reduces across shards exactly and is the same whatever
 * the shards and the row order.
 *
 * Lloyd steps sum, per cluster, the rows nearest its center and count
 * them, and sum the squared distances (the inertia), as fixed point.  The
 * nearest center comes from ||x||^2 - 2 x.c + ||c||^2 with the products
 * x.c summed in a fixed order (dots), in blocks of rows.  Rows are summed
 * in doubles per fixed chunk of CHUNK rows and the chunk sums added
 * exactly, so -j does not change a bit; over shards the chunks differ, so
 * centers agree to rounding (about 1e-16 relative).
 *
 * One process (dml_kmeans_fit) reaches the same centers with less
 * reading: seeding runs only the rows whose race time may still win,
 * Lloyd steps skip rows by bounds and decide the others on rows
 * quantized to 16 bits where these prove the outcome. */
#include "kmeans.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"

#define CHUNK 4096  /* rows per exactly added partial sum */
#define BLOCK 64    /* rows per batch of products: in the cache after */
#define ELKAN_MAX_K 64 /* more centers: one lower bound per row */

enum { P_K = 20, P_MAX_ITER, P_TOL, P_SEED };

void dml_kmeans_free(struct dml_kmeans *m)
{
	dml_schema_free(&m->schema);
	free(m->c);
	dml_leaves_free(&m->leaves);
	memset(m, 0, sizeof *m);
}

void dml_kpass_free(struct dml_kpass *p)
{
	free(p->sums);
	free(p->row);
	memset(p, 0, sizeof *p);
}

const char *dml_kmeans_status(const struct dml_kmeans *m)
{
	return m->phase == DML_KM_DONE ? dml_stop_name(m->stop) : "running";
}

static uint64_t pass_count(const struct dml_kmeans *m)
{
	if (m->phase == DML_KM_SEED)
		return 1;
	return 1 + m->k + (uint64_t)m->k * m->nfeat;
}

enum dml_err dml_kmeans_from_stats(struct dml_kmeans *m,
				   const struct dml_stats *s, uint32_t k,
				   uint32_t max_iter, double tol,
				   uint64_t seed, struct dml_error *err)
{
	memset(m, 0, sizeof *m);
	uint32_t nf = s->schema.nfeat;
	if (k == 0 || k > DML_KM_MAX_K)
		return dml_fail(err, DML_EPARAM, "--k must be 1..%u",
				DML_KM_MAX_K);
	if (nf == 0)
		return dml_fail(err, DML_EPARAM, "no feature columns");
	if (k > s->samples)
		return dml_fail(err, DML_EPARAM,
				"--k %u is larger than the number of rows "
				"(%llu)", k, (unsigned long long)s->samples);
	if (!(tol >= 0) || !isfinite(tol))
		return dml_fail(err, DML_EPARAM, "--tol must be >= 0");
	if ((uint64_t)k * nf > (UINT64_C(1) << 28))
		return dml_fail(err, DML_EPARAM, "--k %u centers of %u "
				"features is too large", k, nf);
	m->k = k;
	m->nfeat = nf;
	m->max_iter = max_iter;
	m->tol = tol;
	m->seed = seed;
	double var = 0, n = (double)s->samples;
	for (uint32_t j = 0; j < nf; j++) {
		double mu = dml_fx_to_double(&s->sums[j]) / n;
		double v = dml_fx_to_double(&s->sums[nf + j]) / n - mu * mu;
		var += v > 0 ? v : 0;
	}
	m->tol_abs = tol * var / nf;
	m->inertia = NAN;
	m->shift = NAN;
	m->samples = s->samples;
	m->contributions = s->contributions;
	m->c = calloc((size_t)k * nf, sizeof *m->c);
	if (!m->c || dml_schema_copy(&m->schema, &s->schema)) {
		dml_kmeans_free(m);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	enum dml_err rc = dml_leaves_merge(&m->leaves, &s->leaves, err);
	if (rc)
		dml_kmeans_free(m);
	return rc;
}

void dml_krows_free(struct dml_krows *kr)
{
	free(kr->xn);
	free(kr->xr);
	free(kr->lo);
	free(kr->hi);
	free(kr->rh);
	memset(kr, 0, sizeof *kr);
}

static enum dml_err krows_init(struct dml_krows *kr, uint64_t n, uint32_t nf)
{
	memset(kr, 0, sizeof *kr);
	kr->n = n;
	kr->nfeat = nf;
	kr->xn = malloc(((size_t)n + 1) * sizeof *kr->xn);
	kr->xr = malloc(((size_t)n + 1) * sizeof *kr->xr);
	kr->rh = malloc(((size_t)n + 1) * sizeof *kr->rh);
	kr->lo = malloc(((size_t)nf + 1) * sizeof *kr->lo);
	kr->hi = malloc(((size_t)nf + 1) * sizeof *kr->hi);
	if (!kr->xn || !kr->xr || !kr->rh || !kr->lo || !kr->hi) {
		dml_krows_free(kr);
		return DML_ENOMEM;
	}
	for (uint32_t j = 0; j < nf; j++) {
		kr->lo[j] = INFINITY;
		kr->hi[j] = -INFINITY;
	}
	return DML_OK;
}

static void krows_add(struct dml_krows *kr, const double *x, uint64_t r0,
		      uint64_t nr);
static void sum_rows(double *part, const double *x, uint64_t nr,
		     uint32_t nf);

enum dml_err dml_kmeans_stats(struct dml_stats *s, const struct dml_data *d,
			      struct dml_krows *kr, struct dml_error *err)
{
	uint32_t nf = d->schema.nfeat;
	memset(s, 0, sizeof *s);
	s->sums = calloc(2 * (size_t)nf + 1, sizeof *s->sums);
	double *part = malloc((2 * (size_t)nf + 1) * sizeof *part);
	enum dml_err rc = DML_OK;
	if (kr && krows_init(kr, d->n, nf)) {
		kr = NULL;
		rc = dml_fail(err, DML_ENOMEM, NULL);
	}
	if (!s->sums || !part || dml_schema_copy(&s->schema, &d->schema) ||
	    dml_leaves_set1(&s->leaves, dml_data_leaf(d)))
		rc = dml_fail(err, DML_ENOMEM, NULL);
	/* in blocks of 256 rows, as dml_stats_from_data: the same sums; the
	 * rest of kr while a few rows are in the cache */
	for (uint64_t r0 = 0; !rc && r0 < d->n; r0 += 256) {
		uint64_t r1 = r0 + 256 < d->n ? r0 + 256 : d->n;
		memset(part, 0, 2 * (size_t)nf * sizeof *part);
		for (uint64_t r2 = r0; r2 < r1; r2 += 32) {
			uint64_t r3 = r2 + 32 < r1 ? r2 + 32 : r1;
			sum_rows(part, d->x + r2 * nf, r3 - r2, nf);
			if (kr)
				krows_add(kr, d->x, r2, r3 - r2);
		}
		if (dml_fx_add_doubles(s->sums, part, 2 * (size_t)nf))
			rc = dml_fail(err, DML_ERANGE, "feature values too "
				      "large to sum exactly (|sum| must stay "
				      "below 2^95)");
	}
	free(part);
	s->samples = d->n;
	s->contributions = 1;
	s->family = DML_FAMILY_KMEANS;
	if (rc) {
		dml_stats_free(s);
		if (kr)
			dml_krows_free(kr);
	}
	return rc;
}

/* ---- the record ---- */

enum dml_err dml_kmeans_encode(const struct dml_kmeans *m, struct dml_buf *b)
{
	uint64_t u;
	dml_buf_init(b);
	dml_schema_write(b, &m->schema);
	dml_buf_section(b, DML_SEC_PARAMS, 0);
	dml_buf_u32(b, P_K);
	dml_buf_u32(b, 0);
	dml_buf_u64(b, m->k);
	dml_buf_u32(b, P_MAX_ITER);
	dml_buf_u32(b, 0);
	dml_buf_u64(b, m->max_iter);
	memcpy(&u, &m->tol, 8);
	dml_buf_u32(b, P_TOL);
	dml_buf_u32(b, 1);
	dml_buf_u64(b, u);
	dml_buf_u32(b, P_SEED);
	dml_buf_u32(b, 0);
	dml_buf_u64(b, m->seed);
	dml_buf_end(b);
	dml_buf_section(b, DML_SEC_CENTERS, 0);
	dml_buf_u32(b, m->k);
	dml_buf_u32(b, m->nfeat);
	dml_buf_f64s(b, m->c, (size_t)m->k * m->nfeat);
	dml_buf_end(b);
	dml_buf_section(b, DML_SEC_KMSTATE, 0);
	dml_buf_u32(b, m->phase);
	dml_buf_u32(b, m->stop);
	dml_buf_u32(b, m->ncenters);
	dml_buf_u32(b, m->lloyd);
	dml_buf_f64(b, m->tol_abs);
	dml_buf_f64(b, m->inertia);
	dml_buf_f64(b, m->shift);
	dml_buf_end(b);
	dml_leaves_write(b, &m->leaves);
	struct dml_header h = {
		.kind = DML_KIND_MODEL, .family = DML_FAMILY_KMEANS,
		.schema = m->schema.fingerprint, .iteration = m->iteration,
		.samples = m->samples, .contributions = m->contributions,
	};
	return dml_buf_finish(b, &h);
}

static const uint32_t km_known[] = {
	DML_SEC_SCHEMA, DML_SEC_PARAMS, DML_SEC_CENTERS, DML_SEC_KMSTATE,
	DML_SEC_LEAVES,
};

static enum dml_err km_params(const struct dml_record *rec,
			      struct dml_kmeans *m, struct dml_error *err)
{
	struct dml_section sec;
	if (!dml_record_find(rec, DML_SEC_PARAMS, &sec))
		return dml_fail(err, DML_EFORMAT, "no parameters section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	while (c.left && !c.bad) {
		uint32_t key = dml_cur_u32(&c), type = dml_cur_u32(&c);
		uint64_t u = dml_cur_u64(&c);
		if (type > 1)
			c.bad = 1;
		switch (key) {
		case P_K: m->k = u > UINT32_MAX ? 0 : (uint32_t)u; break;
		case P_MAX_ITER:
			m->max_iter = u > UINT32_MAX ? UINT32_MAX
						     : (uint32_t)u;
			break;
		case P_TOL: memcpy(&m->tol, &u, 8); break;
		case P_SEED: m->seed = u; break;
		default: break; /* a newer parameter: ignored */
		}
	}
	if (c.bad)
		return dml_fail(err, DML_EFORMAT, "malformed parameters");
	if (m->k == 0 || m->k > DML_KM_MAX_K)
		return dml_fail(err, DML_EFORMAT, "bad parameter: k %u",
				m->k);
	if (!(m->tol >= 0) || !isfinite(m->tol))
		return dml_fail(err, DML_EFORMAT, "bad parameter: tol");
	return DML_OK;
}

static enum dml_err km_state(const struct dml_record *rec,
			     struct dml_kmeans *m, struct dml_error *err)
{
	struct dml_section sec;
	struct dml_cur c;
	if (!dml_record_find(rec, DML_SEC_CENTERS, &sec))
		return dml_fail(err, DML_EFORMAT, "no centers section");
	dml_cur_init(&c, &sec);
	uint32_t k = dml_cur_u32(&c), nf = dml_cur_u32(&c);
	if (c.bad || k != m->k || nf != m->nfeat)
		return dml_fail(err, DML_EFORMAT, "centers section of %u x %u "
				"for k %u and %u features", k, nf, m->k,
				m->nfeat);
	uint64_t nv = (uint64_t)k * nf;
	if (nv > c.left / 8 || c.left != nv * 8)
		return dml_fail(err, DML_EFORMAT, "malformed centers section");
	m->c = malloc((size_t)(nv ? nv : 1) * sizeof *m->c);
	if (!m->c)
		return dml_fail(err, DML_ENOMEM, NULL);
	if (!dml_cur_f64s(&c, m->c, nv))
		return dml_fail(err, DML_EFORMAT, "malformed centers section");
	for (uint64_t i = 0; i < nv; i++)
		if (!isfinite(m->c[i]))
			return dml_fail(err, DML_EFORMAT, "center value not "
					"finite");
	if (!dml_record_find(rec, DML_SEC_KMSTATE, &sec))
		return dml_fail(err, DML_EFORMAT, "no k-means state section");
	dml_cur_init(&c, &sec);
	m->phase = dml_cur_u32(&c);
	m->stop = dml_cur_u32(&c);
	m->ncenters = dml_cur_u32(&c);
	m->lloyd = dml_cur_u32(&c);
	m->tol_abs = dml_cur_f64(&c);
	m->inertia = dml_cur_f64(&c);
	m->shift = dml_cur_f64(&c);
	if (c.bad || c.left || m->phase > DML_KM_DONE ||
	    m->ncenters > m->k ||
	    (m->phase == DML_KM_SEED) != (m->ncenters < m->k) ||
	    (m->phase == DML_KM_DONE) != (m->stop != DML_STOP_NONE) ||
	    m->stop > DML_STOP_LINESEARCH || !(m->tol_abs >= 0))
		return dml_fail(err, DML_EFORMAT, "malformed k-means state "
				"section");
	return DML_OK;
}

enum dml_err dml_kmeans_decode(const struct dml_record *rec,
			       struct dml_kmeans *m, struct dml_error *err)
{
	enum dml_err rc;
	memset(m, 0, sizeof *m);
	if (rec->h.kind != DML_KIND_MODEL || rec->h.family != DML_FAMILY_KMEANS)
		return dml_fail(err, DML_EKIND, "not a kmeans model");
	if ((rc = dml_record_check_known(rec, km_known, 5, err)))
		return rc;
	if ((rc = dml_schema_read(rec, &m->schema, err)))
		return rc;
	m->nfeat = m->schema.nfeat;
	if ((rc = km_params(rec, m, err)) || (rc = km_state(rec, m, err)) ||
	    (rc = dml_leaves_read(rec, &m->leaves, err))) {
		dml_kmeans_free(m);
		return rc;
	}
	if (m->schema.fingerprint != rec->h.schema) {
		dml_kmeans_free(m);
		return dml_fail(err, DML_EFORMAT, "schema fingerprint does "
				"not match the schema section");
	}
	m->iteration = rec->h.iteration;
	m->samples = rec->h.samples;
	m->contributions = rec->h.contributions;
	return DML_OK;
}

/* ---- pass records ---- */

enum dml_err dml_kpass_encode(const struct dml_kpass *p,
			      const struct dml_header *h,
			      const struct dml_leaves *leaves,
			      struct dml_buf *b)
{
	dml_buf_init(b);
	dml_buf_section(b, DML_SEC_SUMS, 0);
	dml_buf_u64(b, p->count);
	unsigned char *q = dml_buf_reserve(b, (size_t)p->count * DML_FX_BYTES);
	if (q)
		for (uint64_t i = 0; i < p->count; i++)
			dml_fx_store(q + i * DML_FX_BYTES, &p->sums[i]);
	dml_buf_end(b);
	if (p->has_pick) {
		dml_buf_section(b, DML_SEC_KMPICK, 0);
		dml_buf_f64(b, p->key);
		dml_buf_u32(b, p->nfeat);
		dml_buf_u32(b, 0);
		dml_buf_f64s(b, p->row, p->nfeat);
		dml_buf_end(b);
	}
	dml_leaves_write(b, leaves);
	struct dml_header hh = *h;
	hh.kind = DML_KIND_GRADIENT;
	hh.family = DML_FAMILY_KMEANS;
	return dml_buf_finish(b, &hh);
}

static enum dml_err pick_read(const struct dml_record *rec,
			      struct dml_kpass *p, struct dml_error *err)
{
	struct dml_section sec;
	p->has_pick = 0;
	if (!dml_record_find(rec, DML_SEC_KMPICK, &sec))
		return DML_OK;
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	p->key = dml_cur_f64(&c);
	uint32_t nf = dml_cur_u32(&c);
	dml_cur_u32(&c);
	if (c.bad || c.left != (uint64_t)nf * 8 || !(p->key >= 0))
		return dml_fail(err, DML_EFORMAT, "malformed k-means pick "
				"section");
	free(p->row);
	p->row = malloc(((size_t)nf + 1) * sizeof *p->row);
	if (!p->row)
		return dml_fail(err, DML_ENOMEM, NULL);
	dml_cur_f64s(&c, p->row, nf);
	for (uint32_t j = 0; j < nf; j++)
		if (!isfinite(p->row[j]))
			return dml_fail(err, DML_EFORMAT, "k-means pick value "
					"not finite");
	p->nfeat = nf;
	p->has_pick = 1;
	return DML_OK;
}

enum dml_err dml_kpass_decode(const struct dml_record *rec,
			      struct dml_kpass *p, struct dml_error *err)
{
	struct dml_grad g;
	enum dml_err rc;
	memset(p, 0, sizeof *p);
	if ((rc = dml_grad_decode(rec, &g, err)))
		return rc;
	p->count = g.count;
	p->sums = g.sums;
	g.sums = NULL;
	dml_grad_free(&g);
	if ((rc = pick_read(rec, p, err)))
		dml_kpass_free(p);
	return rc;
}

/* Does (key, row a) win the race against (kb, row b)? */
static int wins(double ka, const double *a, double kb, const double *b,
		uint32_t nf)
{
	if (ka != kb)
		return ka < kb;
	return memcmp(a, b, (size_t)nf * sizeof *a) < 0;
}

enum dml_err dml_kpass_pick_merge(struct dml_kpass *dst,
				  const struct dml_record *rec,
				  struct dml_error *err)
{
	struct dml_kpass p = {0};
	enum dml_err rc = pick_read(rec, &p, err);
	if (rc || !p.has_pick) {
		dml_kpass_free(&p);
		return rc;
	}
	if (dst->has_pick && p.nfeat != dst->nfeat) {
		dml_kpass_free(&p);
		return dml_fail(err, DML_EMISMATCH, "k-means picks of %u and "
				"%u features", dst->nfeat, p.nfeat);
	}
	if (!dst->has_pick || wins(p.key, p.row, dst->key, dst->row,
				   p.nfeat)) {
		free(dst->row);
		dst->row = p.row;
		dst->key = p.key;
		dst->nfeat = p.nfeat;
		dst->has_pick = 1;
		p.row = NULL;
	}
	dml_kpass_free(&p);
	return DML_OK;
}

/* ---- the passes ---- */

/* Squared distance, summed in eight lanes in a fixed order: the same
 * bits on every machine, whatever the vector unit. */
typedef double v4d __attribute__((vector_size(32)));
typedef double v8d __attribute__((vector_size(64)));

/* The sum of dist2 and dist2_below: once the sum so far reaches lim, it
 * is returned as it is (the terms are not negative and rounding is
 * monotone, so the full sum would be no smaller). */
static inline __attribute__((always_inline)) double
dist2_sum(const double *x, const double *c, uint32_t nf, double lim)
{
	v4d s0 = {0, 0, 0, 0}, s1 = {0, 0, 0, 0};
	uint32_t j = 0;
	for (; j + 8 <= nf; j += 8) {
		v4d a0, a1, b0, b1;
		memcpy(&a0, x + j, sizeof a0);
		memcpy(&a1, x + j + 4, sizeof a1);
		memcpy(&b0, c + j, sizeof b0);
		memcpy(&b1, c + j + 4, sizeof b1);
		a0 -= b0;
		a1 -= b1;
		s0 += a0 * a0;
		s1 += a1 * a1;
		if ((j & 63) == 56) {
			v4d s = s0 + s1;
			double p = (s[0] + s[1]) + (s[2] + s[3]);
			if (p >= lim)
				return p;
		}
	}
	double t = 0;
	for (; j < nf; j++) {
		double d = x[j] - c[j];
		t += d * d;
	}
	s0 += s1;
	return ((s0[0] + s0[1]) + (s0[2] + s0[3])) + t;
}

DML_WIDE static double dist2(const double *x, const double *c, uint32_t nf)
{
	return dist2_sum(x, c, nf, INFINITY);
}

/* dist2, or a value >= lim once the sum so far reaches lim.  Below lim,
 * the bits of dist2. */
DML_WIDE static double dist2_below(const double *x, const double *c,
				  uint32_t nf, double lim)
{
	return dist2_sum(x, c, nf, lim);
}

/* out[r][q] = x_r . c_q for two rows and four centers: eight lanes, lane
 * l summing the products of the features j = l (mod 8) in order, the
 * lanes added pairwise, then the rest of the features in order.  The
 * same bits for a row and a center whatever the others. */
static inline __attribute__((always_inline)) double
lanes(const v8d *v)
{
	const double *s = (const double *)v;
	return ((s[0] + s[1]) + (s[2] + s[3])) +
	       ((s[4] + s[5]) + (s[6] + s[7]));
}

static inline __attribute__((always_inline)) void
dot2x4(const double *x0, const double *x1, const double *const *c,
       uint32_t nf, double out[2][4])
{
	const double *c0 = c[0], *c1 = c[1], *c2 = c[2], *c3 = c[3];
	v8d a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0};
	v8d a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
	uint32_t j = 0;
	for (; j + 8 <= nf; j += 8) {
		v8d r0, r1, q;
		memcpy(&r0, x0 + j, sizeof r0);
		memcpy(&r1, x1 + j, sizeof r1);
		memcpy(&q, c0 + j, sizeof q);
		a00 += r0 * q;
		a10 += r1 * q;
		memcpy(&q, c1 + j, sizeof q);
		a01 += r0 * q;
		a11 += r1 * q;
		memcpy(&q, c2 + j, sizeof q);
		a02 += r0 * q;
		a12 += r1 * q;
		memcpy(&q, c3 + j, sizeof q);
		a03 += r0 * q;
		a13 += r1 * q;
	}
	out[0][0] = lanes(&a00);
	out[0][1] = lanes(&a01);
	out[0][2] = lanes(&a02);
	out[0][3] = lanes(&a03);
	out[1][0] = lanes(&a10);
	out[1][1] = lanes(&a11);
	out[1][2] = lanes(&a12);
	out[1][3] = lanes(&a13);
	for (uint32_t i = j; i < nf; i++)
		for (int q = 0; q < 4; q++) {
			out[0][q] += x0[i] * c[q][i];
			out[1][q] += x1[i] * c[q][i];
		}
}

/* g (nr x k, row-major) = the products of rows and centers, row i of x
 * being x + idx[i] * nf (idx NULL: i). */
DML_WIDE static void dots(const double *x, const uint64_t *idx, uint64_t nr,
			 const double *c, uint32_t k, uint32_t nf, double *g)
{
	for (uint64_t i = 0; i < nr; i += 2) {
		uint64_t i1 = i + 1 < nr ? i + 1 : i;
		const double *x0 = x + (idx ? idx[i] : i) * nf;
		const double *x1 = x + (idx ? idx[i1] : i1) * nf;
		for (uint32_t q0 = 0; q0 < k; q0 += 4) {
			const double *cp[4];
			double out[2][4];
			for (uint32_t q = 0; q < 4; q++)
				cp[q] = c + (size_t)(q0 + q < k ? q0 + q
							    : k - 1) * nf;
			dot2x4(x0, x1, cp, nf, out);
			for (uint32_t q = 0; q < 4 && q0 + q < k; q++) {
				g[i * k + q0 + q] = out[0][q];
				if (i1 != i)
					g[i1 * k + q0 + q] = out[1][q];
			}
		}
	}
}

/* s += a * x elementwise, a 1 or -1: the same bits as a loop. */
DML_WIDE static void add_row(double *s, const double *x, uint32_t nf, int neg)
{
	if (neg)
		for (uint32_t j = 0; j < nf; j++)
			s[j] -= x[j];
	else
		for (uint32_t j = 0; j < nf; j++)
			s[j] += x[j];
}

/* ---- in 16 bits, as a filter ----
 *
 * One process also keeps the rows quantized to 16 bits a value, a
 * quarter of the bytes to read, to see which center is nearest in the
 * Lloyd steps after the first.  Where the quantized rows leave a doubt,
 * the doubles decide as in a pass: the quantized rows only spare work
 * whose outcome they prove.  Feature j runs from lo_j in 65535 steps of
 * s_j: x_j = lo_j + q_j s_j + e_j, |e_j| <= s_j / 2 (and rounding), so
 * x.c = sum lo_j c_j + sum q_j (s_j c_j) + sum e_j c_j.  The middle sum
 * is taken in floats, from s_j c_j rounded to floats (within 2^-24 of
 * it), and a sum of m terms errs by at most m 2^-24 of the sum of their
 * magnitudes, here below 65535 sum |s_j c_j|.  The bounds below are
 * these, and more. */

#define Q_MAX 0x1p40 /* values larger in magnitude: no filter */
#define Q_STEPS 65535

typedef float v16f __attribute__((vector_size(64)));
typedef unsigned short v16u __attribute__((vector_size(32)));

struct km_q {
	uint16_t *x;           /* the rows, n x nf */
	double *lo, *s, *inv;  /* nf each: the grid, 1 / s (0 for s 0) */
	float *cs;             /* k x nf: s_j c_j of each center */
	double *base, *err;    /* k each: sum lo_j c_j, bound on the error */
};

static inline __attribute__((always_inline)) float lanes32(const v16f *v)
{
	const float *s = (const float *)v;
	return (((s[0] + s[1]) + (s[2] + s[3])) +
		((s[4] + s[5]) + (s[6] + s[7]))) +
	       (((s[8] + s[9]) + (s[10] + s[11])) +
		((s[12] + s[13]) + (s[14] + s[15])));
}

/* 16 values of a quantized row, as floats */
#define LOAD16(v, p) do {						\
		v16u u_;						\
		memcpy(&u_, (p), sizeof u_);				\
		(v) = __builtin_convertvector(u_, v16f);		\
	} while (0)

static inline __attribute__((always_inline)) void
dot16_2x4(const uint16_t *x0, const uint16_t *x1, const float *const *c,
	  uint32_t nf, double out[2][4])
{
	const float *c0 = c[0], *c1 = c[1], *c2 = c[2], *c3 = c[3];
	v16f a00 = {0}, a01 = {0}, a02 = {0}, a03 = {0};
	v16f a10 = {0}, a11 = {0}, a12 = {0}, a13 = {0};
	uint32_t j = 0;
	for (; j + 16 <= nf; j += 16) {
		v16f r0, r1, q;
		LOAD16(r0, x0 + j);
		LOAD16(r1, x1 + j);
		memcpy(&q, c0 + j, sizeof q);
		a00 += r0 * q;
		a10 += r1 * q;
		memcpy(&q, c1 + j, sizeof q);
		a01 += r0 * q;
		a11 += r1 * q;
		memcpy(&q, c2 + j, sizeof q);
		a02 += r0 * q;
		a12 += r1 * q;
		memcpy(&q, c3 + j, sizeof q);
		a03 += r0 * q;
		a13 += r1 * q;
	}
	float o[2][4] = {
		{ lanes32(&a00), lanes32(&a01), lanes32(&a02), lanes32(&a03) },
		{ lanes32(&a10), lanes32(&a11), lanes32(&a12), lanes32(&a13) },
	};
	for (uint32_t i = j; i < nf; i++)
		for (int q = 0; q < 4; q++) {
			o[0][q] += (float)x0[i] * c[q][i];
			o[1][q] += (float)x1[i] * c[q][i];
		}
	for (int q = 0; q < 4; q++) {
		out[0][q] = o[0][q];
		out[1][q] = o[1][q];
	}
}

/* g (nr x k) = sum q_j cs_j of the quantized rows idx and the centers,
 * in floats. */
DML_WIDE static void dots16(const uint16_t *x, const uint64_t *idx,
			   uint64_t nr, const float *c, uint32_t k,
			   uint32_t nf, double *g)
{
	for (uint64_t i = 0; i < nr; i += 2) {
		uint64_t i1 = i + 1 < nr ? i + 1 : i;
		const uint16_t *x0 = x + idx[i] * nf;
		const uint16_t *x1 = x + idx[i1] * nf;
		/* the rows are apart: fetch the next two ahead */
		for (uint64_t t = i + 2; t < i + 4 && t < nr; t++) {
			const char *p = (const char *)(x + idx[t] * nf);
			for (size_t b = 0; b < (size_t)nf * sizeof *x; b += 64)
				__builtin_prefetch(p + b);
		}
		for (uint32_t q0 = 0; q0 < k; q0 += 4) {
			const float *cp[4];
			double out[2][4];
			for (uint32_t q = 0; q < 4; q++)
				cp[q] = c + (size_t)(q0 + q < k ? q0 + q
							    : k - 1) * nf;
			dot16_2x4(x0, x1, cp, nf, out);
			for (uint32_t q = 0; q < 4 && q0 + q < k; q++) {
				g[i * k + q0 + q] = out[0][q];
				if (i1 != i)
					g[i1 * k + q0 + q] = out[1][q];
			}
		}
	}
}

/* The least and greatest value of each feature over nr rows, into lo
 * and hi. */
DML_WIDE static void min_max(const double *x, uint64_t nr, uint32_t nf,
			    double *lo, double *hi)
{
	for (uint64_t r = 0; r < nr; r++) {
		const double *xr = x + r * nf;
		for (uint32_t j = 0; j < nf; j++) {
			lo[j] = xr[j] < lo[j] ? xr[j] : lo[j];
			hi[j] = xr[j] > hi[j] ? xr[j] : hi[j];
		}
	}
}

/* Row x on the grid: q_j = (x_j - lo_j) / s_j rounded, within 0..65535. */
DML_WIDE static void quantize(const double *x, const struct km_q *q,
			     uint32_t nf, uint16_t *out)
{
	for (uint32_t j = 0; j < nf; j++) {
		double v = (x[j] - q->lo[j]) * q->inv[j] + 0.5;
		v = v > 0 ? v : 0;
		v = v < Q_STEPS ? v : Q_STEPS;
		out[j] = (uint16_t)v;
	}
}

/* The grid from the least and greatest values; 0 if these are too large
 * for the bounds. */
static int q_grid(struct km_q *q, const double *hi, uint32_t nf)
{
	for (uint32_t j = 0; j < nf; j++) {
		if (!(q->lo[j] >= -Q_MAX && hi[j] <= Q_MAX))
			return 0;
		q->s[j] = (hi[j] - q->lo[j]) / Q_STEPS;
		q->inv[j] = q->s[j] > 0 ? 1 / q->s[j] : 0;
	}
	return 1;
}

/* cs, base and err of k centers c. */
static void q_centers(struct km_q *q, const double *c, uint32_t k,
		      uint32_t nf)
{
	for (uint32_t i = 0; i < k; i++) {
		const double *ci = c + (size_t)i * nf;
		float *cs = q->cs + (size_t)i * nf;
		double base = 0, lo_mag = 0, cs_mag = 0, qerr = 0;
		for (uint32_t j = 0; j < nf; j++) {
			cs[j] = (float)(q->s[j] * ci[j]);
			base += q->lo[j] * ci[j];
			lo_mag += fabs(q->lo[j] * ci[j]);
			cs_mag += fabs((double)cs[j]);
			/* |e_j|: half a step, the rounding of the grid */
			double e = q->s[j] * (0.5 + 0x1p-20) +
				   0x1p-45 * (fabs(q->lo[j]) +
					      q->s[j] * Q_STEPS);
			qerr += e * fabs(ci[j]);
		}
		q->base[i] = base;
		q->err[i] = (qerr + (double)Q_STEPS * cs_mag *
			     (double)(nf / 16 + 40) * 0x1p-23 +
			     (double)(nf + 2) * 0x1p-50 * lo_mag) *
			    (1 + 0x1p-20) + (double)(nf + 1) * 0x1p-100;
	}
}

void dml_kmeans_norms(const double *x, uint64_t n, uint32_t nf, double *xn)
{
	for (uint64_t r = 0; r < n; r++) {
		const double *xr = x + r * nf;
		double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
		uint32_t j = 0;
		for (; j + 4 <= nf; j += 4) {
			s0 += xr[j] * xr[j];
			s1 += xr[j + 1] * xr[j + 1];
			s2 += xr[j + 2] * xr[j + 2];
			s3 += xr[j + 3] * xr[j + 3];
		}
		for (; j < nf; j++)
			s0 += xr[j] * xr[j];
		xn[r] = (s0 + s1) + (s2 + s3);
	}
}

static uint64_t mix64(uint64_t z)
{
	z += UINT64_C(0x9e3779b97f4a7c15);
	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t row_hash(const double *x, uint32_t nf)
{
	return dml_hash(x, (size_t)nf * sizeof *x, DML_HASH_SEED);
}

/* The race time of the row hashed to h in round r: -log(u) / w, with u
 * in (0, 1] drawn from (seed, r, h). */
static double race(uint64_t seed, uint64_t round, uint64_t h, double w)
{
	uint64_t v = mix64(h ^ mix64(seed ^ mix64(round)));
	double u = (double)((v >> 11) + 1) * 0x1p-53;
	return -log(u) / w;
}

struct job {
	const struct dml_kmeans *m;
	const double *x, *xn;
	const double *cn;      /* squared center norms (Lloyd) */
	int inertia_only;      /* Lloyd: no counts nor sums */
	uint64_t n, count;
	atomic_uint_fast64_t next;
	atomic_int failed;
};

struct worker {
	struct job *j;
	pthread_t tid;
	enum dml_err rc;
	struct dml_fx *acc;
	double *part, *g, *xnb;
	int has_pick;
	double key;
	uint64_t pick;
};

static void seed_chunk(struct worker *w, uint64_t c0, uint64_t c1)
{
	const struct job *j = w->j;
	const struct dml_kmeans *m = j->m;
	uint32_t nf = m->nfeat, nc = m->ncenters;
	for (uint64_t r = c0; r < c1; r++) {
		const double *x = j->x + r * nf;
		double d = 1;
		if (nc > 0) {
			d = INFINITY;
			for (uint32_t c = 0; c < nc; c++) {
				double e = dist2(x, m->c + (size_t)c * nf, nf);
				if (e < d)
					d = e;
			}
		}
		if (!(d > 0))
			continue; /* a center already */
		w->part[0] += d;
		uint64_t h = row_hash(x, nf);
		double key = race(m->seed, nc, h, d);
		if (!w->has_pick || wins(key, x, w->key,
					 j->x + w->pick * nf, nf)) {
			w->has_pick = 1;
			w->key = key;
			w->pick = r;
		}
	}
}

static void lloyd_chunk(struct worker *w, uint64_t c0, uint64_t c1)
{
	const struct job *j = w->j;
	const struct dml_kmeans *m = j->m;
	uint32_t nf = m->nfeat, k = m->k;
	double *cnt = w->part + 1, *sum = w->part + 1 + k;
	for (uint64_t r0 = c0; r0 < c1; r0 += BLOCK) {
		uint64_t nr = c1 - r0 < BLOCK ? c1 - r0 : BLOCK;
		const double *xb = j->x + r0 * nf;
		const double *xn = j->xn ? j->xn + r0 : w->xnb;
		if (!j->xn)
			dml_kmeans_norms(xb, nr, nf, w->xnb);
		dots(xb, NULL, nr, m->c, k, nf, w->g);
		for (uint64_t r = 0; r < nr; r++) {
			const double *g = w->g + r * k;
			uint32_t best = 0;
			double bd = j->cn[0] - 2 * g[0];
			for (uint32_t c = 1; c < k; c++) {
				double d = j->cn[c] - 2 * g[c];
				if (d < bd) {
					bd = d;
					best = c;
				}
			}
			double d2 = xn[r] + bd;
			w->part[0] += d2 > 0 ? d2 : 0;
			if (j->inertia_only)
				continue;
			cnt[best] += 1;
			add_row(sum + (size_t)best * nf, xb + r * nf, nf, 0);
		}
	}
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct job *j = w->j;
	int seed = j->m->phase == DML_KM_SEED;
	while (!w->rc && !atomic_load(&j->failed)) {
		uint64_t c = atomic_fetch_add(&j->next, 1);
		uint64_t c0 = c * CHUNK;
		if (c0 >= j->n)
			break;
		uint64_t c1 = j->n - c0 < CHUNK ? j->n : c0 + CHUNK;
		memset(w->part, 0, (size_t)j->count * sizeof *w->part);
		if (seed)
			seed_chunk(w, c0, c1);
		else
			lloyd_chunk(w, c0, c1);
		if (dml_fx_add_doubles(w->acc, w->part, (size_t)j->count)) {
			w->rc = DML_ERANGE;
			atomic_store(&j->failed, 1);
		}
	}
	return NULL;
}

static enum dml_err worker_init(struct worker *w, struct job *j)
{
	uint32_t k = j->m->k;
	w->j = j;
	w->acc = calloc(j->count, sizeof *w->acc);
	w->part = malloc((size_t)j->count * sizeof *w->part);
	w->g = malloc((size_t)BLOCK * k * sizeof *w->g);
	w->xnb = malloc(BLOCK * sizeof *w->xnb);
	return w->acc && w->part && w->g && w->xnb ? DML_OK : DML_ENOMEM;
}

static void worker_free(struct worker *w)
{
	free(w->acc);
	free(w->part);
	free(w->g);
	free(w->xnb);
}

/* Chunks go to threads in any order; each sums exactly, and the thread
 * sums add exactly, the race winner is a minimum: the same for any -j. */
static enum dml_err run_pass(const struct dml_kmeans *m, const double *x,
			     const double *xn, uint64_t n, int inertia_only,
			     struct dml_kpass *p, struct dml_error *err)
{
	uint32_t k = m->k, nf = m->nfeat;
	struct job j = { .m = m, .x = x, .xn = xn, .n = n,
			 .inertia_only = inertia_only,
			 .count = pass_count(m) };
	uint64_t nchunks = (n + CHUNK - 1) / CHUNK;
	uint32_t nt = m->threads ? m->threads : 1;
	if (nt > nchunks)
		nt = nchunks ? (uint32_t)nchunks : 1;
	atomic_init(&j.next, 0);
	atomic_init(&j.failed, 0);
	memset(p, 0, sizeof *p);
	double *cn = NULL;
	struct worker *w = calloc(nt, sizeof *w);
	enum dml_err rc = w ? DML_OK : DML_ENOMEM;
	if (!rc && m->phase == DML_KM_LLOYD) {
		cn = malloc((size_t)k * sizeof *cn);
		if (!cn)
			rc = DML_ENOMEM;
		else
			dml_kmeans_norms(m->c, k, nf, cn);
		j.cn = cn;
	}
	uint32_t started = 0;
	for (uint32_t t = 0; !rc && t < nt; t++) {
		if ((rc = worker_init(&w[t], &j))) {
			worker_free(&w[t]);
			break;
		}
		if (t > 0 && pthread_create(&w[t].tid, NULL, work, &w[t])) {
			worker_free(&w[t]);
			rc = DML_ENOMEM;
			break;
		}
		started = t + 1;
	}
	if (started > 0)
		work(&w[0]);
	for (uint32_t t = 1; t < started; t++)
		pthread_join(w[t].tid, NULL);
	p->count = j.count;
	p->nfeat = nf;
	for (uint32_t t = 0; t < started; t++) {
		if (!rc)
			rc = w[t].rc;
		if (t == 0) {
			p->sums = w[0].acc;
			w[0].acc = NULL;
		} else {
			for (uint64_t i = 0; !rc && i < j.count; i++)
				if (dml_fx_add(&p->sums[i], &w[t].acc[i]))
					rc = DML_ERANGE;
		}
		const double *row = x + w[t].pick * nf;
		if (w[t].has_pick && (!p->has_pick ||
				      wins(w[t].key, row, p->key, p->row,
					   nf))) {
			p->has_pick = 1;
			p->key = w[t].key;
			p->row = (double *)row;
		}
	}
	for (uint32_t t = 0; t < started; t++)
		worker_free(&w[t]);
	free(w);
	free(cn);
	if (p->has_pick) {
		double *row = malloc(((size_t)nf + 1) * sizeof *row);
		if (row)
			memcpy(row, p->row, (size_t)nf * sizeof *row);
		else if (!rc)
			rc = DML_ENOMEM;
		p->row = row;
	}
	if (!rc && !p->sums && !(p->sums = calloc(j.count, sizeof *p->sums)))
		rc = DML_ENOMEM;
	if (rc) {
		dml_kpass_free(p);
		if (rc == DML_ENOMEM)
			return dml_fail(err, rc, NULL);
		return dml_fail(err, DML_ERANGE, "feature values too large "
				"to sum exactly (|sum| must stay below 2^95)");
	}
	return DML_OK;
}

enum dml_err dml_kmeans_pass(const struct dml_kmeans *m, const double *x,
			     const double *xn, uint64_t n,
			     struct dml_kpass *p, struct dml_error *err)
{
	return run_pass(m, x, xn, n, 0, p, err);
}

/* ---- the update ---- */

enum dml_err dml_kmeans_step(struct dml_kmeans *m, const struct dml_kpass *p,
			     struct dml_error *err)
{
	uint32_t k = m->k, nf = m->nfeat;
	if (m->phase == DML_KM_DONE)
		return DML_OK;
	if (p->count != pass_count(m))
		return dml_fail(err, DML_EFORMAT, "k-means pass of %llu "
				"values, the model wants %llu",
				(unsigned long long)p->count,
				(unsigned long long)pass_count(m));
	if (m->phase == DML_KM_SEED) {
		if (!p->has_pick)
			return dml_fail(err, DML_EPARAM, "the data have only "
					"%u distinct rows: fewer than --k %u",
					m->ncenters, k);
		if (p->nfeat != nf)
			return dml_fail(err, DML_EFORMAT, "k-means pick of %u "
					"features, the model has %u",
					p->nfeat, nf);
		memcpy(m->c + (size_t)m->ncenters * nf, p->row,
		       (size_t)nf * sizeof *m->c);
		m->ncenters++;
		if (m->ncenters == k)
			m->phase = DML_KM_LLOYD;
		m->iteration++;
		return DML_OK;
	}
	const struct dml_fx *cnt = p->sums + 1, *sum = p->sums + 1 + k;
	double shift = 0;
	for (uint32_t c = 0; c < k; c++) {
		double n = dml_fx_to_double(&cnt[c]);
		if (n <= 0)
			continue; /* an empty cluster keeps its center */
		double *cc = m->c + (size_t)c * nf;
		for (uint32_t f = 0; f < nf; f++) {
			double v = dml_fx_to_double(&sum[(size_t)c * nf + f]) /
				   n;
			shift += (v - cc[f]) * (v - cc[f]);
			cc[f] = v;
		}
	}
	m->inertia = dml_fx_to_double(&p->sums[0]);
	m->shift = shift;
	m->lloyd++;
	m->iteration++;
	if (shift <= m->tol_abs) {
		m->phase = DML_KM_DONE;
		m->stop = DML_STOP_GRADIENT;
	} else if (m->lloyd >= m->max_iter) {
		m->phase = DML_KM_DONE;
		m->stop = DML_STOP_MAXITER;
	}
	return DML_OK;
}

enum dml_err dml_kmeans_apply(struct dml_kmeans *m, uint64_t model_hash,
			      const struct dml_record *rec,
			      struct dml_error *err)
{
	const struct dml_header *h = &rec->h;
	if (h->kind != DML_KIND_GRADIENT)
		return dml_fail(err, DML_EKIND, "cannot apply %s %s record to "
				"a kmeans model", dml_kind_article(h->kind),
				dml_kind_name(h->kind));
	if (h->family != DML_FAMILY_KMEANS)
		return dml_fail(err, DML_EMISMATCH,
				"gradient of a %s model applied to a kmeans "
				"model", dml_family_name(h->family));
	if (h->schema != m->schema.fingerprint)
		return dml_fail(err, DML_ESCHEMA, "pass and model have "
				"different feature schemas");
	if (h->iteration != m->iteration)
		return dml_fail(err, DML_EMISMATCH,
				"pass was taken at iteration %llu, the model "
				"is at iteration %llu",
				(unsigned long long)h->iteration,
				(unsigned long long)m->iteration);
	if (h->basis != model_hash)
		return dml_fail(err, DML_EMISMATCH, "pass was taken at "
				"another model of the same iteration");
	struct dml_kpass p;
	enum dml_err rc = dml_kpass_decode(rec, &p, err);
	if (rc)
		return rc;
	struct dml_leaves leaves;
	if ((rc = dml_leaves_read(rec, &leaves, err))) {
		dml_kpass_free(&p);
		return rc;
	}
	if (!dml_leaves_equal(&leaves, &m->leaves))
		rc = dml_fail(err, DML_EMISMATCH,
			      "pass covers %llu shard%s (%llu rows), the "
			      "model was set up on %llu shard%s (%llu rows)",
			      (unsigned long long)leaves.n,
			      leaves.n == 1 ? "" : "s",
			      (unsigned long long)h->samples,
			      (unsigned long long)m->leaves.n,
			      m->leaves.n == 1 ? "" : "s",
			      (unsigned long long)m->samples);
	dml_leaves_free(&leaves);
	if (!rc)
		rc = dml_kmeans_step(m, &p, err);
	dml_kpass_free(&p);
	return rc;
}

/* ---- Lloyd steps in one process, skipping what cannot change ----
 *
 * The same steps as passes and dml_kmeans_step give, with Hamerly's
 * bounds: u, an upper bound on a row's distance to its center, and l, a
 * lower bound on its distance to any other.  A row with u below l and
 * below half the distance from its center to the next keeps its center;
 * its bytes are not even read.  With few centers, l is kept per center
 * (Elkan's bounds), and a row is skipped when u is below the bound of
 * each other center or below half that center's distance from its own.
 * The others are assigned exactly as in a
 * pass (the same products, the same comparisons), in batches.  The
 * per-cluster sums are kept exact: a row that changes cluster moves its
 * values, in fixed point, from one sum to the other.  The bounds are
 * widened by a margin far above the rounding of the products, so that
 * skipping never changes an assignment. */

struct hamerly {
	const struct dml_kmeans *m;
	const double *x, *xn;
	uint64_t n;
	uint32_t *a;
	double *u, *l;             /* distances, not squared */
	uint32_t lw;               /* bounds per row in l: 1, or k */
	struct dml_fx *acc;        /* 1 + k + k*nf: 0, counts, sums */
	double *delta;             /* the same, moves of this step */
	double *cn, *g, *half;     /* half: k, or k x k pairs */
	double *dd;                /* 2 k: distances and errors of a row */
	const struct km_q *q;      /* the quantized rows, or NULL */
	uint64_t *idx;
	uint32_t nb;
};

/* Row r goes to center best: move its values between the sums. */
static enum dml_err ham_move(struct hamerly *h, uint64_t r, uint32_t best,
			     int first)
{
	uint32_t k = h->m->k, nf = h->m->nfeat;
	if (!first && best == h->a[r])
		return DML_OK;
	const double *x = h->x + r * nf;
	double *cnt = h->delta + 1, *sum = h->delta + 1 + k;
	if (first) {
		/* the rows come in order: sum them per chunk, as a pass
		 * does, while they are at hand */
		cnt[best] += 1;
		add_row(sum + (size_t)best * nf, x, nf, 0);
		if ((r + 1) % CHUNK == 0 || r + 1 == h->n) {
			size_t count = 1 + k + (size_t)k * nf;
			if (dml_fx_add_doubles(h->acc, h->delta, count))
				return DML_ERANGE;
			memset(h->delta, 0, count * sizeof *h->delta);
		}
	} else {
		cnt[h->a[r]] -= 1;
		cnt[best] += 1;
		add_row(sum + (size_t)h->a[r] * nf, x, nf, 1);
		add_row(sum + (size_t)best * nf, x, nf, 0);
	}
	h->a[r] = best;
	return DML_OK;
}

/* Assign row r from its products g exactly as lloyd_chunk does. */
static enum dml_err ham_exact(struct hamerly *h, uint64_t r, const double *g,
			      int first)
{
	uint32_t k = h->m->k;
	uint32_t best = 0;
	double bd = h->cn[0] - 2 * g[0], sd = INFINITY;
	for (uint32_t c = 1; c < k; c++) {
		double d = h->cn[c] - 2 * g[c];
		if (d < bd) {
			sd = bd;
			bd = d;
			best = c;
		} else if (d < sd) {
			sd = d;
		}
	}
	double b2 = h->xn[r] + bd, s2 = h->xn[r] + sd;
	h->u[r] = sqrt(b2 > 0 ? b2 : 0);
	if (h->lw == 1) {
		h->l[r] = sqrt(s2 > 0 ? s2 : 0);
	} else {
		double *l = h->l + r * k;
		for (uint32_t c = 0; c < k; c++) {
			double t = h->xn[r] + (h->cn[c] - 2 * g[c]);
			l[c] = sqrt(t > 0 ? t : 0);
		}
	}
	return ham_move(h, r, best, first);
}

/* Assign row r from its quantized products g if they prove which center
 * is nearest: each squared distance within e of xn + cn - 2 (base + g),
 * the nearest nearer than any other by both errors.  Bounds from the
 * same intervals.  0 if they do not prove it. */
static int ham_quick(struct hamerly *h, uint64_t r, const double *g,
		     enum dml_err *rc)
{
	uint32_t k = h->m->k, nf = h->m->nfeat;
	double *d = h->dd, *e = h->dd + k;
	double xn = h->xn[r];
	uint32_t best = 0;
	for (uint32_t c = 0; c < k; c++) {
		double dot = h->q->base[c] + g[c];
		d[c] = xn + (h->cn[c] - 2 * dot);
		/* and the rounding of these doubles */
		e[c] = 2 * h->q->err[c] + (double)(nf + 16) * 0x1p-50 *
		       (xn + h->cn[c] + 2 * fabs(dot));
		if (d[c] < d[best])
			best = c;
	}
	double hi = d[best] + e[best], lo = INFINITY;
	for (uint32_t c = 0; c < k; c++)
		if (c != best && d[c] - e[c] < lo)
			lo = d[c] - e[c];
	if (!(hi < lo))
		return 0;
	h->u[r] = sqrt(hi > 0 ? hi : 0);
	if (h->lw == 1) {
		h->l[r] = sqrt(lo > 0 ? lo : 0);
	} else {
		double *l = h->l + r * k;
		for (uint32_t c = 0; c < k; c++) {
			double t = d[c] - e[c];
			l[c] = sqrt(t > 0 ? t : 0);
		}
	}
	*rc = ham_move(h, r, best, 0);
	return 1;
}

/* Assign the rows of the batch exactly as lloyd_chunk does; after the
 * first step, from the quantized rows where they prove the outcome.  The
 * first step quantizes the rows. */
static enum dml_err ham_batch(struct hamerly *h, int first)
{
	const struct dml_kmeans *m = h->m;
	uint32_t k = m->k, nf = m->nfeat, nb = h->nb;
	enum dml_err rc = DML_OK;
	h->nb = 0;
	if (!nb)
		return DML_OK;
	if (!first && h->q) {
		uint32_t left = 0;
		dots16(h->q->x, h->idx, nb, h->q->cs, k, nf, h->g);
		for (uint32_t i = 0; !rc && i < nb; i++)
			if (!ham_quick(h, h->idx[i], h->g + (size_t)i * k,
				       &rc))
				h->idx[left++] = h->idx[i];
		nb = left;
	}
	if (rc || !nb)
		return rc;
	dots(h->x, h->idx, nb, m->c, k, nf, h->g);
	for (uint32_t i = 0; !rc && i < nb; i++)
		rc = ham_exact(h, h->idx[i], h->g + (size_t)i * k, first);
	for (uint32_t i = 0; first && h->q && i < nb; i++)
		quantize(h->x + h->idx[i] * nf, h->q, nf,
			 h->q->x + h->idx[i] * nf);
	return rc;
}

static enum dml_err ham_add(struct hamerly *h, uint64_t r, int first)
{
	h->idx[h->nb++] = r;
	return h->nb == BLOCK ? ham_batch(h, first) : DML_OK;
}

static void ham_half(struct hamerly *h)
{
	const struct dml_kmeans *m = h->m;
	uint32_t k = m->k, nf = m->nfeat;
	for (uint32_t c = 0; c < k; c++) {
		h->half[c] = INFINITY;
		if (h->lw > 1) /* a center is no other center */
			h->half[k + (size_t)c * k + c] = INFINITY;
	}
	for (uint32_t c = 0; c < k; c++)
		for (uint32_t e = c + 1; e < k; e++) {
			double d = 0.5 * sqrt(dist2(m->c + (size_t)c * nf,
						    m->c + (size_t)e * nf,
						    nf));
			if (h->lw > 1) {
				h->half[k + (size_t)c * k + e] = d;
				h->half[k + (size_t)e * k + c] = d;
			}
			if (d < h->half[c])
				h->half[c] = d;
			if (d < h->half[e])
				h->half[e] = d;
		}
}

/* Is the distance u below lim by the margin? */
static int far_enough(double u, double lim, double eps)
{
	return u * u + eps < lim * lim && lim > 0 && u < lim;
}

/* Move the row's bounds by the centers' moves; does it keep its center?
 * Every other center is farther by its own bound or by half its
 * distance from the row's center. */
static int elkan_keeps(struct hamerly *h, uint64_t r, const double *move,
		       double eps)
{
	uint32_t k = h->m->k, a = h->a[r];
	double *l = h->l + r * k, u = h->u[r], uu = u * u + eps;
	const double *half = h->half + k + (size_t)a * k;
	int keep = 1;
	/* far_enough for every c, without branches: half[a] is infinite */
	for (uint32_t c = 0; c < k; c++) {
		l[c] -= move[c];
		double lim = l[c] > half[c] ? l[c] : half[c];
		keep &= (uu < lim * lim) & (lim > 0) & (u < lim);
	}
	return keep;
}

static enum dml_err fit_lloyd(struct dml_kmeans *m, const double *x,
			      const double *xn, const struct km_q *q,
			      uint64_t n, dml_kmeans_progress_fn progress,
			      void *ctx, struct dml_error *err)
{
	uint32_t k = m->k, nf = m->nfeat;
	uint64_t count = 1 + k + (uint64_t)k * nf;
	struct hamerly h = { .m = m, .x = x, .xn = xn, .n = n, .q = q };
	/* bounds per center while they take no more room than a row (or
	 * than 32 values) */
	h.lw = k > 1 && k <= ELKAN_MAX_K && k <= (nf > 32 ? nf : 32) ? k : 1;
	h.a = malloc(((size_t)n + 1) * sizeof *h.a);
	h.u = malloc(((size_t)n + 1) * sizeof *h.u);
	h.l = malloc(((size_t)n * h.lw + 1) * sizeof *h.l);
	h.acc = calloc(count, sizeof *h.acc);
	h.delta = calloc(count, sizeof *h.delta);
	h.cn = malloc((size_t)k * sizeof *h.cn);
	h.half = malloc(((size_t)k + (h.lw > 1 ? (size_t)k * k : 0)) *
			sizeof *h.half);
	h.g = malloc((size_t)BLOCK * k * sizeof *h.g);
	h.idx = malloc(BLOCK * sizeof *h.idx);
	h.dd = malloc(2 * (size_t)k * sizeof *h.dd);
	double *old = malloc((size_t)k * nf * sizeof *old);
	double *move = malloc((size_t)k * sizeof *move);
	enum dml_err rc = DML_OK;
	if (!h.a || !h.u || !h.l || !h.acc || !h.delta || !h.cn || !h.half || !h.g ||
	    !h.idx || !h.dd || !old || !move)
		rc = DML_ENOMEM;
	if (!rc) {
		dml_kmeans_norms(m->c, k, nf, h.cn);
		for (uint64_t r = 0; !rc && r < n; r++)
			rc = ham_add(&h, r, 1);
		if (!rc)
			rc = ham_batch(&h, 1);
	}
	while (!rc && m->phase == DML_KM_LLOYD) {
		struct dml_kpass p = { .count = count, .sums = h.acc };
		memcpy(old, m->c, (size_t)k * nf * sizeof *old);
		if ((rc = dml_kmeans_step(m, &p, err)))
			break;
		m->inertia = NAN; /* not summed here: skipped rows */
		if (m->phase == DML_KM_DONE)
			break;
		if (progress)
			progress(ctx, m);
		double m1 = 0, m2 = 0;
		uint32_t c1 = 0;
		for (uint32_t c = 0; c < k; c++) {
			move[c] = sqrt(dist2(old + (size_t)c * nf,
					     m->c + (size_t)c * nf, nf));
			if (move[c] > m1) {
				m2 = m1;
				m1 = move[c];
				c1 = c;
			} else if (move[c] > m2) {
				m2 = move[c];
			}
		}
		dml_kmeans_norms(m->c, k, nf, h.cn);
		if (q)
			q_centers((struct km_q *)q, m->c, k, nf);
		ham_half(&h);
		double cmax = 0;
		for (uint32_t c = 0; c < k; c++)
			cmax = h.cn[c] > cmax ? h.cn[c] : cmax;
		for (uint64_t r = 0; !rc && r < n; r++) {
			uint32_t a = h.a[r];
			h.u[r] += move[a];
			/* squared products err by far less than this */
			double eps = 1e-9 * (1 + xn[r] + cmax);
			if (h.lw > 1) {
				if (elkan_keeps(&h, r, move, eps))
					continue;
				rc = ham_add(&h, r, 0);
				continue;
			}
			h.l[r] -= a == c1 ? m2 : m1;
			double lim = h.l[r] > h.half[a] ? h.l[r] : h.half[a];
			if (far_enough(h.u[r], lim, eps))
				continue;
			/* reading the row costs more than the products with
			 * every center once it is read: no tightening of u
			 * alone first */
			rc = ham_add(&h, r, 0);
		}
		if (!rc)
			rc = ham_batch(&h, 0);
		if (!rc && dml_fx_add_doubles(h.acc, h.delta, (size_t)count))
			rc = DML_ERANGE;
		memset(h.delta, 0, (size_t)count * sizeof *h.delta);
	}
	if (!rc) {
		/* the inertia of the last step, at the centers it started
		 * from, as a distributed pass has it */
		struct dml_kpass p;
		uint32_t phase = m->phase;
		double *c = m->c;
		m->c = old;
		m->phase = DML_KM_LLOYD;
		rc = run_pass(m, x, xn, n, 1, &p, err);
		m->c = c;
		m->phase = phase;
		if (!rc)
			m->inertia = dml_fx_to_double(&p.sums[0]);
		dml_kpass_free(&p);
		if (rc)
			rc = DML_EEMPTY; /* err is filled */
	}
	free(h.a);
	free(h.u);
	free(h.l);
	free(h.acc);
	free(h.delta);
	free(h.cn);
	free(h.half);
	free(h.g);
	free(h.idx);
	free(h.dd);
	free(old);
	free(move);
	if (rc == DML_EEMPTY)
		return err ? err->code : DML_ERANGE;
	if (rc == DML_ENOMEM)
		return dml_fail(err, rc, NULL);
	if (rc == DML_ERANGE)
		return dml_fail(err, rc, "feature values too large to sum "
				"exactly (|sum| must stay below 2^95)");
	return rc;
}

/* part[j] += x_j, part[nf + j] += x_j^2 over nr rows, in order. */
DML_WIDE static void sum_rows(double *part, const double *x, uint64_t nr,
			     uint32_t nf)
{
	for (uint64_t r = 0; r < nr; r++) {
		const double *xr = x + r * nf;
		uint32_t j = 0;
		for (; j + 8 <= nf; j += 8) {
			v8d a, s1, s2;
			memcpy(&a, xr + j, sizeof a);
			memcpy(&s1, part + j, sizeof s1);
			memcpy(&s2, part + nf + j, sizeof s2);
			s1 += a;
			s2 += a * a;
			memcpy(part + j, &s1, sizeof s1);
			memcpy(part + nf + j, &s2, sizeof s2);
		}
		for (; j < nf; j++) {
			part[j] += xr[j];
			part[nf + j] += xr[j] * xr[j];
		}
	}
}

/* Norms, hashes (row_hash) and ranges of nr rows from r0. */
static void krows_add(struct dml_krows *kr, const double *x, uint64_t r0,
		      uint64_t nr)
{
	uint32_t nf = kr->nfeat;
	size_t rb = (size_t)nf * sizeof *x;
	x += r0 * nf;
	dml_kmeans_norms(x, nr, nf, kr->xn + r0);
	for (uint64_t i = r0; i < r0 + nr; i++)
		kr->xr[i] = sqrt(kr->xn[i]);
	dml_hash_many(x, rb, rb, nr, DML_HASH_SEED, kr->rh + r0);
	min_max(x, nr, nf, kr->lo, kr->hi);
}

/* ---- seeding in one process, reading only the rows that may win ----
 *
 * A row's race time is -log(u) / w, w its squared distance to the
 * nearest center, and w only shrinks as centers come: with an upper
 * bound b on w, the time is at least -log(u) / b (division rounds
 * monotonically).  Each row keeps its distance to the nearest of the
 * centers it has seen (dmin) and how many it has seen (seen); a row that
 * has seen none is bounded by (||x|| + ||c||)^2, c the first center, with
 * a margin far above rounding.  A round bounds every row's time, runs
 * the row of the least bound, then each row whose bound is not above the
 * best time so far: the others can neither win nor tie.  A row that runs
 * catches up with the centers it has not seen by dist2, as a pass does,
 * so the winner and its time are those of a pass. */

struct lazy {
	const struct dml_kmeans *m;
	const double *x, *xr;
	const uint64_t *rh;
	double *dmin, *lb;
	uint32_t *seen;
	double cr0;            /* the norm of the first center */
	int has_pick;
	double key;
	uint64_t pick;
};

static void lazy_run(struct lazy *z, uint64_t r)
{
	const struct dml_kmeans *m = z->m;
	uint32_t nf = m->nfeat, nc = m->ncenters;
	const double *x = z->x + r * nf;
	double d = 1;
	if (nc > 0) {
		for (uint32_t c = z->seen[r]; c < nc; c++) {
			double e = dist2_below(x, m->c + (size_t)c * nf, nf,
					       z->dmin[r]);
			if (e < z->dmin[r])
				z->dmin[r] = e;
		}
		z->seen[r] = nc;
		d = z->dmin[r];
	}
	if (!(d > 0))
		return; /* a center already */
	double key = race(m->seed, nc, z->rh[r], d);
	if (!z->has_pick || wins(key, x, z->key, z->x + z->pick * nf, nf)) {
		z->has_pick = 1;
		z->key = key;
		z->pick = r;
	}
}

/* The pick of the round, as a pass over all rows would give it. */
static enum dml_err lazy_round(struct lazy *z, uint64_t n,
			       struct dml_kpass *p)
{
	const struct dml_kmeans *m = z->m;
	uint32_t nf = m->nfeat, nc = m->ncenters;
	uint64_t first = n;
	double tiny = 2 * sqrt((double)nf + 1) * 0x1p-537;
	z->has_pick = 0;
	if (nc == 1) {
		dml_kmeans_norms(m->c, 1, nf, &z->cr0);
		z->cr0 = sqrt(z->cr0);
	}
	for (uint64_t r = 0; r < n; r++) {
		double b = 1;
		if (nc > 0 && z->seen[r]) {
			b = z->dmin[r];
		} else if (nc > 0) {
			/* the norms, and what squares below the least double
			 * may have lost from them and from dist2 */
			b = z->xr[r] + z->cr0 + tiny;
			b = b * b * (1 + 1e-6) + (double)(nf + 1) * 0x1p-1074;
		}
		/* NAN: the row is a center, it cannot win */
		z->lb[r] = b > 0 ? race(m->seed, nc, z->rh[r], b) : NAN;
		if (z->lb[r] <= (first < n ? z->lb[first] : INFINITY))
			first = r;
	}
	if (first < n)
		lazy_run(z, first);
	for (uint64_t r = 0; r < n; r++)
		if (r != first && !isnan(z->lb[r]) &&
		    (!z->has_pick || z->lb[r] <= z->key))
			lazy_run(z, r);
	memset(p, 0, sizeof *p);
	p->count = 1;
	p->sums = calloc(1, sizeof *p->sums);
	if (z->has_pick) {
		p->row = malloc((size_t)nf * sizeof *p->row);
		if (p->row)
			memcpy(p->row, z->x + z->pick * nf,
			       (size_t)nf * sizeof *p->row);
		p->has_pick = 1;
		p->key = z->key;
		p->nfeat = nf;
	}
	return p->sums && (!z->has_pick || p->row) ? DML_OK : DML_ENOMEM;
}

enum dml_err dml_kmeans_fit(struct dml_kmeans *m, const double *x, uint64_t n,
			    const struct dml_krows *kr,
			    dml_kmeans_progress_fn progress, void *ctx,
			    struct dml_error *err)
{
	uint32_t nf = m->nfeat;
	struct dml_krows own = {0};
	enum dml_err rc = DML_OK;
	if (!kr || kr->n != n || kr->nfeat != nf) {
		/* read off the rows here, a few at a time */
		if (krows_init(&own, n, nf))
			return dml_fail(err, DML_ENOMEM, NULL);
		for (uint64_t r = 0; r < n; r += 32)
			krows_add(&own, x, r, n - r < 32 ? n - r : 32);
		kr = &own;
	}
	const double *xn = kr->xn;
	double *dmin = malloc(((size_t)n + 1) * sizeof *dmin);
	double *lb = malloc(((size_t)n + 1) * sizeof *lb);
	uint32_t *seen = calloc((size_t)n + 1, sizeof *seen);
	struct km_q q = {
		.x = dml_rows_realloc(NULL, (size_t)n * nf * sizeof *q.x),
		.lo = malloc(((size_t)nf + 1) * sizeof *q.lo),
		.s = malloc(((size_t)nf + 1) * sizeof *q.s),
		.inv = malloc(((size_t)nf + 1) * sizeof *q.inv),
		.cs = malloc(((size_t)m->k * nf + 1) * sizeof *q.cs),
		.base = malloc(((size_t)m->k + 1) * sizeof *q.base),
		.err = malloc(((size_t)m->k + 1) * sizeof *q.err),
	};
	if (!dmin || !lb || !seen || !q.x || !q.lo || !q.s || !q.inv ||
	    !q.cs || !q.base || !q.err) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto out;
	}
	for (uint64_t r = 0; r < n; r++)
		dmin[r] = INFINITY;
	memcpy(q.lo, kr->lo, (size_t)nf * sizeof *q.lo);
	/* one center: no step reads the rows again */
	int use_q = m->k > 1 && q_grid(&q, kr->hi, nf);
	if (use_q)
		dml_prefault(q.x, (size_t)n * nf * sizeof *q.x);
	struct lazy z = { .m = m, .x = x, .xr = kr->xr, .rh = kr->rh,
			  .dmin = dmin,
			  .lb = lb, .seen = seen };
	if (m->ncenters > 0)
		dml_kmeans_norms(m->c, 1, nf, &z.cr0);
	z.cr0 = sqrt(z.cr0);
	while (!rc && m->phase == DML_KM_SEED) {
		struct dml_kpass p;
		rc = lazy_round(&z, n, &p);
		if (rc)
			rc = dml_fail(err, rc, NULL);
		else
			rc = dml_kmeans_step(m, &p, err);
		dml_kpass_free(&p);
		if (!rc && progress)
			progress(ctx, m);
	}
	if (!rc && m->phase == DML_KM_LLOYD)
		rc = fit_lloyd(m, x, xn, use_q ? &q : NULL, n, progress, ctx,
			       err);
	if (!rc && progress)
		progress(ctx, m);
out:
	dml_krows_free(&own);
	free(dmin);
	free(lb);
	free(seen);
	dml_rows_free(q.x);
	free(q.lo);
	free(q.s);
	free(q.inv);
	free(q.cs);
	free(q.base);
	free(q.err);
	return rc;
}

enum dml_err dml_kmeans_assign(const struct dml_kmeans *m, const double *x,
			       uint64_t n, uint32_t *cluster, double *d2)
{
	uint32_t k = m->k, nf = m->nfeat;
	double *cn = malloc((size_t)k * sizeof *cn);
	double *g = malloc((size_t)BLOCK * k * sizeof *g);
	if (!cn || !g) {
		free(cn);
		free(g);
		return DML_ENOMEM;
	}
	dml_kmeans_norms(m->c, k, nf, cn);
	for (uint64_t r0 = 0; r0 < n; r0 += BLOCK) {
		uint64_t nr = n - r0 < BLOCK ? n - r0 : BLOCK;
		const double *xb = x + r0 * nf;
		dots(xb, NULL, nr, m->c, k, nf, g);
		for (uint64_t r = 0; r < nr; r++) {
			uint32_t best = 0;
			double bd = cn[0] - 2 * g[r * k];
			for (uint32_t c = 1; c < k; c++) {
				double d = cn[c] - 2 * g[r * k + c];
				if (d < bd) {
					bd = d;
					best = c;
				}
			}
			cluster[r0 + r] = best;
			d2[r0 + r] = dist2(xb + r * nf,
					   m->c + (size_t)best * nf, nf);
		}
	}
	free(cn);
	free(g);
	return DML_OK;
}
