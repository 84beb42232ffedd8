/* cli-kmeans.h - the kmeans family in dml-train and dml-predict. */
#ifndef DML_CLI_KMEANS_H
#define DML_CLI_KMEANS_H

#include <stdint.h>

#include "data.h"

struct kmeans_opts {
	uint32_t k;            /* 0: not given */
	uint32_t max_iter;
	double tol;
	uint64_t seed;
	const char *label;     /* column to leave out, or NULL */
	struct dml_csv_opts csv;
	uint32_t threads;
	int verbose;
	int emit_pass;         /* --emit stats or gradient */
	const char *model, *apply, *output;
};

/* Family of the model record in path, 0 if it is not a model. */
uint32_t cli_model_family(const char *path);

/* dml-train -a kmeans: fit, a pass, or --apply. */
void kmeans_train(const struct kmeans_opts *o, char **files, int nfiles);

/* dml-predict with a kmeans model: cluster and distance per row, or
 * --eval inertia and rows; with a threshold, a 0/1 flag per row. */
struct kmeans_predict_opts {
	const struct dml_record *model;
	const char *model_name;
	struct dml_csv_opts csv;
	const char *output;
	int eval, has_threshold;
	double threshold;
};

void kmeans_predict(const struct kmeans_predict_opts *o, char **files,
		    int nfiles);

#endif
