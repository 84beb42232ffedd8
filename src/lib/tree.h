/* tree.h - decision trees (CART) and random forests for classification
 * and regression. */
#ifndef DML_TREE_H
#define DML_TREE_H

#include <stdint.h>

#include "data.h"
#include "error.h"
#include "record.h"

/* No tree, grown or decoded, is deeper than this (root at depth 0). */
#define DML_TREE_MAX_DEPTH 64
/* Histogram bins per feature: thresholds are cut points between them. */
#define DML_TREE_BINS 256
#define DML_TREE_LEAF UINT32_MAX    /* feature of a leaf node */
#define DML_FOREST_MAX_TREES 100000

/* gini and entropy split classes; variance (regression) splits numbers
 * and marks a regression tree in the record */
enum dml_criterion { DML_GINI = 0, DML_ENTROPY = 1, DML_VARIANCE = 2 };

struct dml_tree_params {
	uint32_t criterion;     /* enum dml_criterion */
	uint32_t max_depth;     /* 1..DML_TREE_MAX_DEPTH */
	uint32_t min_leaf;      /* rows (with bootstrap multiplicity) */
	uint32_t max_features;  /* per split; 0: all, DML_FEATURES_SQRT */
	uint32_t trees;         /* forest size */
	uint64_t seed;
};
#define DML_FEATURES_SQRT UINT32_MAX

/* A node is internal (x[feature] <= threshold goes left) or a leaf
 * (feature DML_TREE_LEAF, left the index of its class counts, or of its
 * mean target and weighted row count in a regression tree).  Children
 * come after their parent, so a tree has no cycles by construction. */
struct dml_tree_node {
	uint32_t feature, left, right;
	double threshold;
};

struct dml_tree {
	uint32_t nnodes, nleaves;
	struct dml_tree_node *node;
	double *counts;         /* nleaves * classes, weighted row counts;
				 * regression: nleaves * 2, mean and count */
};

struct dml_forest {
	uint32_t family;        /* DML_FAMILY_TREE or DML_FAMILY_FOREST */
	uint32_t nclass, nfeat, ntrees;   /* nclass 0: regression */
	struct dml_tree_params params;
	struct dml_tree *tree;
	/* out-of-bag accuracy of a freshly grown forest (not stored) */
	uint64_t oob_rows, oob_correct;
	double oob_sse, oob_sst;  /* regression: squared errors, spread */
};

/* Values per leaf of a regression tree: the mean target and the count. */
#define DML_TREE_REG_WIDTH 2

static inline int dml_forest_is_regression(const struct dml_forest *f)
{
	return f->params.criterion == DML_VARIANCE;
}

void dml_tree_params_default(struct dml_tree_params *p, uint32_t family);
void dml_forest_free(struct dml_forest *f);

/* Grow a tree (family tree: all rows) or a forest (each tree on its own
 * bootstrap sample, its random numbers drawn from seed and tree index)
 * on n rows of nfeat features with class indices y < nclass, or, with
 * criterion variance (y NULL, nclass 0), numeric targets t.  The result
 * does not depend on threads. */
enum dml_err dml_forest_grow(struct dml_forest *f, uint32_t family,
			     const struct dml_tree_params *p,
			     const double *x, const uint32_t *y,
			     const double *t, uint64_t n,
			     uint32_t nfeat, uint32_t nclass,
			     uint32_t threads, struct dml_error *err);

/* Mean of the trees' leaf class distributions for n rows into p (n *
 * nclass), or of their leaf means (n values) for a regression forest. */
void dml_forest_proba(const struct dml_forest *f, const double *x,
		      uint64_t n, double *p);

/* Sections of a tree/forest model record after schema and labels. */
void dml_forest_write(struct dml_buf *b, const struct dml_forest *f);
/* Read and check them (nfeat, nclass from the record's schema/labels). */
enum dml_err dml_forest_read(const struct dml_record *rec,
			     struct dml_forest *f, uint32_t nfeat,
			     uint32_t nclass, struct dml_error *err);
/* Append src's trees to dst (same features and classes). */
enum dml_err dml_forest_merge(struct dml_forest *dst,
			      const struct dml_forest *src,
			      struct dml_error *err);

#endif
