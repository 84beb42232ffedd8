/* ensemble.c - models combined by averaging their class probabilities. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void dml_ensemble_free(struct dml_ensemble *e)
{
	for (uint32_t i = 0; i < e->n; i++)
		dml_model_free(&e->members[i]);
	free(e->members);
	memset(e, 0, sizeof *e);
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

static const uint32_t ens_known[] = { DML_SEC_MEMBER };

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
	if ((rc = dml_record_check_known(rec, ens_known, 1, err)))
		return rc;
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

enum dml_err dml_ensemble_decode(const struct dml_record *rec,
				 struct dml_ensemble *e,
				 struct dml_error *err)
{
	memset(e, 0, sizeof *e);
	enum dml_err rc = dml_ensemble_add(e, rec, err);
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
	struct dml_header h = {
		.kind = DML_KIND_ENSEMBLE, .family = family,
		.schema = e->members[0].schema.fingerprint,
		.samples = samples, .contributions = contributions,
	};
	return dml_buf_finish(b, &h);
}

enum dml_err dml_ensemble_proba(struct dml_ensemble *e,
				const double *x, uint64_t n, double *p)
{
	uint32_t nc = e->members[0].labels.n ? e->members[0].labels.n : 1;
	for (uint32_t i = 0; i < e->n; i++)
		if (!e->members[i].raw_w && dml_model_fold(&e->members[i]))
			return DML_ENOMEM;
	if (e->n == 1) {
		dml_model_proba_raw(&e->members[0], x, n, p);
		return DML_OK;
	}
	double *q = malloc((size_t)n * nc * sizeof *q + 1);
	if (!q)
		return DML_ENOMEM;
	memset(p, 0, (size_t)n * nc * sizeof *p);
	for (uint32_t i = 0; i < e->n; i++) {
		dml_model_proba_raw(&e->members[i], x, n, q);
		for (size_t j = 0; j < (size_t)n * nc; j++)
			p[j] += q[j];
	}
	for (size_t j = 0; j < (size_t)n * nc; j++)
		p[j] /= e->n;
	free(q);
	return DML_OK;
}
