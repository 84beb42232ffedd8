/* reduce.c - combine records of one kind exactly: gradients and statistics
 * by summing, models by the sample-weighted mean of their weights.  Every
 * sum is fixed-point, leaves and labels are kept sorted, so the result does
 * not depend on the order or grouping of the inputs. */
#include "mlp.h"
#include "model.h"
#include "statmodel.h"
#include "kmeans.h"

#include <stdlib.h>
#include <string.h>

struct dml_reducer {
	int started;
	struct dml_header h;
	uint64_t samples, contributions;
	struct dml_leaves leaves;
	struct dml_fx *sums;
	uint64_t count;
	/* stats */
	double *min, *max;
	struct dml_schema schema;
	struct dml_strtab labels;
	uint64_t *label_counts;
	uint32_t label_cap;
	struct dml_fx *tsums;  /* regression targets, if any */
	uint64_t ntsums;
	struct dml_fx *xprod;  /* cross products, when the stats have them */
	/* models */
	struct dml_model model;
	/* k-means seeding: the winner of the race so far */
	struct dml_kpass kpick;
};

struct dml_reducer *dml_reducer_new(void)
{
	return calloc(1, sizeof(struct dml_reducer));
}

void dml_reducer_free(struct dml_reducer *r)
{
	if (!r)
		return;
	dml_leaves_free(&r->leaves);
	free(r->sums);
	free(r->min);
	free(r->max);
	dml_schema_free(&r->schema);
	dml_strtab_free(&r->labels);
	free(r->label_counts);
	free(r->tsums);
	free(r->xprod);
	dml_model_free(&r->model);
	dml_kpass_free(&r->kpick);
	free(r);
}

uint64_t dml_reducer_contributions(const struct dml_reducer *r)
{
	return r->contributions;
}

static enum dml_err add_labels(struct dml_reducer *r,
			       const struct dml_labels *l,
			       struct dml_error *err)
{
	for (uint32_t i = 0; i < l->n; i++) {
		uint32_t id = dml_strtab_intern(&r->labels, l->names[i]);
		if (id == UINT32_MAX)
			return dml_fail(err, DML_ENOMEM, NULL);
		if (id >= r->label_cap) {
			uint32_t cap = r->label_cap ? r->label_cap * 2 : 16;
			while (cap <= id)
				cap *= 2;
			uint64_t *c = realloc(r->label_counts,
					      cap * sizeof *c);
			if (!c)
				return dml_fail(err, DML_ENOMEM, NULL);
			memset(c + r->label_cap, 0,
			       (cap - r->label_cap) * sizeof *c);
			r->label_counts = c;
			r->label_cap = cap;
		}
		r->label_counts[id] += l->counts[i];
	}
	return DML_OK;
}

/* The sums for records of n values. */
static enum dml_err sums_start(struct dml_reducer *r, uint64_t n,
			       struct dml_error *err)
{
	if (!r->sums) {
		r->sums = calloc(n ? n : 1, sizeof *r->sums);
		if (!r->sums)
			return dml_fail(err, DML_ENOMEM, NULL);
		r->count = n;
	}
	if (n != r->count)
		return dml_fail(err, DML_EMISMATCH,
				"records of %llu and %llu values",
				(unsigned long long)r->count,
				(unsigned long long)n);
	return DML_OK;
}

static enum dml_err add_sums(struct dml_reducer *r, const struct dml_fx *s,
			     uint64_t n, struct dml_error *err)
{
	enum dml_err rc = sums_start(r, n, err);
	if (rc)
		return rc;
	for (uint64_t i = 0; i < n; i++)
		if (dml_fx_add(&r->sums[i], &s[i]))
			return dml_fail(err, DML_ERANGE,
					"sum out of range");
	return DML_OK;
}

/* A gradient's sums go from the record's bytes straight into the sums. */
static enum dml_err add_grad(struct dml_reducer *r,
			     const struct dml_record *rec,
			     struct dml_error *err)
{
	const unsigned char *p;
	uint64_t n;
	enum dml_err rc = dml_grad_sums(rec, &p, &n, err);
	if (!rc)
		rc = sums_start(r, n, err);
	if (!rc && dml_fx_add_bytes(r->sums, p, n))
		rc = dml_fail(err, DML_ERANGE, "sum out of range");
	return rc;
}

static enum dml_err add_targets(struct dml_reducer *r,
			       const struct dml_stats *s,
			       struct dml_error *err)
{
	if (!r->started) {
		r->ntsums = s->ntsums;
		r->tsums = calloc(s->ntsums + 1, sizeof *r->tsums);
		if (!r->tsums)
			return dml_fail(err, DML_ENOMEM, NULL);
	}
	if (s->ntsums != r->ntsums)
		return dml_fail(err, DML_EMISMATCH,
				"statistics with %llu target sums among "
				"statistics with %llu",
				(unsigned long long)s->ntsums,
				(unsigned long long)r->ntsums);
	for (uint64_t i = 0; i < s->ntsums; i++)
		if (dml_fx_add(&r->tsums[i], &s->tsums[i]))
			return dml_fail(err, DML_ERANGE, "sum out of range");
	return DML_OK;
}

static int same_model_setup(const struct dml_model *a,
			    const struct dml_model *b)
{
	uint32_t nf = a->schema.nfeat;
	return a->nout == b->nout && a->rows == b->rows &&
	       dml_mlp_same_shape(a, b) &&
	       dml_labels_equal(&a->labels, &b->labels) &&
	       !memcmp(a->mean, b->mean, nf * sizeof *a->mean) &&
	       !memcmp(a->scale, b->scale, nf * sizeof *a->scale) &&
	       !memcmp(&a->params.l2, &b->params.l2, sizeof(double)) &&
	       a->params.optimizer == b->params.optimizer;
}

enum dml_err dml_reducer_add(struct dml_reducer *r,
			     const struct dml_record *rec,
			     struct dml_error *err)
{
	const struct dml_header *h = &rec->h;
	enum dml_err rc;
	if (h->kind != DML_KIND_GRADIENT && h->kind != DML_KIND_STATS &&
	    h->kind != DML_KIND_MODEL)
		return dml_fail(err, DML_EKIND,
				h->kind == DML_KIND_ENSEMBLE
				? "ensemble records cannot be reduced (give "
				  "them to dml-ensemble)"
				: "%s records cannot be reduced",
				dml_kind_name(h->kind));
	if (h->kind == DML_KIND_MODEL && (h->family == DML_FAMILY_TREE ||
					  h->family == DML_FAMILY_FOREST))
		return dml_fail(err, DML_EKIND, "%s models cannot be reduced "
				"(give them to dml-ensemble)",
				dml_family_name(h->family));
	if (r->started) {
		if (h->kind != r->h.kind)
			return dml_fail(err, DML_EKIND,
					"a %s record among %s records",
					dml_kind_name(h->kind),
					dml_kind_name(r->h.kind));
		if (h->schema != r->h.schema)
			return dml_fail(err, DML_ESCHEMA,
					"feature schema %016llx differs from "
					"%016llx of the first record",
					(unsigned long long)h->schema,
					(unsigned long long)r->h.schema);
		if (h->family != r->h.family)
			return dml_fail(err, DML_EMISMATCH,
					"a %s record among %s records",
					dml_family_name(h->family),
					dml_family_name(r->h.family));
		if (h->iteration != r->h.iteration)
			return dml_fail(err, DML_EMISMATCH,
					"iteration %llu differs from "
					"iteration %llu of the first record",
					(unsigned long long)h->iteration,
					(unsigned long long)r->h.iteration);
		if (h->basis != r->h.basis)
			return dml_fail(err, DML_EMISMATCH,
					"gradient taken at another model than "
					"the first record's");
	}
	struct dml_leaves leaves;
	if ((rc = dml_leaves_read(rec, &leaves, err)))
		return rc;
	rc = dml_leaves_merge(&r->leaves, &leaves, err);
	dml_leaves_free(&leaves);
	if (rc)
		return rc;
	if (h->kind == DML_KIND_GRADIENT) {
		rc = add_grad(r, rec, err);
		if (!rc && h->family == DML_FAMILY_KMEANS)
			rc = dml_kpass_pick_merge(&r->kpick, rec, err);
	} else if (h->kind == DML_KIND_STATS ||
		   h->family == DML_FAMILY_SCALER) {
		/* a scaler model is reduced as the stats it holds */
		struct dml_stats s;
		if ((rc = h->kind == DML_KIND_STATS
			  ? dml_stats_decode(rec, &s, err)
			  : dml_scaler_stats(rec, &s, err)))
			return rc;
		if (r->started && !s.xprod != !r->xprod)
			rc = dml_fail(err, DML_EMISMATCH, "stats with and "
				      "without cross products cannot be "
				      "reduced together (emit every shard's "
				      "stats with the same -a and "
				      "--covariance)");
		if (!rc && s.xprod) {
			uint64_t nx = (uint64_t)s.schema.nfeat *
				      (s.schema.nfeat + 1) / 2;
			if (!r->xprod &&
			    !(r->xprod = calloc(nx + 1, sizeof *r->xprod)))
				rc = dml_fail(err, DML_ENOMEM, NULL);
			for (uint64_t i = 0; !rc && i < nx; i++)
				if (dml_fx_add(&r->xprod[i], &s.xprod[i]))
					rc = dml_fail(err, DML_ERANGE,
						      "sum out of range");
		}
		if (!rc && !r->started &&
		    dml_schema_copy(&r->schema, &s.schema))
			rc = dml_fail(err, DML_ENOMEM, NULL);
		if (!rc)
			rc = add_labels(r, &s.labels, err);
		if (!rc)
			rc = add_targets(r, &s, err);
		if (!rc)
			rc = add_sums(r, s.sums, 2 * (uint64_t)s.schema.nfeat,
				      err);
		uint32_t nf = s.schema.nfeat;
		if (!rc && !r->min) {
			r->min = malloc(((size_t)nf + 1) * sizeof *r->min);
			r->max = malloc(((size_t)nf + 1) * sizeof *r->max);
			if (!r->min || !r->max)
				rc = dml_fail(err, DML_ENOMEM, NULL);
			for (uint32_t j = 0; !rc && j < nf; j++) {
				r->min[j] = s.min[j];
				r->max[j] = s.max[j];
			}
		} else if (!rc) {
			for (uint32_t j = 0; j < nf; j++) {
				dml_range_add(&r->min[j], &r->max[j],
					      s.min[j]);
				dml_range_add(&r->min[j], &r->max[j],
					      s.max[j]);
			}
		}
		dml_stats_free(&s);
	} else if (h->family == DML_FAMILY_KMEANS) {
		return dml_fail(err, DML_EKIND, "kmeans models cannot be "
				"averaged (reduce their passes instead)");
	} else {
		struct dml_model m;
		if ((rc = dml_model_decode(rec, &m, err)))
			return rc;
		size_t nw = (size_t)dml_model_nweights(&m);
		double *wn = malloc((nw + 1) * sizeof *wn);
		struct dml_fx *fx = calloc(nw + 1, sizeof *fx);
		if (!wn || !fx)
			rc = dml_fail(err, DML_ENOMEM, NULL);
		if (!rc && r->started && !same_model_setup(&r->model, &m))
			rc = dml_fail(err, DML_EMISMATCH,
				      "models differ in classes, scaler or "
				      "parameters: they do not come from the "
				      "same initial model");
		/* An averaged model brings its exact sum, if it still
		 * matches its weights; a leaf model its weights times its
		 * samples, rounded once. */
		int exact = m.wsum != NULL && m.samples > 0;
		for (size_t i = 0; exact && i < nw; i++) {
			double w = dml_fx_to_double(&m.wsum[i]) /
				   (double)m.samples;
			exact = memcmp(&w, &m.w[i], sizeof w) == 0;
		}
		for (size_t i = 0; !rc && i < nw; i++) {
			if (exact) {
				fx[i] = m.wsum[i];
				continue;
			}
			wn[i] = m.w[i] * (double)m.samples;
			if (dml_fx_from_double(wn[i], &fx[i]))
				rc = dml_fail(err, DML_ERANGE,
					      "weight out of range");
		}
		if (!rc)
			rc = add_sums(r, fx, nw, err);
		free(wn);
		free(fx);
		if (!rc && !r->started)
			r->model = m;
		else
			dml_model_free(&m);
	}
	if (rc)
		return rc;
	if (!r->started) {
		r->h = *h;
		r->started = 1;
	}
	if (r->samples + h->samples < r->samples)
		return dml_fail(err, DML_ERANGE, "sample count overflows");
	r->samples += h->samples;
	r->contributions += h->contributions;
	return DML_OK;
}

enum dml_err dml_reducer_finish(struct dml_reducer *r, struct dml_buf *b,
				struct dml_error *err)
{
	enum dml_err rc = DML_OK;
	if (!r->started)
		return dml_fail(err, DML_EEMPTY, "no records to reduce");
	if (r->h.kind == DML_KIND_GRADIENT) {
		struct dml_grad g = {
			.family = r->h.family, .schema = r->h.schema,
			.basis = r->h.basis, .iteration = r->h.iteration,
			.samples = r->samples,
			.contributions = r->contributions, .count = r->count,
			.sums = r->sums, .leaves = r->leaves,
		};
		if (g.family == DML_FAMILY_KMEANS) {
			struct dml_header h = r->h;
			h.samples = r->samples;
			h.contributions = r->contributions;
			r->kpick.count = r->count;
			r->kpick.sums = r->sums;
			rc = dml_kpass_encode(&r->kpick, &h, &r->leaves, b);
			r->kpick.sums = NULL;
		} else {
			rc = dml_grad_encode(&g, b);
		}
	} else if (r->h.kind == DML_KIND_STATS ||
		   r->h.family == DML_FAMILY_SCALER) {
		struct dml_stats s = {
			.family = r->h.family, .schema = r->schema,
			.sums = r->sums, .min = r->min, .max = r->max,
			.samples = r->samples,
			.contributions = r->contributions,
			.leaves = r->leaves, .xprod = r->xprod,
			.tsums = r->tsums, .ntsums = r->ntsums,
		};
		s.labels.n = r->labels.n;
		s.labels.names = r->labels.s;
		s.labels.counts = r->label_counts;
		dml_labels_sort(&s.labels);
		if (r->h.kind == DML_KIND_STATS)
			rc = dml_stats_encode(&s, b);
		else if ((rc = dml_scaler_reduced(&s, b, err)))
			return rc;
	} else {
		struct dml_model *m = &r->model;
		size_t nw = (size_t)dml_model_nweights(m);
		for (size_t i = 0; i < nw; i++)
			m->w[i] = r->samples
				? dml_fx_to_double(&r->sums[i]) /
				  (double)r->samples
				: 0.0;
		uint32_t method = m->opt.method;
		dml_opt_free(&m->opt);
		if (dml_opt_init(&m->opt, method, nw, m->params.memory, m->w))
			return dml_fail(err, DML_ENOMEM, NULL);
		free(m->wsum);
		m->wsum = r->sums; /* the exact sum travels with the mean */
		r->sums = NULL;
		m->samples = r->samples;
		m->contributions = r->contributions;
		dml_leaves_free(&m->leaves);
		m->leaves = r->leaves;
		memset(&r->leaves, 0, sizeof r->leaves);
		rc = dml_model_encode(m, b);
	}
	if (rc)
		return dml_fail(err, rc, NULL);
	return DML_OK;
}
