/* optim.c - L-BFGS and gradient descent with a backtracking (Armijo) line
 * search, driven one function evaluation at a time. */
#include "optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"

#define C1 1e-4
#define MAX_SEARCHES 40

const char *dml_optimizer_name(uint32_t method)
{
	switch (method) {
	case DML_OPT_LBFGS: return "lbfgs";
	case DML_OPT_GD: return "gd";
	case DML_OPT_SGD: return "sgd";
	case DML_OPT_MINIBATCH: return "minibatch";
	case DML_OPT_ADAM: return "adam";
	default: return "unknown";
	}
}

const char *dml_stop_name(uint32_t stop)
{
	switch (stop) {
	case DML_STOP_NONE: return "running";
	case DML_STOP_GRADIENT: return "converged";
	case DML_STOP_FTOL: return "converged";
	case DML_STOP_MAXITER: return "max-iter";
	case DML_STOP_LINESEARCH: return "line-search-failed";
	default: return "unknown";
	}
}

void dml_opt_free(struct dml_opt *o)
{
	free(o->g);
	free(o->d);
	free(o->trial);
	free(o->s);
	free(o->y);
	free(o->rho);
	memset(o, 0, sizeof *o);
}

/* History storage for cap pairs, keeping the pairs already there (they
 * sit at 0..nhist-1 until the ring first wraps, which needs cap == m). */
static enum dml_err grow_history(struct dml_opt *o, uint32_t cap)
{
	size_t n = (size_t)o->n ? (size_t)o->n : 1;
	if (cap <= o->cap)
		return DML_OK;
	if (n > SIZE_MAX / sizeof(double) / cap)
		return DML_ENOMEM;
	double *s = realloc(o->s, n * cap * sizeof *s);
	if (!s)
		return DML_ENOMEM;
	o->s = s;
	double *y = realloc(o->y, n * cap * sizeof *y);
	if (!y)
		return DML_ENOMEM;
	o->y = y;
	double *rho = realloc(o->rho, cap * sizeof *rho);
	if (!rho)
		return DML_ENOMEM;
	o->rho = rho;
	o->cap = cap;
	return DML_OK;
}

/* Vectors, and history for the pairs there are (more as they come), so
 * that reading a model allocates in proportion to what it holds. */
static enum dml_err alloc_state(struct dml_opt *o, uint32_t pairs)
{
	size_t n = (size_t)o->n ? (size_t)o->n : 1;
	o->g = calloc(n, sizeof *o->g);
	o->d = calloc(n, sizeof *o->d);
	o->trial = calloc(n, sizeof *o->trial);
	if (!o->g || !o->d || !o->trial)
		return DML_ENOMEM;
	if (o->method == DML_OPT_LBFGS && pairs)
		return grow_history(o, pairs);
	return DML_OK;
}

enum dml_err dml_opt_init(struct dml_opt *o, uint32_t method, uint64_t n,
			  uint32_t m, const double *x)
{
	memset(o, 0, sizeof *o);
	o->method = method;
	o->n = n;
	o->m = method == DML_OPT_LBFGS ? m : 0;
	o->phase = DML_PHASE_START;
	if (alloc_state(o, 0)) {
		dml_opt_free(o);
		return DML_ENOMEM;
	}
	memcpy(o->trial, x, (size_t)n * sizeof *x);
	return DML_OK;
}

static int all_finite(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(v[i]))
			return 0;
	return 1;
}

/* d = -H g by the two-loop recursion; falls back to -g. */
static void direction(struct dml_opt *o)
{
	size_t n = (size_t)o->n;
	for (size_t i = 0; i < n; i++)
		o->d[i] = -o->g[i];
	if (o->method != DML_OPT_LBFGS || o->nhist == 0)
		return;
	double alpha[o->nhist];
	for (uint32_t k = 0; k < o->nhist; k++) {
		uint32_t j = (o->head + o->m - 1 - k) % o->m; /* newest first */
		alpha[k] = o->rho[j] * dml_dot(o->s + (size_t)j * n, o->d, n);
		const double *y = o->y + (size_t)j * n;
		for (size_t i = 0; i < n; i++)
			o->d[i] -= alpha[k] * y[i];
	}
	uint32_t newest = (o->head + o->m - 1) % o->m;
	const double *ys = o->y + (size_t)newest * n;
	double gamma = 1.0 / (o->rho[newest] * dml_dot(ys, ys, n));
	for (size_t i = 0; i < n; i++)
		o->d[i] *= gamma;
	for (uint32_t k = o->nhist; k-- > 0;) {
		uint32_t j = (o->head + o->m - 1 - k) % o->m;
		double beta = o->rho[j] * dml_dot(o->y + (size_t)j * n, o->d, n);
		const double *s = o->s + (size_t)j * n;
		for (size_t i = 0; i < n; i++)
			o->d[i] += (alpha[k] - beta) * s[i];
	}
}

static void new_search(struct dml_opt *o, const double *x)
{
	size_t n = (size_t)o->n;
	direction(o);
	o->dg = dml_dot(o->d, o->g, n);
	if (!(o->dg < 0) || !isfinite(o->dg) || !all_finite(o->d, n)) {
		/* not a descent direction, or one out of range: forget the
		 * history */
		o->nhist = 0;
		o->head = 0;
		for (size_t i = 0; i < n; i++)
			o->d[i] = -o->g[i];
		o->dg = dml_dot(o->d, o->g, n);
	}
	if (o->iters == 0 || o->method != DML_OPT_LBFGS) {
		double gn = sqrt(dml_dot(o->g, o->g, n));
		if (o->iters == 0)
			o->alpha = gn > 1 ? 1 / gn : 1;
		else
			o->alpha = fmin(o->alpha * 2, 1e10);
	} else {
		o->alpha = 1;
	}
	o->searches = 0;
	for (size_t i = 0; i < n; i++)
		o->trial[i] = x[i] + o->alpha * o->d[i];
	o->phase = DML_PHASE_SEARCH;
	if (!isfinite(o->dg) || !isfinite(o->alpha) ||
	    !all_finite(o->trial, n)) {
		/* no step that could be taken (or written) from here */
		o->stop = DML_STOP_LINESEARCH;
		o->phase = DML_PHASE_DONE;
	}
}

static int converged(struct dml_opt *o, double fprev,
		     const struct dml_opt_params *p)
{
	if (dml_norm_inf(o->g, (size_t)o->n) <= p->tol) {
		o->stop = DML_STOP_GRADIENT;
	} else if (o->iters > 0 && fprev - o->f <= p->ftol *
		   fmax(fmax(fabs(fprev), fabs(o->f)), 1.0)) {
		o->stop = DML_STOP_FTOL;
	} else if (o->iters >= p->max_iter) {
		o->stop = DML_STOP_MAXITER;
	} else {
		return 0;
	}
	o->phase = DML_PHASE_DONE;
	return 1;
}

enum dml_err dml_opt_step(struct dml_opt *o, double *x, double f,
			  const double *g, const struct dml_opt_params *p)
{
	size_t n = (size_t)o->n;
	if (o->phase == DML_PHASE_DONE)
		return DML_OK;
	o->evals++;
	if (o->phase == DML_PHASE_START) {
		if (!isfinite(f) || !all_finite(o->trial, n) ||
		    !all_finite(g, n))
			return DML_ERANGE;
		o->f = f;
		memcpy(o->g, g, n * sizeof *g);
		memcpy(x, o->trial, n * sizeof *x);
		if (!converged(o, f, p))
			new_search(o, x);
		return DML_OK;
	}
	/* a point where anything is not finite is never accepted: the
	 * weights it would become could not be written */
	if (isfinite(f) && f <= o->f + C1 * o->alpha * o->dg &&
	    all_finite(o->trial, n) && all_finite(g, n)) {
		/* accept */
		if (o->method == DML_OPT_LBFGS && o->m && o->head >= o->cap &&
		    grow_history(o, o->cap ? (o->cap * 2 < o->m ? o->cap * 2
							       : o->m)
					   : (o->m < 4 ? o->m : 4)))
			return DML_ENOMEM;
		if (o->method == DML_OPT_LBFGS && o->m) {
			double *s = o->s + (size_t)o->head * n;
			double *y = o->y + (size_t)o->head * n;
			for (size_t i = 0; i < n; i++) {
				s[i] = o->trial[i] - x[i];
				y[i] = g[i] - o->g[i];
			}
			double sy = dml_dot(s, y, n);
			if (sy > 1e-12 * sqrt(dml_dot(y, y, n) *
					      dml_dot(s, s, n))) {
				o->rho[o->head] = 1 / sy;
				o->head = (o->head + 1) % o->m;
				if (o->nhist < o->m)
					o->nhist++;
			}
		}
		double fprev = o->f;
		memcpy(x, o->trial, n * sizeof *x);
		memcpy(o->g, g, n * sizeof *g);
		o->f = f;
		o->iters++;
		if (!converged(o, fprev, p))
			new_search(o, x);
		return DML_OK;
	}
	/* backtrack: minimise the quadratic through f(0), f'(0), f(alpha) */
	double a = o->alpha, next = 0.5 * a;
	if (isfinite(f)) {
		double denom = 2 * (f - o->f - o->dg * a);
		if (denom > 0)
			next = -o->dg * a * a / denom;
	}
	if (!(next >= 0.1 * a)) /* NaN, too */
		next = 0.1 * a;
	if (next > 0.5 * a)
		next = 0.5 * a;
	o->alpha = next;
	if (++o->searches > MAX_SEARCHES) {
		o->stop = DML_STOP_LINESEARCH;
		o->phase = DML_PHASE_DONE;
		return DML_OK;
	}
	for (size_t i = 0; i < n; i++)
		o->trial[i] = x[i] + o->alpha * o->d[i];
	if (!all_finite(o->trial, n)) {
		o->stop = DML_STOP_LINESEARCH;
		o->phase = DML_PHASE_DONE;
	}
	return DML_OK;
}

void dml_opt_write(struct dml_buf *b, const struct dml_opt *o)
{
	size_t n = (size_t)o->n;
	dml_buf_section(b, DML_SEC_OPTIM, 0);
	dml_buf_u32(b, o->method);
	dml_buf_u32(b, o->phase);
	dml_buf_u32(b, o->stop);
	dml_buf_u32(b, o->m);
	dml_buf_u32(b, o->nhist);
	dml_buf_u32(b, 0);
	dml_buf_u64(b, o->n);
	dml_buf_u64(b, o->evals);
	dml_buf_u64(b, o->iters);
	dml_buf_u64(b, o->searches);
	dml_buf_f64(b, o->f);
	dml_buf_f64(b, o->alpha);
	dml_buf_f64(b, o->dg);
	int live = o->phase != DML_PHASE_DONE;
	dml_buf_u32(b, (uint32_t)live);
	dml_buf_u32(b, 0);
	if (!live)
		return;
	dml_buf_f64s(b, o->g, n);
	dml_buf_f64s(b, o->d, n);
	dml_buf_f64s(b, o->trial, n);
	/* history oldest first, so the ring starts at 0 when read back */
	for (uint32_t k = 0; k < o->nhist; k++) {
		uint32_t j = (o->head + o->m - o->nhist + k) % o->m;
		dml_buf_f64(b, o->rho[j]);
		dml_buf_f64s(b, o->s + (size_t)j * n, n);
		dml_buf_f64s(b, o->y + (size_t)j * n, n);
	}
}

enum dml_err dml_opt_read(const struct dml_record *rec, struct dml_opt *o,
			  uint64_t n, struct dml_error *err)
{
	struct dml_section sec;
	memset(o, 0, sizeof *o);
	if (!dml_record_find(rec, DML_SEC_OPTIM, &sec))
		return dml_fail(err, DML_EFORMAT, "no optimizer section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	o->method = dml_cur_u32(&c);
	o->phase = dml_cur_u32(&c);
	o->stop = dml_cur_u32(&c);
	o->m = dml_cur_u32(&c);
	o->nhist = dml_cur_u32(&c);
	uint32_t reserved1 = dml_cur_u32(&c);
	o->n = dml_cur_u64(&c);
	o->evals = dml_cur_u64(&c);
	o->iters = dml_cur_u64(&c);
	o->searches = dml_cur_u64(&c);
	o->f = dml_cur_f64(&c);
	o->alpha = dml_cur_f64(&c);
	o->dg = dml_cur_f64(&c);
	uint32_t live = dml_cur_u32(&c);
	uint32_t reserved2 = dml_cur_u32(&c);
	if (c.bad || reserved1 || reserved2 || o->n != n ||
	    o->method > DML_OPT_SGD ||
	    o->phase > DML_PHASE_DONE || o->stop > DML_STOP_LINESEARCH ||
	    o->m > 1000 || o->nhist > o->m || live > 1 ||
	    (live != (o->phase != DML_PHASE_DONE)) ||
	    (o->method != DML_OPT_LBFGS && o->m))
		return dml_fail(err, DML_EFORMAT,
				"malformed optimizer section");
	/* sizes must fit what is left before anything is allocated */
	uint64_t need = live ? (3 + 2 * (uint64_t)o->nhist) * n * 8 +
				       8 * (uint64_t)o->nhist
			     : 0;
	if (n > DML_MAX_PAYLOAD / 8 || need != c.left)
		return dml_fail(err, DML_ETOOBIG,
				"optimizer section holds %llu bytes, "
				"expected %llu",
				(unsigned long long)c.left,
				(unsigned long long)need);
	if (alloc_state(o, live ? o->nhist : 0)) {
		dml_opt_free(o);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	if (live) {
		dml_cur_f64s(&c, o->g, n);
		dml_cur_f64s(&c, o->d, n);
		dml_cur_f64s(&c, o->trial, n);
		for (uint32_t k = 0; k < o->nhist; k++) {
			o->rho[k] = dml_cur_f64(&c);
			dml_cur_f64s(&c, o->s + (size_t)k * n, n);
			dml_cur_f64s(&c, o->y + (size_t)k * n, n);
		}
		o->head = o->m ? o->nhist % o->m : 0;
	}
	if (c.bad) {
		dml_opt_free(o);
		return dml_fail(err, DML_EFORMAT,
				"malformed optimizer section");
	}
	/* the state a writer keeps is finite: anything else would become
	 * weights that no reader accepts */
	int finite = isfinite(o->f) && isfinite(o->alpha) && !isnan(o->dg);
	if (live)
		finite = finite && all_finite(o->g, n) && all_finite(o->d, n) &&
			 all_finite(o->trial, n) &&
			 all_finite(o->rho, o->nhist) &&
			 all_finite(o->s, (size_t)n * o->nhist) &&
			 all_finite(o->y, (size_t)n * o->nhist);
	if (!finite) {
		dml_opt_free(o);
		return dml_fail(err, DML_EFORMAT,
				"non-finite optimizer state");
	}
	return DML_OK;
}
