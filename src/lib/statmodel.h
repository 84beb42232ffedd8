/* statmodel.h - models made from statistics alone: the feature scaler,
 * the Gaussian anomaly model and principal component analysis.
 *
 * All three are built from the exact sums of a stats record (feature
 * sums, sums of squares and, for the full covariance, the cross products
 * XᵀX), so one process and any reduction tree over shards give the same
 * bytes. */
#ifndef DML_STATMODEL_H
#define DML_STATMODEL_H

#include <stdint.h>

#include "model.h"

enum dml_cov { DML_COV_DIAG = 0, DML_COV_FULL = 1 };

/* What -a scaler|gaussian|pca are built with. */
struct dml_sparams {
	uint32_t covariance;  /* gaussian: enum dml_cov */
	uint32_t components;  /* pca: K, 0 if not given */
};

struct dml_smodel {
	uint32_t family;          /* scaler, gaussian or pca */
	struct dml_schema schema;
	struct dml_labels labels;
	struct dml_sparams params;
	uint32_t nout;            /* values per row that predict gives */
	/* standardization x' = (x - mean) * scale, per feature */
	double *mean, *scale;
	/* scaler: range and the exact sums it came from (2 * nfeat) */
	double *min, *max;
	struct dml_fx *sums;
	/* gaussian and pca: mean of x' (zero unless --scale) */
	double *center;
	double ridge;             /* gaussian: added to the variances */
	double *var;              /* gaussian diag: variances of x' */
	double *chol;             /* gaussian full: packed lower factor L */
	double total;             /* pca: total variance (trace) */
	double *eigval;           /* pca: K variances, largest first */
	double *comp;             /* pca: K x nfeat, unit rows */
	uint64_t samples, contributions;
	struct dml_leaves leaves;
};

/* 1 if the family is one of scaler, gaussian, pca. */
int dml_smodel_family(uint32_t family);
/* 1 if the family scores rows as anomalies (dml-predict --threshold). */
int dml_smodel_anomaly(uint32_t family);
/* 1 if stats for this family carry the cross products. */
int dml_smodel_needs_xprod(uint32_t family, const struct dml_sparams *p);

/* Statistics whose sums are exact per row, so that the blocks a shard is
 * cut into do not change a bit; with cross products when xprod.  Rows
 * are summed on up to `threads` threads, with the same result. */
enum dml_err dml_stats_exact(struct dml_stats *s, const struct dml_data *d,
			     int xprod, uint32_t threads,
			     struct dml_error *err);

void dml_smodel_free(struct dml_smodel *m);
/* A model of family from reduced statistics; scaler (may be NULL) gives
 * the standardization instead of the statistics' own. */
enum dml_err dml_smodel_from_stats(struct dml_smodel *m,
				   const struct dml_stats *s, uint32_t family,
				   const struct dml_sparams *p,
				   const struct dml_smodel *scaler,
				   struct dml_error *err);
enum dml_err dml_smodel_encode(const struct dml_smodel *m, struct dml_buf *b);
enum dml_err dml_smodel_decode(const struct dml_record *rec,
			       struct dml_smodel *m, struct dml_error *err);
/* The statistics inside a scaler model record (dml-reduce merges scalers
 * by reducing these). */
enum dml_err dml_scaler_stats(const struct dml_record *rec,
			      struct dml_stats *s, struct dml_error *err);
/* The scaler of reduced statistics, encoded into b. */
enum dml_err dml_scaler_reduced(const struct dml_stats *s, struct dml_buf *b,
				struct dml_error *err);
/* Give a linear model the scaler's standardization. */
enum dml_err dml_scaler_apply(const struct dml_smodel *sc,
			      struct dml_model *m, struct dml_error *err);
/* nout values for each of n raw rows: standardized features (scaler),
 * squared Mahalanobis distance (gaussian), projections (pca). */
void dml_smodel_predict(const struct dml_smodel *m, const double *x,
			uint64_t n, double *out);

/* Area under the ROC curve of scores for 0/1 labels y, ties counted as
 * half (average ranks).  Sorts a copy; -1 without both classes, -2 when
 * out of memory. */
double dml_auc(const double *score, const unsigned char *y, uint64_t n);

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, kept):
 * eigenvalues into w (descending) and unit eigenvectors into the rows of
 * v (n x n).  Householder tridiagonalization and implicit QL. */
enum dml_err dml_symeig(const double *a, uint32_t n, double *w, double *v);

#endif
