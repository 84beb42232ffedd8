/* optim.h - optimizers as resumable state machines.
 *
 * One call of dml_opt_step() consumes the objective and gradient at
 * o->trial and decides the next trial point.  All state lives in struct
 * dml_opt and is written into the model record, so one `dml-train --apply`
 * is one step and the shell loop carries nothing else. */
#ifndef DML_OPTIM_H
#define DML_OPTIM_H

#include <stdint.h>

#include "error.h"
#include "record.h"

enum dml_optimizer {
	DML_OPT_LBFGS = 0,
	DML_OPT_GD = 1,
	DML_OPT_SGD = 2,
	DML_OPT_MINIBATCH = 3, /* mini-batch SGD with momentum */
	DML_OPT_ADAM = 4,
};

enum dml_phase {
	DML_PHASE_START = 0,  /* want f and g at the first point */
	DML_PHASE_SEARCH = 1, /* line search: want f and g at trial */
	DML_PHASE_DONE = 2,   /* converged or stopped */
};

enum dml_stop {
	DML_STOP_NONE = 0,
	DML_STOP_GRADIENT = 1,   /* max |g| <= tol */
	DML_STOP_FTOL = 2,       /* relative decrease below ftol */
	DML_STOP_MAXITER = 3,
	DML_STOP_LINESEARCH = 4, /* no decrease found along the direction */
};

struct dml_opt_params {
	uint32_t max_iter;
	double tol;   /* on max |gradient| */
	double ftol;  /* on relative decrease per iteration */
};

struct dml_opt {
	uint32_t method, phase, stop, m, nhist, head;
	uint32_t cap;       /* history pairs allocated (grows up to m) */
	uint64_t n;         /* dimension */
	uint64_t evals;     /* gradient evaluations consumed */
	uint64_t iters;     /* accepted steps */
	uint64_t searches;  /* backtracks in the current line search */
	double f;           /* objective at the accepted point */
	double alpha;       /* step length of the trial point */
	double dg;          /* directional derivative at the accepted point */
	double *g, *d, *trial, *s, *y, *rho;
};

const char *dml_optimizer_name(uint32_t method);
const char *dml_stop_name(uint32_t stop);

/* Start at x (n values): trial = x, phase START. m = L-BFGS memory. */
enum dml_err dml_opt_init(struct dml_opt *o, uint32_t method, uint64_t n,
			  uint32_t m, const double *x);
void dml_opt_free(struct dml_opt *o);
/* Consume f and g at o->trial; x is the accepted point, updated in place
 * when the trial is accepted. */
enum dml_err dml_opt_step(struct dml_opt *o, double *x, double f,
			  const double *g, const struct dml_opt_params *p);

void dml_opt_write(struct dml_buf *b, const struct dml_opt *o);
enum dml_err dml_opt_read(const struct dml_record *rec, struct dml_opt *o,
			  uint64_t n, struct dml_error *err);

#endif
