/* sgd.c - stochastic optimizers for the linear models: SGD, mini-batch
 * SGD with momentum and Adam, a learning-rate schedule, early stopping on
 * held-out rows, and Hogwild (lock-free) threads. */
#include "model.h"

#include <blis.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"
#include "threads.h"

#define MOMENTUM 0.9
#define ADAM_B1 0.9
#define ADAM_B2 0.999
#define ADAM_EPS 1e-8
#define PATIENCE 3        /* epochs without a better held-out loss */
#define MIN_GAIN 1e-4     /* relative: what counts as better */

const char *dml_schedule_name(uint32_t s)
{
	switch (s) {
	case DML_SCHEDULE_DECAY: return "decay";
	case DML_SCHEDULE_CONSTANT: return "constant";
	case DML_SCHEDULE_INVSCALING: return "invscaling";
	default: return "unknown";
	}
}

uint32_t dml_schedule_parse(const char *name)
{
	for (uint32_t s = 0; s <= DML_SCHEDULE_INVSCALING; s++)
		if (!strcmp(name, dml_schedule_name(s)))
			return s;
	return UINT32_MAX;
}

enum dml_err dml_holdout_mask(const double *x, uint32_t nf,
			      const uint32_t *y, const double *t, uint64_t n,
			      double frac, uint64_t seed, uint8_t **mask)
{
	uint8_t *h = calloc(n + 1, 1);
	if (!h)
		return DML_ENOMEM;
	/* a row is held out when the hash of its values, under the seed,
	 * falls below frac: whichever shard it is in, and wherever */
	uint64_t cut = frac >= 1 ? UINT64_MAX
				 : (uint64_t)(frac * 18446744073709551616.0);
	for (uint64_t r = 0; r < n; r++) {
		struct dml_hash s;
		dml_hash_init(&s, seed ^ UINT64_C(0x686f6c646f7574));
		for (uint32_t j = 0; j < nf; j++) {
			double v = x[r * nf + j] == 0 ? 0 : x[r * nf + j];
			uint64_t u;
			memcpy(&u, &v, 8);
			unsigned char b[8];
			for (int k = 0; k < 8; k++)
				b[k] = (unsigned char)(u >> (8 * k));
			dml_hash_update(&s, b, 8);
		}
		uint64_t lab = y ? y[r] : 0;
		if (t) {
			double v = t[r] == 0 ? 0 : t[r];
			memcpy(&lab, &v, 8);
		}
		unsigned char b[8];
		for (int k = 0; k < 8; k++)
			b[k] = (unsigned char)(lab >> (8 * k));
		dml_hash_update(&s, b, 8);
		h[r] = dml_hash_final(&s) < cut;
	}
	*mask = h;
	return DML_OK;
}

struct sgd_job {
	struct dml_model *m;
	const double *x, *t;
	const uint32_t *y;
	const uint64_t *perm;
	uint64_t n, bs, steps_per_epoch, t0;
	uint32_t method, nthreads;
	double *v1, *v2;  /* momentum, or Adam's moments */
	int diverged;
};

struct sgd_worker {
	struct sgd_job *job;
	uint32_t id;
	double loss;
	enum dml_err rc;
};

static double rate(const struct dml_model *m, uint64_t t, uint64_t spe)
{
	double e = (double)t / (double)spe; /* epochs so far */
	switch (m->params.schedule) {
	case DML_SCHEDULE_CONSTANT: return m->params.learning_rate;
	case DML_SCHEDULE_INVSCALING:
		return m->params.learning_rate / sqrt(1.0 + e);
	default: return m->params.learning_rate / (1.0 + e);
	}
}

/* One thread's batches of an epoch: batch b for b = id (mod nthreads).
 * With more than one thread they update the weights without locks. */
static void *sgd_worker(void *arg)
{
	struct sgd_worker *wk = arg;
	struct sgd_job *j = wk->job;
	struct dml_model *m = j->m;
	uint32_t nf = m->schema.nfeat, k = m->nout;
	size_t nw = (size_t)dml_model_nweights(m), nreg = (size_t)nf * k;
	uint64_t bs = j->bs;
	double *xb = malloc((size_t)bs * nf * sizeof *xb + 1);
	double *z = malloc((size_t)bs * k * sizeof *z);
	double *g = malloc(nw * sizeof *g);
	uint32_t *yb = malloc(bs * sizeof *yb);
	double *tb = malloc(bs * sizeof *tb);
	wk->loss = 0;
	if (!xb || !z || !g || !yb || !tb) {
		wk->rc = DML_ENOMEM;
		goto out;
	}
	uint64_t step = 0;
	for (uint64_t b0 = wk->id * bs; b0 < j->n;
	     b0 += (uint64_t)j->nthreads * bs, step++) {
		uint64_t nr = j->n - b0 < bs ? j->n - b0 : bs;
		uint64_t t = j->t0 + b0 / bs;
		for (uint64_t r = 0; r < nr; r++) {
			uint64_t row = j->perm[b0 + r];
			if (!m->xq) {
				memcpy(xb + r * nf, j->x + row * nf,
				       nf * sizeof *xb);
			} else {
				/* rows lie anywhere: ask for one ahead */
				const uint8_t *ahead = b0 + r + 4 < j->n
					? m->xq + j->perm[b0 + r + 4] * nf
					: NULL;
				for (uint32_t c = 0; ahead && c < nf; c += 64)
					__builtin_prefetch(ahead + c);
				dml_model_standardize_bytes(m, m->xq + row * nf,
							    1, xb + r * nf);
			}
			if (j->y)
				yb[r] = j->y[row];
			if (j->t)
				tb[r] = j->t[row];
		}
		dml_model_scores(m, m->w, xb, nr, z);
		wk->loss += dml_model_residual(m, z, yb, tb, nr);
		double scale = 1.0 / (double)nr, zero = 0.0;
		if (nf)
			bli_dgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, nf, k,
				  (dim_t)nr, &scale, xb, nf, 1, z, k, 1, &zero,
				  g, k, 1);
		double *gb = g + (size_t)nf * k;
		for (uint32_t c = 0; c < k; c++) {
			double s = 0;
			for (uint64_t r = 0; r < nr; r++)
				s += z[r * k + c];
			gb[c] = s * scale;
		}
		double lr = rate(m, t, j->steps_per_epoch);
		double c1 = 1 - pow(ADAM_B1, (double)(t + 1));
		double c2 = 1 - pow(ADAM_B2, (double)(t + 1));
		for (size_t i = 0; i < nw; i++) {
			double gi = g[i];
			if (i < nreg)
				gi += m->params.l2 * m->w[i];
			switch (j->method) {
			case DML_OPT_MINIBATCH:
				j->v1[i] = MOMENTUM * j->v1[i] + gi;
				m->w[i] -= lr * j->v1[i];
				break;
			case DML_OPT_ADAM:
				j->v1[i] = ADAM_B1 * j->v1[i] +
					   (1 - ADAM_B1) * gi;
				j->v2[i] = ADAM_B2 * j->v2[i] +
					   (1 - ADAM_B2) * gi * gi;
				m->w[i] -= lr * (j->v1[i] / c1) /
					   (sqrt(j->v2[i] / c2) + ADAM_EPS);
				break;
			default:
				m->w[i] -= lr * gi;
			}
		}
		/* L1: the proximal step (soft thresholding) */
		double th = lr * m->params.l1;
		for (size_t i = 0; th > 0 && i < nreg; i++)
			m->w[i] = m->w[i] > th ? m->w[i] - th
				  : m->w[i] < -th ? m->w[i] + th : 0;
	}
out:
	free(xb); free(z); free(g); free(yb); free(tb);
	return NULL;
}

/* Mean loss of the rows of x (no penalty). */
static double mean_loss(const struct dml_model *m, const double *x,
			const uint32_t *y, const double *t, uint64_t n,
			double *z)
{
	uint32_t nf = m->schema.nfeat;
	double loss = 0;
	for (uint64_t r0 = 0; r0 < n; r0 += 256) {
		uint64_t nr = n - r0 < 256 ? n - r0 : 256;
		dml_model_scores(m, m->w, x + r0 * nf, nr, z);
		loss += dml_model_residual(m, z, y ? y + r0 : NULL,
					   t ? t + r0 : NULL, nr);
	}
	return n ? loss / (double)n : 0;
}

enum dml_err dml_sgd_fit(struct dml_model *m, uint32_t method,
			 const double *x, const uint32_t *y, uint64_t n,
			 const double *hx, const uint32_t *hy,
			 const double *ht, uint64_t hn, uint32_t epochs,
			 dml_progress_fn progress, void *ctx,
			 struct dml_error *err)
{
	size_t nw = (size_t)dml_model_nweights(m);
	uint64_t bs = m->params.batch;
	if (bs > n)
		bs = n;
	uint32_t nt = m->hogwild && m->threads > 1 ? m->threads : 1;
	uint64_t steps_per_epoch = (n + bs - 1) / bs;
	if (nt > steps_per_epoch)
		nt = (uint32_t)steps_per_epoch;
	uint64_t *perm = malloc(n * sizeof *perm);
	double *v1 = calloc(nw + 1, sizeof *v1);
	double *v2 = calloc(nw + 1, sizeof *v2);
	double *best = malloc((nw + 1) * sizeof *best);
	double *z = malloc((size_t)256 * m->nout * sizeof *z);
	struct sgd_worker *wk = calloc(nt, sizeof *wk);
	enum dml_err rc = DML_OK;
	if (!perm || !v1 || !v2 || !best || !z || !wk) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto out;
	}
	struct dml_rng rng;
	dml_rng_seed(&rng, m->params.seed);
	for (uint64_t i = 0; i < n; i++)
		perm[i] = i;
	struct sgd_job job = {
		.m = m, .x = x, .y = y, .t = m->t, .perm = perm, .n = n,
		.bs = bs, .steps_per_epoch = steps_per_epoch,
		.method = method, .nthreads = nt, .v1 = v1, .v2 = v2,
	};
	double best_loss = INFINITY;
	uint32_t stale = 0;
	for (uint32_t e = 0; e < epochs; e++) {
		for (uint64_t i = n; i > 1; i--) {
			uint64_t j = dml_rng_below(&rng, i);
			uint64_t tmp = perm[i - 1];
			perm[i - 1] = perm[j];
			perm[j] = tmp;
		}
		job.t0 = (uint64_t)e * steps_per_epoch;
		for (uint32_t i = 0; i < nt; i++)
			wk[i] = (struct sgd_worker){ .job = &job, .id = i };
		dml_threads_run(nt, sgd_worker, wk, sizeof *wk);
		double loss = 0;
		for (uint32_t i = 0; i < nt; i++)
			loss += wk[i].loss;
		for (uint32_t i = 0; i < nt; i++)
			if (wk[i].rc) {
				rc = dml_fail(err, wk[i].rc, NULL);
				goto out;
			}
		for (size_t i = 0; i < nw; i++)
			if (!isfinite(m->w[i])) {
				rc = dml_fail(err, DML_ERANGE, "SGD diverged "
					      "(lower --learning-rate)");
				goto out;
			}
		m->iteration++;
		if (progress)
			progress(ctx, m, loss / (double)n);
		if (!hn)
			continue;
		/* early stopping: keep the best weights on held-out rows */
		double hl = mean_loss(m, hx, hy, ht, hn, z);
		if (hl < best_loss - MIN_GAIN * fabs(best_loss) ||
		    best_loss == INFINITY) {
			best_loss = hl;
			memcpy(best, m->w, nw * sizeof *best);
			stale = 0;
		} else if (++stale >= PATIENCE) {
			break;
		}
	}
	if (hn && best_loss < INFINITY)
		memcpy(m->w, best, nw * sizeof *best);
	/* the optimizer state restarts at the new point */
	uint32_t keep = m->opt.method;
	dml_opt_free(&m->opt);
	if (dml_opt_init(&m->opt, keep, nw, m->params.memory, m->w))
		rc = dml_fail(err, DML_ENOMEM, NULL);
out:
	free(perm); free(v1); free(v2); free(best); free(z); free(wk);
	return rc;
}
