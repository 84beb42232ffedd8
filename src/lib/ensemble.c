/* ensemble.c - models combined by averaging, voting, weights or a
 * stacked meta-model over their class probabilities. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlp.h"
#include "tree.h"

const char *dml_combine_name(uint32_t combine)
{
	switch (combine) {
	case DML_COMBINE_AVERAGE: return "average";
	case DML_COMBINE_VOTE: return "vote";
	case DML_COMBINE_WEIGHTED: return "weighted";
	case DML_COMBINE_STACK: return "stack";
	default: return "unknown";
	}
}

void dml_ensemble_free(struct dml_ensemble *e)
{
	for (uint32_t i = 0; i < e->n; i++)
		dml_model_free(&e->members[i]);
	free(e->members);
	free(e->weights);
	if (e->meta)
		dml_model_free(e->meta);
	free(e->meta);
	memset(e, 0, sizeof *e);
}

int dml_model_is_regression(const struct dml_model *m)
{
	return dml_family_is_regression(m->family) ||
	       dml_mlp_is_regression(m) ||
	       (m->forest && dml_forest_is_regression(m->forest));
}

static enum dml_err add_model(struct dml_ensemble *e, struct dml_model *m,
			      struct dml_error *err)
{
	if (e->n) {
		const struct dml_model *f = &e->members[0];
		if (f->schema.fingerprint != m->schema.fingerprint)
			return dml_fail(err, DML_ESCHEMA,
					"member %u has another feature schema "
					"than member 1", e->n + 1);
		if (dml_model_is_regression(f) != dml_model_is_regression(m))
			return dml_fail(err, DML_EMISMATCH,
					"member %u is a %s model, member 1 a "
					"%s one: regression and classification "
					"do not combine", e->n + 1,
					dml_model_is_regression(m) ? "regression"
							: "classification",
					dml_model_is_regression(f) ? "regression"
							: "classification");
		if (!dml_labels_equal(&f->labels, &m->labels))
			return dml_fail(err, DML_ELABELS,
					"member %u has other classes than "
					"member 1", e->n + 1);
	}
	if (e->n >= 1u << 20)
		return dml_fail(err, DML_ETOOBIG, "too many members");
	struct dml_model *a = realloc(e->members,
				      (e->n + 1) * sizeof *a);
	if (!a)
		return dml_fail(err, DML_ENOMEM, NULL);
	e->members = a;
	e->members[e->n++] = *m;
	return DML_OK;
}

static const uint32_t ens_known[] = {
	DML_SEC_MEMBER, DML_SEC_COMBINE, DML_SEC_META,
};

/* Say which member an error of an embedded record is about. */
static enum dml_err member_fail(struct dml_error *err, enum dml_err rc,
				uint32_t member)
{
	if (!err)
		return rc;
	char detail[sizeof err->detail];
	snprintf(detail, sizeof detail, "%s",
		 err->detail[0] ? err->detail : dml_strerror(rc));
	return dml_fail(err, rc, "member %u: %s", member, detail);
}

enum dml_err dml_ensemble_add(struct dml_ensemble *e,
			      const struct dml_record *rec,
			      struct dml_error *err)
{
	enum dml_err rc;
	if (rec->h.kind == DML_KIND_MODEL) {
		struct dml_model m;
		if ((rc = dml_model_decode(rec, &m, err)))
			return rc;
		if ((rc = add_model(e, &m, err)))
			dml_model_free(&m);
		return rc;
	}
	if (rec->h.kind != DML_KIND_ENSEMBLE)
		return dml_fail(err, DML_EKIND,
				"expected a model or an ensemble, found a %s "
				"record", dml_kind_name(rec->h.kind));
	if ((rc = dml_record_check_known(rec, ens_known, 3, err)))
		return rc;
	struct dml_section cs;
	if (dml_record_find(rec, DML_SEC_COMBINE, &cs) &&
	    dml_get32(cs.len >= 4 ? cs.data : (const unsigned char *)
		      "\xff\xff\xff\xff") != DML_COMBINE_AVERAGE)
		return dml_fail(err, DML_EUNSUPPORTED, "an ensemble that "
				"does not combine by averaging cannot be a "
				"member (only averaging ensembles flatten)");
	uint64_t pos = 0;
	struct dml_section sec;
	uint32_t members = 0;
	while (dml_record_next(rec, &pos, &sec)) {
		if (sec.tag != DML_SEC_MEMBER)
			continue;
		struct dml_record sub;
		struct dml_model m;
		size_t used;
		dml_record_init(&sub);
		rc = dml_record_parse(sec.data, (size_t)sec.len, &used, &sub,
				      err);
		if (rc == DML_EEMPTY)
			rc = dml_fail(err, DML_EFORMAT, "member %u is empty",
				      members + 1);
		else if (rc)
			rc = member_fail(err, rc, members + 1);
		if (!rc && used != sec.len)
			rc = dml_fail(err, DML_EFORMAT,
				      "trailing bytes after member %u",
				      members + 1);
		if (!rc && sub.h.kind != DML_KIND_MODEL)
			rc = dml_fail(err, DML_EFORMAT,
				      "member %u is %s %s record, not a model",
				      members + 1,
				      sub.h.kind == DML_KIND_ENSEMBLE ? "an"
								       : "a",
				      dml_kind_name(sub.h.kind));
		if (!rc && (rc = dml_model_decode(&sub, &m, err)))
			rc = member_fail(err, rc, members + 1);
		if (!rc && (rc = add_model(e, &m, err)))
			dml_model_free(&m);
		dml_record_free(&sub);
		if (rc)
			return rc;
		members++;
	}
	if (members == 0)
		return dml_fail(err, DML_EFORMAT, "ensemble without members");
	return DML_OK;
}

/* The combine section: rule:u32 n:u32 weights f64[n] (n 0 unless
 * weighted); the meta section: a softmax model record (stack). */
static enum dml_err combine_read(const struct dml_record *rec,
				 struct dml_ensemble *e,
				 struct dml_error *err)
{
	struct dml_section sec;
	if (!dml_record_find(rec, DML_SEC_COMBINE, &sec))
		return DML_OK;
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	uint32_t rule = dml_cur_u32(&c), n = dml_cur_u32(&c);
	if (c.bad || rule > DML_COMBINE_STACK ||
	    n != (rule == DML_COMBINE_WEIGHTED ? e->n : 0) ||
	    c.left != (uint64_t)n * 8)
		return dml_fail(err, DML_EFORMAT, "malformed combine section");
	e->combine = rule;
	if (rule == DML_COMBINE_WEIGHTED) {
		if (!(e->weights = malloc(n * sizeof *e->weights)))
			return dml_fail(err, DML_ENOMEM, NULL);
		dml_cur_f64s(&c, e->weights, n);
		double sum = 0;
		for (uint32_t i = 0; i < n; i++) {
			if (!(e->weights[i] >= 0) || !isfinite(e->weights[i]))
				return dml_fail(err, DML_EFORMAT,
						"weight %u is not a finite "
						"number >= 0", i + 1);
			sum += e->weights[i];
		}
		if (!(sum > 0) || !isfinite(sum))
			return dml_fail(err, DML_EFORMAT, "weights sum to 0");
	}
	if (rule != DML_COMBINE_STACK)
		return DML_OK;
	if (!dml_record_find(rec, DML_SEC_META, &sec))
		return dml_fail(err, DML_EFORMAT, "stacked ensemble without "
				"its meta-model");
	struct dml_record sub;
	size_t used;
	enum dml_err rc;
	dml_record_init(&sub);
	if (!(e->meta = calloc(1, sizeof *e->meta)))
		return dml_fail(err, DML_ENOMEM, NULL);
	rc = dml_record_parse(sec.data, (size_t)sec.len, &used, &sub, err);
	if (rc == DML_EEMPTY || (!rc && used != sec.len))
		rc = dml_fail(err, DML_EFORMAT, "malformed meta-model");
	if (!rc && (rc = dml_model_decode(&sub, e->meta, err)) && err) {
		char detail[sizeof err->detail];
		snprintf(detail, sizeof detail, "%s", err->detail);
		rc = dml_fail(err, rc, "meta-model: %s", detail);
	}
	dml_record_free(&sub);
	if (rc) {
		free(e->meta);
		e->meta = NULL;
		return rc;
	}
	const struct dml_model *f = &e->members[0];
	if (e->meta->family != DML_FAMILY_SOFTMAX ||
	    e->meta->schema.nfeat != (uint64_t)e->n * f->labels.n ||
	    !dml_labels_equal(&e->meta->labels, &f->labels))
		return dml_fail(err, DML_EFORMAT, "the meta-model does not "
				"fit the members' outputs");
	return DML_OK;
}

enum dml_err dml_ensemble_decode(const struct dml_record *rec,
				 struct dml_ensemble *e,
				 struct dml_error *err)
{
	memset(e, 0, sizeof *e);
	struct dml_record plain;
	enum dml_err rc;
	if (rec->h.kind != DML_KIND_ENSEMBLE)
		return dml_ensemble_add(e, rec, err);
	/* the members, as if the combine rule were averaging */
	uint64_t pos = 0;
	struct dml_section sec;
	struct dml_buf b;
	dml_buf_init(&b);
	while (dml_record_next(rec, &pos, &sec)) {
		if (sec.tag == DML_SEC_COMBINE || sec.tag == DML_SEC_META)
			continue;
		dml_buf_section(&b, sec.tag, sec.flags);
		dml_buf_bytes(&b, sec.data, (size_t)sec.len);
		dml_buf_end(&b);
	}
	struct dml_header h = rec->h;
	if ((rc = dml_buf_finish(&b, &h))) {
		dml_buf_free(&b);
		return dml_fail(err, rc, NULL);
	}
	dml_record_init(&plain);
	size_t used;
	rc = dml_record_parse(b.p, b.len, &used, &plain, err);
	dml_buf_free(&b);
	if (!rc)
		rc = dml_ensemble_add(e, &plain, err);
	dml_record_free(&plain);
	if (!rc) {
		if (!dml_record_find(rec, DML_SEC_COMBINE, &sec) &&
		    dml_record_find(rec, DML_SEC_META, &sec))
			rc = dml_fail(err, DML_EFORMAT, "meta-model without "
				      "a combine section");
		else
			rc = combine_read(rec, e, err);
	}
	if (rc)
		dml_ensemble_free(e);
	return rc;
}

enum dml_err dml_ensemble_encode(const struct dml_ensemble *e,
				 struct dml_buf *b)
{
	if (e->n == 0)
		return DML_EEMPTY;
	dml_buf_init(b);
	uint64_t samples = 0, contributions = 0;
	uint32_t family = e->members[0].family;
	for (uint32_t i = 0; i < e->n; i++) {
		struct dml_buf mb;
		enum dml_err rc = dml_model_encode(&e->members[i], &mb);
		if (rc) {
			dml_buf_free(&mb);
			return rc;
		}
		dml_buf_section(b, DML_SEC_MEMBER, 0);
		dml_buf_bytes(b, mb.p, mb.len);
		dml_buf_end(b);
		dml_buf_free(&mb);
		samples += e->members[i].samples;
		contributions += e->members[i].contributions;
		if (e->members[i].family != family)
			family = 0;
	}
	if (e->combine != DML_COMBINE_AVERAGE) {
		uint32_t nw = e->combine == DML_COMBINE_WEIGHTED ? e->n : 0;
		dml_buf_section(b, DML_SEC_COMBINE, 0);
		dml_buf_u32(b, e->combine);
		dml_buf_u32(b, nw);
		dml_buf_f64s(b, e->weights, nw);
		dml_buf_end(b);
	}
	if (e->combine == DML_COMBINE_STACK) {
		struct dml_buf mb;
		enum dml_err rc = dml_model_encode(e->meta, &mb);
		if (rc) {
			dml_buf_free(&mb);
			return rc;
		}
		dml_buf_section(b, DML_SEC_META, 0);
		dml_buf_bytes(b, mb.p, mb.len);
		dml_buf_end(b);
		dml_buf_free(&mb);
	}
	struct dml_header h = {
		.kind = DML_KIND_ENSEMBLE, .family = family,
		.schema = e->members[0].schema.fingerprint,
		.samples = samples, .contributions = contributions,
	};
	return dml_buf_finish(b, &h);
}

enum dml_err dml_member_proba(struct dml_model *m, const double *x,
			      uint64_t n, double *p)
{
	if (m->forest) {
		dml_forest_proba(m->forest, x, n, p);
		return DML_OK;
	}
	if (!m->raw_w && dml_model_fold(m))
		return DML_ENOMEM;
	dml_model_proba_raw(m, x, n, p);
	return DML_OK;
}

/* The members' probabilities side by side: n rows of e->n * nc. */
static enum dml_err stacked(struct dml_ensemble *e, const double *x,
			    uint64_t n, double *z)
{
	uint32_t nc = e->members[0].labels.n, k = e->n * nc;
	double *q = malloc((size_t)n * nc * sizeof *q + 1);
	if (!q)
		return DML_ENOMEM;
	for (uint32_t i = 0; i < e->n; i++) {
		if (dml_member_proba(&e->members[i], x, n, q)) {
			free(q);
			return DML_ENOMEM;
		}
		for (uint64_t r = 0; r < n; r++)
			memcpy(z + r * k + (size_t)i * nc, q + r * nc,
			       nc * sizeof *z);
	}
	free(q);
	return DML_OK;
}

enum dml_err dml_ensemble_proba(struct dml_ensemble *e,
				const double *x, uint64_t n, double *p)
{
	uint32_t nc = e->members[0].labels.n ? e->members[0].labels.n : 1;
	if (e->combine == DML_COMBINE_STACK) {
		double *z = malloc((size_t)n * e->n * nc * sizeof *z + 1);
		if (!z || stacked(e, x, n, z)) {
			free(z);
			return DML_ENOMEM;
		}
		enum dml_err rc = dml_member_proba(e->meta, z, n, p);
		free(z);
		return rc;
	}
	if (e->n == 1 && e->combine != DML_COMBINE_VOTE)
		return dml_member_proba(&e->members[0], x, n, p);
	double *q = malloc((size_t)n * nc * sizeof *q + 1);
	if (!q)
		return DML_ENOMEM;
	memset(p, 0, (size_t)n * nc * sizeof *p);
	double total = 0;
	for (uint32_t i = 0; i < e->n; i++) {
		if (dml_member_proba(&e->members[i], x, n, q)) {
			free(q);
			return DML_ENOMEM;
		}
		double w = e->combine == DML_COMBINE_WEIGHTED
			   ? e->weights[i] : 1;
		total += w;
		for (uint64_t r = 0; r < n; r++) {
			double *pr = p + r * nc;
			const double *qr = q + r * nc;
			if (e->combine == DML_COMBINE_VOTE) {
				uint32_t best = 0;
				for (uint32_t c = 1; c < nc; c++)
					if (qr[c] > qr[best])
						best = c;
				pr[best] += 1;
				continue;
			}
			for (uint32_t c = 0; c < nc; c++)
				pr[c] += w * qr[c];
		}
	}
	for (size_t j = 0; j < (size_t)n * nc; j++)
		p[j] /= total;
	free(q);
	return DML_OK;
}

enum dml_err dml_ensemble_stack(struct dml_ensemble *e, const double *x,
				const uint32_t *y, uint64_t n,
				uint32_t threads, struct dml_error *err)
{
	const struct dml_model *f = &e->members[0];
	uint32_t nc = f->labels.n, k = e->n * nc;
	enum dml_err rc;
	if (n == 0)
		return dml_fail(err, DML_EEMPTY, "no rows to stack on");
	struct dml_data d;
	struct dml_stats s;
	dml_data_init(&d);
	d.n = d.cap = n;
	d.has_label = 1;
	d.x = dml_rows_realloc(NULL, (size_t)n * k * sizeof *d.x);
	d.y = malloc((size_t)n * sizeof *d.y + 1);
	d.schema.nfeat = k;
	d.schema.names = calloc(k + 1, sizeof *d.schema.names);
	d.schema.label = strdup(f->schema.label);
	if (!d.x || !d.y || !d.schema.names || !d.schema.label)
		goto oom;
	for (uint32_t i = 0; i < e->n; i++)
		for (uint32_t c = 0; c < nc; c++) {
			const char *l = f->labels.names[c];
			char *nm = malloc(strlen(l) + 16);
			if (!nm)
				goto oom;
			sprintf(nm, "m%u.%s", i + 1, l);
			d.schema.names[i * nc + c] = nm;
		}
	dml_schema_fingerprint(&d.schema);
	for (uint32_t c = 0; c < nc; c++)
		if (dml_strtab_intern(&d.labels, f->labels.names[c]) != c)
			goto oom;
	memcpy(d.y, y, (size_t)n * sizeof *d.y);
	if (stacked(e, x, n, d.x))
		goto oom;
	if ((rc = dml_stats_from_data(&s, &d, err)))
		goto fail;
	struct dml_params p;
	dml_params_default(&p);
	struct dml_model *m = calloc(1, sizeof *m);
	if (!m) {
		dml_stats_free(&s);
		goto oom;
	}
	rc = dml_model_from_stats(m, &s, DML_FAMILY_SOFTMAX, &p, err);
	dml_stats_free(&s);
	if (rc) {
		free(m);
		goto fail;
	}
	if (!dml_labels_equal(&m->labels, &f->labels)) {
		/* class order is the members' (the same sort) */
		dml_model_free(m);
		free(m);
		rc = dml_fail(err, DML_ELABELS, "classes differ");
		goto fail;
	}
	dml_model_standardize(m, d.x, n);
	m->threads = threads;
	if ((rc = dml_model_fit(m, d.x, d.y, n, NULL, NULL, err))) {
		dml_model_free(m);
		free(m);
		goto fail;
	}
	if (e->meta) {
		dml_model_free(e->meta);
		free(e->meta);
	}
	e->meta = m;
	e->combine = DML_COMBINE_STACK;
	dml_data_free(&d);
	return DML_OK;
oom:
	rc = dml_fail(err, DML_ENOMEM, NULL);
fail:
	dml_data_free(&d);
	return rc;
}

enum dml_err dml_ensemble_forest(const struct dml_ensemble *e,
				 struct dml_model *out,
				 struct dml_error *err)
{
	memset(out, 0, sizeof *out);
	for (uint32_t i = 0; i < e->n; i++)
		if (!e->members[i].forest)
			return dml_fail(err, DML_EMISMATCH,
					"member %u is not a tree or forest",
					i + 1);
	const struct dml_model *f = &e->members[0];
	enum dml_err rc = DML_OK;
	out->family = DML_FAMILY_FOREST;
	out->nout = f->nout;
	out->forest = calloc(1, sizeof *out->forest);
	if (!out->forest || dml_schema_copy(&out->schema, &f->schema))
		goto oom;
	out->labels.n = f->labels.n;
	out->labels.names = calloc(f->labels.n + 1,
				   sizeof *out->labels.names);
	out->labels.counts = calloc(f->labels.n + 1,
				    sizeof *out->labels.counts);
	if (!out->labels.names || !out->labels.counts)
		goto oom;
	for (uint32_t c = 0; c < f->labels.n; c++)
		if (!(out->labels.names[c] = strdup(f->labels.names[c])))
			goto oom;
	*out->forest = (struct dml_forest){
		.family = DML_FAMILY_FOREST, .nclass = f->forest->nclass,
		.nfeat = f->forest->nfeat, .params = f->forest->params,
	};
	for (uint32_t i = 0; i < e->n; i++) {
		const struct dml_model *m = &e->members[i];
		for (uint32_t c = 0; c < f->labels.n; c++)
			out->labels.counts[c] += m->labels.counts[c];
		out->samples += m->samples;
		out->contributions += m->contributions;
		if ((rc = dml_forest_merge(out->forest, m->forest, err)) ||
		    (rc = dml_leaves_merge(&out->leaves, &m->leaves, err)))
			goto fail;
	}
	return DML_OK;
oom:
	rc = dml_fail(err, DML_ENOMEM, NULL);
fail:
	dml_model_free(out);
	return rc;
}
