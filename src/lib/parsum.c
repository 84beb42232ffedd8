/* parsum.c - exact sums computed on several threads. */
#include "parsum.h"

#include <stdlib.h>

#include "threads.h"

struct part {
	dml_parsum_fn fn;
	void *job;
	struct dml_fx *acc;
	enum dml_err rc;
};

static void *run(void *arg)
{
	struct part *p = arg;
	p->rc = p->fn(p->job, p->acc);
	return NULL;
}

enum dml_err dml_parsum(uint32_t nt, size_t n, struct dml_fx *acc,
			dml_parsum_fn fn, void *job)
{
	if (nt < 1)
		nt = 1;
	struct part *p = calloc(nt, sizeof *p);
	if (!p)
		return DML_ENOMEM;
	enum dml_err rc = DML_OK;
	for (uint32_t t = 0; t < nt; t++) {
		p[t].fn = fn;
		p[t].job = job;
		p[t].acc = t == 0 ? acc : calloc(n, sizeof *p[t].acc);
		if (!p[t].acc) {
			rc = DML_ENOMEM;
			nt = t;
			break;
		}
	}
	if (nt > 0)
		dml_threads_run(nt, run, p, sizeof *p);
	for (uint32_t t = 1; t < nt; t++) {
		for (size_t i = 0; !p[t].rc && i < n; i++)
			if (dml_fx_add(&acc[i], &p[t].acc[i]))
				p[t].rc = DML_ERANGE;
		if (p[t].rc && !rc)
			rc = p[t].rc;
		free(p[t].acc);
	}
	if (nt > 0 && p[0].rc && !rc)
		rc = p[0].rc;
	free(p);
	return rc;
}
