/* kmeans.h - k-means: k-means++ seeding by exponential races, Lloyd steps
 * from exactly summed per-cluster statistics.
 *
 * Every step is one pass over the data at the current model, whose result
 * reduces exactly (fixed-point sums, and a minimum), then one update.
 * Seeding round r draws each row's race time from a hash of (seed, r, the
 * row's bytes), so which row wins does not depend on the shard the row is
 * in or on row order: one process and any number of shards seed the same
 * centers. */
#ifndef DML_KMEANS_H
#define DML_KMEANS_H

#include <stdint.h>

#include "model.h"

enum dml_km_phase {
	DML_KM_SEED = 0,   /* choosing center ncenters */
	DML_KM_LLOYD = 1,  /* Lloyd steps */
	DML_KM_DONE = 2,
};

#define DML_KM_MAX_K 65536u
#define DML_KM_TOL 1e-4
#define DML_KM_MAX_ITER 300u

struct dml_kmeans {
	struct dml_schema schema;
	uint32_t k, nfeat;
	uint32_t max_iter;     /* Lloyd steps at most */
	double tol;            /* relative to the mean feature variance */
	uint64_t seed;
	uint32_t phase;        /* enum dml_km_phase */
	uint32_t stop;         /* enum dml_stop once done */
	uint32_t ncenters;     /* centers chosen so far */
	uint32_t lloyd;        /* Lloyd steps taken */
	double tol_abs;        /* tol * mean feature variance */
	double inertia;        /* at the centers the last step started from */
	double shift;          /* sum of squared center moves, last step */
	double *c;             /* k * nfeat */
	uint64_t iteration, samples, contributions;
	struct dml_leaves leaves;
	uint32_t threads;      /* run time only */
};

/* What one pass over a shard contributes (a gradient-kind record). */
struct dml_kpass {
	uint64_t count;        /* seeding: 1 (phi); Lloyd: 1 + k + k*nfeat */
	struct dml_fx *sums;
	int has_pick;          /* seeding: the row that won the race */
	double key;
	uint32_t nfeat;
	double *row;
};

void dml_kmeans_free(struct dml_kmeans *m);
void dml_kpass_free(struct dml_kpass *p);

/* A new model (seeding round 0) from reduced statistics. */
enum dml_err dml_kmeans_from_stats(struct dml_kmeans *m,
				   const struct dml_stats *s, uint32_t k,
				   uint32_t max_iter, double tol,
				   uint64_t seed, struct dml_error *err);
/* What dml_kmeans_fit reads off the rows before it starts: their
 * squared norms, norms, hashes, each feature's range. */
struct dml_krows {
	uint64_t n;
	uint32_t nfeat;
	double *xn, *xr, *lo, *hi;
	uint64_t *rh;
};
void dml_krows_free(struct dml_krows *kr);
/* The statistics dml_kmeans_from_stats reads (schema, sums, rows,
 * leaves) of the rows in memory, summed as dml_stats_from_data sums
 * them; the rest is left empty.  With kr, in the same pass, what
 * dml_kmeans_fit reads off the rows. */
enum dml_err dml_kmeans_stats(struct dml_stats *s, const struct dml_data *d,
			      struct dml_krows *kr, struct dml_error *err);
enum dml_err dml_kmeans_encode(const struct dml_kmeans *m, struct dml_buf *b);
enum dml_err dml_kmeans_decode(const struct dml_record *rec,
			       struct dml_kmeans *m, struct dml_error *err);
const char *dml_kmeans_status(const struct dml_kmeans *m);

/* One pass over n rows at the model: into p (allocated here).  xn, if
 * not NULL, holds the rows' squared norms (dml_kmeans_norms). */
enum dml_err dml_kmeans_pass(const struct dml_kmeans *m, const double *x,
			     const double *xn, uint64_t n,
			     struct dml_kpass *p, struct dml_error *err);
void dml_kmeans_norms(const double *x, uint64_t n, uint32_t nfeat,
		      double *xn);
/* Apply a reduced pass (its header: schema, basis, iteration, samples,
 * leaves) to m: one step. */
enum dml_err dml_kmeans_apply(struct dml_kmeans *m, uint64_t model_hash,
			      const struct dml_record *rec,
			      struct dml_error *err);
/* The same, in one process, from a pass computed here. */
enum dml_err dml_kmeans_step(struct dml_kmeans *m, const struct dml_kpass *p,
			     struct dml_error *err);

/* Pass records: gradient kind, family kmeans. */
enum dml_err dml_kpass_encode(const struct dml_kpass *p,
			      const struct dml_header *h,
			      const struct dml_leaves *leaves,
			      struct dml_buf *b);
enum dml_err dml_kpass_decode(const struct dml_record *rec,
			      struct dml_kpass *p, struct dml_error *err);
/* Keep in *dst the earlier winner of dst's and rec's races. */
enum dml_err dml_kpass_pick_merge(struct dml_kpass *dst,
				  const struct dml_record *rec,
				  struct dml_error *err);

typedef void (*dml_kmeans_progress_fn)(void *ctx, const struct dml_kmeans *m);
/* Seed and run Lloyd steps to the end, in this process; kr, if not
 * NULL, from dml_kmeans_stats of the same rows. */
enum dml_err dml_kmeans_fit(struct dml_kmeans *m, const double *x, uint64_t n,
			    const struct dml_krows *kr,
			    dml_kmeans_progress_fn progress, void *ctx,
			    struct dml_error *err);

/* Nearest center and squared distance of n rows. */
enum dml_err dml_kmeans_assign(const struct dml_kmeans *m, const double *x,
			       uint64_t n, uint32_t *cluster, double *d2);

#endif
