/* mlp.h - multilayer perceptrons: dense layers with relu or tanh, a
 * softmax output (classes) or one linear output unit (regression), one
 * flat weight vector.
 *
 * The weights of all layers live in struct dml_model's w, layer after
 * layer; layer l is (in + 1) x out row-major with its bias row last, so
 * the first layer has the layout of a softmax model's weights and the
 * scaler folds into it the same way.  Training and gradient passes
 * compute in float32 through BLIS sgemm; the record keeps f64.
 *
 * A regression mlp learns the standardized target (t - tmean) / tsd with
 * the squared loss; its predictions are output * tsd + tmean. */
#ifndef DML_MLP_H
#define DML_MLP_H

#include <stdint.h>

#include "model.h"

enum dml_activation {
	DML_ACT_RELU = 0,
	DML_ACT_TANH = 1,
};

enum dml_output {
	DML_OUTPUT_SOFTMAX = 0, /* classes */
	DML_OUTPUT_LINEAR = 1,  /* a number: regression */
};

/* Bits of the options given explicitly, for dml_mlp_defaults(). */
enum {
	DML_SET_OPTIMIZER = 1, DML_SET_LR = 2, DML_SET_BATCH = 4,
	DML_SET_EPOCHS = 8, DML_SET_L2 = 16,
};

#define DML_MLP_MAXUNITS 65536
#define DML_MLP_MAXWEIGHTS (UINT64_C(1) << 28)

const char *dml_activation_name(uint32_t a);
/* Activation by name; -1 if unknown. */
int dml_activation_parse(const char *name);
/* "100" or "256,128" into p->hidden; DML_EPARAM with a message if bad. */
enum dml_err dml_mlp_parse_hidden(const char *s, struct dml_params *p,
				  struct dml_error *err);
/* The mlp defaults for whatever was not set explicitly. */
void dml_mlp_defaults(struct dml_params *p, unsigned set);
/* The optimizer state machine behind --apply for an optimizer name. */
uint32_t dml_mlp_opt_method(uint32_t optimizer);

/* A regression mlp (linear output)? */
int dml_mlp_is_regression(const struct dml_model *m);
/* "regression" or "classification" into p->output; -1 if unknown. */
int dml_mlp_parse_task(const char *name, struct dml_params *p);
/* The target's mean and sd of a new regression mlp, from statistics. */
enum dml_err dml_mlp_target(struct dml_model *m, const struct dml_stats *s,
			    struct dml_error *err);

uint64_t dml_mlp_nweights(const struct dml_model *m);
/* Check the layer sizes of a new model (m->params, features, outputs). */
enum dml_err dml_mlp_check(const struct dml_model *m, struct dml_error *err);
/* Glorot-uniform weights and biases from the seed, as scikit-learn. */
void dml_mlp_init(struct dml_model *m);
int dml_mlp_same_shape(const struct dml_model *a, const struct dml_model *b);

/* The layers section of a model record. */
void dml_mlp_write(struct dml_buf *b, const struct dml_model *m);
enum dml_err dml_mlp_read(const struct dml_record *rec, struct dml_model *m,
			  struct dml_error *err);

/* Loss and gradient sums over n standardized rows (classes y, or for a
 * regression the targets m->t), added exactly into acc, chunk by chunk of
 * 256 rows (the same bits for any -j). */
enum dml_err dml_mlp_eval(const struct dml_model *m, const double *w,
			  const double *x, const uint32_t *y, uint64_t n,
			  struct dml_fx *acc, struct dml_error *err);
void dml_mlp_objective(const struct dml_model *m, const double *w,
		       const struct dml_fx *acc, uint64_t n, double *f,
		       double *g);
/* Fold the scaler into the first layer of raw_w. */
enum dml_err dml_mlp_fold(struct dml_model *m);
/* Class probabilities of n rows (standardized for w, raw for raw_w);
 * for a regression the predicted numbers (n). */
void dml_mlp_proba(const struct dml_model *m, const double *w,
		   const double *x, uint64_t n, double *p);
/* Mini-batch SGD (momentum) or Adam for epochs passes (targets m->t
 * for a regression). */
enum dml_err dml_mlp_fit(struct dml_model *m, const double *x,
			 const uint32_t *y, uint64_t n, uint32_t epochs,
			 dml_progress_fn progress, void *ctx,
			 struct dml_error *err);

#endif
