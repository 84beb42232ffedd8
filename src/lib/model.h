/* model.h - linear models (logistic, softmax), shard statistics and
 * gradient records, and the exact reduction that combines them. */
#ifndef DML_MODEL_H
#define DML_MODEL_H

#include <math.h>
#include <stdint.h>

#include "data.h"
#include "error.h"
#include "fixed.h"
#include "optim.h"
#include "record.h"

enum dml_family {
	DML_FAMILY_NONE = 0,
	DML_FAMILY_LOGISTIC = 1,
	DML_FAMILY_SOFTMAX = 2,
	DML_FAMILY_LINEAR = 3,        /* least squares (ridge, lasso) */
	DML_FAMILY_HINGE = 4,         /* linear SVM */
	DML_FAMILY_SQUARED_HINGE = 5,
	DML_FAMILY_PERCEPTRON = 6,
	DML_FAMILY_KMEANS = 7,
	DML_FAMILY_SCALER = 8,
	DML_FAMILY_GAUSSIAN = 9,
	DML_FAMILY_PCA = 10,
	DML_FAMILY_MLP = 11,
	DML_FAMILY_TREE = 12,
	DML_FAMILY_FOREST = 13,
};

const char *dml_family_name(uint32_t family);
/* Family by name, DML_FAMILY_NONE if unknown. */
uint32_t dml_family_parse(const char *name);

#define DML_MLP_MAXHIDDEN 8

struct dml_params {
	double l2;             /* L2 penalty on weights (not biases) */
	uint32_t optimizer;    /* enum dml_optimizer */
	uint32_t max_iter;     /* L-BFGS / GD iterations */
	double tol;            /* stop when max |gradient| <= tol */
	uint32_t memory;       /* L-BFGS pairs kept */
	uint32_t epochs;       /* SGD passes */
	double learning_rate;  /* SGD step */
	uint32_t batch;        /* SGD mini-batch rows */
	uint64_t seed;
	uint32_t warm_start;   /* SGD epochs before L-BFGS/GD in one process */
	double l1;             /* L1 penalty on weights (OWL-QN) */
	uint32_t solver;       /* enum dml_solver (linear regression) */
	uint32_t schedule;     /* enum dml_schedule: SGD learning rate */
	double holdout;        /* fraction of rows for early stopping */
	/* mlp only (kept in the layers section, not in the parameters) */
	uint32_t nhidden;      /* hidden layers */
	uint32_t hidden[DML_MLP_MAXHIDDEN]; /* their units */
	uint32_t activation;   /* enum dml_activation */
	uint32_t output;       /* enum dml_output: softmax or linear */
	double tmean, tsd;     /* linear output: the target's mean and sd */
};

enum dml_schedule {
	DML_SCHEDULE_DECAY = 0,      /* rate / (1 + epochs so far) */
	DML_SCHEDULE_CONSTANT = 1,
	DML_SCHEDULE_INVSCALING = 2, /* rate / sqrt(1 + epochs so far) */
};

const char *dml_schedule_name(uint32_t s);
/* UINT32_MAX if unknown. */
uint32_t dml_schedule_parse(const char *name);

enum dml_solver {
	DML_SOLVER_ITERATIVE = 0, /* the optimizer */
	DML_SOLVER_NORMAL = 1,    /* normal equations from reduced sums */
};

void dml_params_default(struct dml_params *p);
enum dml_err dml_params_check(const struct dml_params *p,
			      struct dml_error *err);

/* Sorted, duplicate-free set of leaf identities. */
struct dml_leaves {
	uint64_t n;
	uint64_t *id;
};

void dml_leaves_free(struct dml_leaves *l);
enum dml_err dml_leaves_set1(struct dml_leaves *l, uint64_t id);
/* dst = dst U src; DML_EDUPLICATE if they share a leaf (its id in err). */
enum dml_err dml_leaves_merge(struct dml_leaves *dst,
			      const struct dml_leaves *src,
			      struct dml_error *err);
int dml_leaves_equal(const struct dml_leaves *a, const struct dml_leaves *b);
void dml_leaves_write(struct dml_buf *b, const struct dml_leaves *l);
enum dml_err dml_leaves_read(const struct dml_record *rec,
			     struct dml_leaves *l, struct dml_error *err);

/* ---- statistics of a shard: label counts and feature moments ---- */
struct dml_stats {
	uint32_t family;
	struct dml_schema schema;
	struct dml_labels labels;
	struct dml_fx *sums;  /* nfeat sums, then nfeat sums of squares */
	double *min, *max;    /* per feature (reduce exactly, too) */
	uint64_t samples, contributions;
	struct dml_leaves leaves;
	/* Regression targets (optional section): sum t, sum t^2, then, for
	 * the normal equations, sum x_j t and sum x_i x_j (i <= j). */
	struct dml_fx *tsums;
	uint64_t ntsums;      /* 0 when there is no target section */
	/* Cross products XᵀX, upper triangle row by row (nfeat * (nfeat +
	 * 1) / 2 exact sums), or NULL: an optional part of stats. */
	struct dml_fx *xprod;
};

void dml_stats_free(struct dml_stats *s);
/* Fold b into a range [*lo, *hi] so that the result is independent of
 * order, -0 counting as less than +0. */
static inline void dml_range_add(double *lo, double *hi, double b)
{
	/* the common case first: b strictly inside */
	if (b > *lo && b < *hi)
		return;
	if (b < *lo || (b == *lo && signbit(b) && !signbit(*lo)))
		*lo = b;
	if (b > *hi || (b == *hi && !signbit(b) && signbit(*hi)))
		*hi = b;
}
enum dml_err dml_stats_from_data(struct dml_stats *s,
				 const struct dml_data *d,
				 struct dml_error *err);
/* The same statistics from rows as they stream past: begin, rows (any
 * number of calls; y are ids in a label table of nlabels so far), end
 * (names and leaf from the data set read).  On failure free s. */
enum dml_err dml_stats_begin(struct dml_stats *s,
			     const struct dml_schema *schema,
			     struct dml_error *err);
enum dml_err dml_stats_rows(struct dml_stats *s, const double *x,
			    const uint32_t *y, uint64_t n, uint32_t nlabels,
			    struct dml_error *err);
enum dml_err dml_stats_end(struct dml_stats *s, const struct dml_data *d,
			   struct dml_error *err);
enum dml_err dml_stats_encode(const struct dml_stats *s, struct dml_buf *b);
enum dml_err dml_stats_decode(const struct dml_record *rec,
			      struct dml_stats *s, struct dml_error *err);

/* ---- linear model ---- */
struct dml_model {
	uint32_t family;
	struct dml_schema schema;
	struct dml_labels labels;
	struct dml_params params;
	uint32_t nout;        /* 1 for logistic, classes for softmax */
	uint32_t rows;        /* features + 1 (bias row last) */
	double *mean, *scale; /* x' = (x - mean) * scale, per feature */
	double *w;            /* rows * nout, row-major: the model */
	struct dml_opt opt;
	uint64_t iteration, samples, contributions;
	struct dml_leaves leaves;
	uint32_t threads;     /* run time only: threads for gradient passes */
	double *raw_w;        /* run time only: weights on unscaled features */
	/* Exact sum of samples * weights behind an averaged model (optional
	 * section), so that averages of averages stay exact; NULL if none. */
	struct dml_fx *wsum;
	const double *t;      /* run time only: regression targets per row */
	const uint8_t *held;  /* run time only: rows held out (1) for early
	                       * stopping, or NULL */
	int hogwild;          /* run time only: SGD on threads, lock-free */
	/* run time only: the rows as bytes (dml_rowstore), standardized as
	 * they are read, the same values as rows standardized in place; the
	 * rows passed as doubles are then NULL.  Linear families, no
	 * held-out rows. */
	const uint8_t *xq;
	/* tree and forest families: the trees (tree.h), no weights */
	struct dml_forest *forest;
};

void dml_model_free(struct dml_model *m);
/* A new model at zero from reduced statistics. */
enum dml_err dml_model_from_stats(struct dml_model *m,
				  const struct dml_stats *s, uint32_t family,
				  const struct dml_params *p,
				  struct dml_error *err);
enum dml_err dml_model_encode(const struct dml_model *m, struct dml_buf *b);
enum dml_err dml_model_decode(const struct dml_record *rec,
			      struct dml_model *m, struct dml_error *err);
uint64_t dml_model_nweights(const struct dml_model *m);
/* Where the next gradient is wanted (trial point, or w when done). */
const double *dml_model_point(const struct dml_model *m);
/* Standardize n rows in place with the model's scaler. */
void dml_model_standardize(const struct dml_model *m, double *x, uint64_t n);
/* The same for n rows of bytes q, into out. */
void dml_model_standardize_bytes(const struct dml_model *m,
				 const uint8_t *q, uint64_t n, double *out);

/* Loss and gradient sums at w over n standardized rows with class
 * indices y, added exactly into acc[0] (loss) and acc[1..] (gradient). */
enum dml_err dml_model_eval(const struct dml_model *m, const double *w,
			    const double *x, const uint32_t *y, uint64_t n,
			    struct dml_fx *acc, struct dml_error *err);
/* The same sums over rows as they stream past (not mlp; class indices,
 * no regression targets): begin, rows (any number of calls, standardized
 * rows), end adds the last partial sums.  free when stopping early. */
struct dml_eval_stream {
	const struct dml_model *m;
	const double *w;
	struct dml_fx *acc;
	double *z, *g;
	uint64_t rows;
};
enum dml_err dml_model_eval_begin(struct dml_eval_stream *s,
				  const struct dml_model *m, const double *w,
				  struct dml_fx *acc, struct dml_error *err);
enum dml_err dml_model_eval_rows(struct dml_eval_stream *s, const double *x,
				 const uint32_t *y, uint64_t n,
				 struct dml_error *err);
enum dml_err dml_model_eval_end(struct dml_eval_stream *s,
				struct dml_error *err);
void dml_model_eval_free(struct dml_eval_stream *s);
/* Objective (mean loss + penalty) and its gradient from sums. */
void dml_model_objective(const struct dml_model *m, const double *w,
			 const struct dml_fx *acc, uint64_t n, double *f,
			 double *g);
/* Fold the scaler into raw_w, so that raw rows need no standardizing. */
enum dml_err dml_model_fold(struct dml_model *m);
/* Class probabilities for n raw rows (after dml_model_fold). */
void dml_model_proba_raw(const struct dml_model *m, const double *x,
			 uint64_t n, double *p);
/* Class probabilities for n standardized rows into p (n * classes). */
void dml_model_proba(const struct dml_model *m, const double *x, uint64_t n,
		     double *p);

typedef void (*dml_progress_fn)(void *ctx, const struct dml_model *m,
				double objective);
/* Fit on n standardized rows in this process, from the model's current
 * point, with the model's optimizer.  progress may be NULL. */
enum dml_err dml_model_fit(struct dml_model *m, const double *x,
			   const uint32_t *y, uint64_t n,
			   dml_progress_fn progress, void *ctx,
			   struct dml_error *err);

/* ---- the linear-model families (linear.c) ---- */
/* Regression (numeric target, no classes). */
int dml_family_is_regression(uint32_t family);
/* Hinge, squared hinge, perceptron: classes without probabilities. */
int dml_family_is_margin(uint32_t family);
/* Outputs of a classifier of the family with this many classes. */
uint32_t dml_family_nout(uint32_t family, uint32_t classes);
/* Loss sum of nr rows; z becomes d loss / d z (see residual()). */
double dml_linear_residual(const struct dml_model *m, double *z,
			   const uint32_t *y, const double *t, uint64_t nr);
/* Targets of the rows: the label texts of d as numbers, in *t (n). */
enum dml_err dml_data_targets(const struct dml_data *d, double **t,
			      struct dml_error *err);
/* After dml_data_targets: forget the label texts (one per distinct
 * target), so that d is a data set without classes. */
void dml_data_drop_labels(struct dml_data *d);
/* Add target moments (and with gram, X'X and X'y) of d to s. */
enum dml_err dml_stats_add_targets(struct dml_stats *s,
				   const struct dml_data *d, const double *t,
				   int gram, struct dml_error *err);
/* Solve the normal equations of s into m (made by model_from_stats). */
enum dml_err dml_model_solve_normal(struct dml_model *m,
				    const struct dml_stats *s,
				    struct dml_error *err);

/* ---- stochastic optimizers (sgd.c) ---- */
/* Scores z = x W + b of nr standardized rows (nr * nout). */
void dml_model_scores(const struct dml_model *m, const double *w,
		      const double *x, uint64_t nr, double *z);
/* Loss sum of nr rows; z becomes d loss / d z. */
double dml_model_residual(const struct dml_model *m, double *z,
			  const uint32_t *y, const double *t, uint64_t nr);
/* The rows held out: a seeded hash of each row's values and label
 * below frac, so the choice does not depend on sharding or order. */
enum dml_err dml_holdout_mask(const double *x, uint32_t nf,
			      const uint32_t *y, const double *t, uint64_t n,
			      double frac, uint64_t seed, uint8_t **mask);
/* Epochs of method (sgd, minibatch, adam) over n rows (targets m->t);
 * with hn held-out rows, stop when their loss stops improving and keep
 * the best weights. */
enum dml_err dml_sgd_fit(struct dml_model *m, uint32_t method,
			 const double *x, const uint32_t *y, uint64_t n,
			 const double *hx, const uint32_t *hy,
			 const double *ht, uint64_t hn, uint32_t epochs,
			 dml_progress_fn progress, void *ctx,
			 struct dml_error *err);

/* ---- gradient records ---- */
struct dml_grad {
	uint32_t family;
	uint64_t schema, basis, iteration, samples, contributions;
	uint64_t count;        /* 1 + weights */
	struct dml_fx *sums;
	struct dml_leaves leaves;
};

void dml_grad_free(struct dml_grad *g);
enum dml_err dml_grad_encode(const struct dml_grad *g, struct dml_buf *b);
enum dml_err dml_grad_decode(const struct dml_record *rec,
			     struct dml_grad *g, struct dml_error *err);
/* A gradient record's sums as they lie in it, checked as dml_grad_decode
 * checks them but not copied: *n values of DML_FX_BYTES bytes at *p
 * (the leaves are left to dml_leaves_read). */
enum dml_err dml_grad_sums(const struct dml_record *rec,
			   const unsigned char **p, uint64_t *n,
			   struct dml_error *err);
/* One optimizer step of m from a reduced gradient taken at it. */
enum dml_err dml_model_apply(struct dml_model *m, uint64_t model_hash,
			     const struct dml_grad *g, struct dml_error *err);

/* ---- reduction: any number of records of one kind into one ---- */
struct dml_reducer;
struct dml_reducer *dml_reducer_new(void);
void dml_reducer_free(struct dml_reducer *r);
enum dml_err dml_reducer_add(struct dml_reducer *r,
			     const struct dml_record *rec,
			     struct dml_error *err);
uint64_t dml_reducer_contributions(const struct dml_reducer *r);
/* The reduced record; DML_EEMPTY if nothing was added. */
enum dml_err dml_reducer_finish(struct dml_reducer *r, struct dml_buf *b,
				struct dml_error *err);

/* ---- ensembles: several models whose class probabilities are combined */
enum dml_combine {
	DML_COMBINE_AVERAGE = 0,  /* mean of the members' probabilities */
	DML_COMBINE_VOTE = 1,     /* share of the members' votes */
	DML_COMBINE_WEIGHTED = 2, /* weighted mean of their probabilities */
	DML_COMBINE_STACK = 3,    /* a softmax model on their probabilities */
};

const char *dml_combine_name(uint32_t combine);

struct dml_ensemble {
	uint32_t n;
	struct dml_model *members;
	uint32_t combine;         /* enum dml_combine */
	double *weights;          /* n, for weighted (sum > 0) */
	struct dml_model *meta;   /* for stack */
};

void dml_ensemble_free(struct dml_ensemble *e);
/* A model record gives a one-member ensemble; an ensemble its members. */
enum dml_err dml_ensemble_decode(const struct dml_record *rec,
				 struct dml_ensemble *e,
				 struct dml_error *err);
/* Append the members of rec (model or ensemble) to e, checking that the
 * schema and classes agree with the members already there. */
enum dml_err dml_ensemble_add(struct dml_ensemble *e,
			      const struct dml_record *rec,
			      struct dml_error *err);
enum dml_err dml_ensemble_encode(const struct dml_ensemble *e,
				 struct dml_buf *b);
/* Combined class probabilities of n raw (unstandardized) rows. */
enum dml_err dml_ensemble_proba(struct dml_ensemble *e,
				const double *x, uint64_t n, double *p);
/* Class probabilities of one member for n raw rows. */
enum dml_err dml_member_proba(struct dml_model *m, const double *x,
			      uint64_t n, double *p);
/* Fit the stacking meta-model of e on n raw rows with class indices y. */
enum dml_err dml_ensemble_stack(struct dml_ensemble *e, const double *x,
				const uint32_t *y, uint64_t n,
				uint32_t threads, struct dml_error *err);
/* Does m predict a number (linear, regression mlp, tree or forest)? */
int dml_model_is_regression(const struct dml_model *m);
/* One forest of all the trees of e's members (all trees or forests). */
enum dml_err dml_ensemble_forest(const struct dml_ensemble *e,
				 struct dml_model *out,
				 struct dml_error *err);
/* A tree or forest model record (tree.c). */
enum dml_err dml_treemodel_encode(const struct dml_model *m,
				  struct dml_buf *b);
enum dml_err dml_treemodel_decode(const struct dml_record *rec,
				  struct dml_model *m, struct dml_error *err);

/* ---- the linear algebra underneath ---- */
struct dml_blas_info {
	const char *version;    /* BLIS version */
	const char *kernels;    /* configuration in use, e.g. "zen3" */
	long threads;           /* BLIS threads per call */
	int openmp;             /* BLIS built with OpenMP */
};

void dml_blas_info(struct dml_blas_info *info);

#endif
