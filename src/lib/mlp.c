/* mlp.c - multilayer perceptrons (see mlp.h). */
#include "mlp.h"

#include <blis.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"
#include "parsum.h"

#ifdef __SSE__
#include <xmmintrin.h>
#endif

#define CHUNK 256 /* rows per exactly-added partial sum */
#define MOMENTUM 0.9
#define BETA1 0.9
#define BETA2 0.999
#define EPS 1e-8

const char *dml_activation_name(uint32_t a)
{
	switch (a) {
	case DML_ACT_RELU: return "relu";
	case DML_ACT_TANH: return "tanh";
	default: return "unknown";
	}
}

int dml_activation_parse(const char *name)
{
	if (!strcmp(name, "relu"))
		return DML_ACT_RELU;
	if (!strcmp(name, "tanh"))
		return DML_ACT_TANH;
	return -1;
}

enum dml_err dml_mlp_parse_hidden(const char *s, struct dml_params *p,
				  struct dml_error *err)
{
	uint32_t n = 0;
	const char *q = s;
	for (;;) {
		char *end;
		if (*q < '0' || *q > '9')
			return dml_fail(err, DML_EPARAM, "--hidden: '%s' is "
					"not a list of layer sizes such as "
					"100 or 256,128", s);
		unsigned long v = strtoul(q, &end, 10);
		if (v < 1 || v > DML_MLP_MAXUNITS)
			return dml_fail(err, DML_EPARAM, "--hidden: layer "
					"sizes must be 1..%u, found '%.*s'",
					DML_MLP_MAXUNITS, (int)(end - q), q);
		if (n == DML_MLP_MAXHIDDEN)
			return dml_fail(err, DML_EPARAM, "--hidden: at most "
					"%u hidden layers", DML_MLP_MAXHIDDEN);
		p->hidden[n++] = (uint32_t)v;
		if (*end == 0)
			break;
		if (*end != ',')
			return dml_fail(err, DML_EPARAM, "--hidden: '%s' is "
					"not a list of layer sizes such as "
					"100 or 256,128", s);
		q = end + 1;
	}
	p->nhidden = n;
	return DML_OK;
}

void dml_mlp_defaults(struct dml_params *p, unsigned set)
{
	if (!(set & DML_SET_OPTIMIZER))
		p->optimizer = DML_OPT_ADAM;
	if (!(set & DML_SET_LR))
		p->learning_rate = p->optimizer == DML_OPT_ADAM ? 0.004 : 0.05;
	if (!(set & DML_SET_BATCH))
		p->batch = 200;
	if (!(set & DML_SET_EPOCHS))
		p->epochs = 10;
	if (!(set & DML_SET_L2))
		p->l2 = 1e-6;
	if (p->nhidden == 0) {
		p->nhidden = 1;
		p->hidden[0] = 100;
	}
}

int dml_mlp_is_regression(const struct dml_model *m)
{
	return m->family == DML_FAMILY_MLP &&
	       m->params.output == DML_OUTPUT_LINEAR;
}

int dml_mlp_parse_task(const char *name, struct dml_params *p)
{
	if (!strcmp(name, "classification"))
		p->output = DML_OUTPUT_SOFTMAX;
	else if (!strcmp(name, "regression"))
		p->output = DML_OUTPUT_LINEAR;
	else
		return -1;
	return 0;
}

enum dml_err dml_mlp_target(struct dml_model *m, const struct dml_stats *s,
			    struct dml_error *err)
{
	if (s->labels.n || s->ntsums < 2)
		return dml_fail(err, DML_ELABELS, "a regression mlp needs "
				"statistics of a numeric target (make them "
				"with -a mlp --task regression)");
	long double n = (long double)s->samples;
	long double s1 = dml_fx_to_double(&s->tsums[0]);
	long double s2 = dml_fx_to_double(&s->tsums[1]);
	double mean = (double)(s1 / n);
	double var = (double)((s2 - s1 * s1 / n) / n);
	double sd = var > 0 ? sqrt(var) : 0;
	if (!isfinite(mean) || !isfinite(sd))
		return dml_fail(err, DML_ERANGE, "target mean or spread out "
				"of range");
	m->params.tmean = mean;
	/* a constant target: nothing to scale */
	m->params.tsd = sd > 1e-300 ? sd : 1;
	return DML_OK;
}

uint32_t dml_mlp_opt_method(uint32_t optimizer)
{
	return optimizer == DML_OPT_GD ? DML_OPT_GD : DML_OPT_LBFGS;
}

/* ---- shape ---- */

static uint32_t nlayers(const struct dml_model *m)
{
	return m->params.nhidden + 1;
}

/* Units of layer boundary l: 0 the inputs, nlayers() the outputs. */
static uint32_t units(const struct dml_model *m, uint32_t l)
{
	if (l == 0)
		return m->schema.nfeat;
	if (l > m->params.nhidden)
		return m->nout;
	return m->params.hidden[l - 1];
}

static uint64_t shape_weights(const struct dml_model *m)
{
	uint64_t n = 0;
	for (uint32_t l = 0; l < nlayers(m); l++)
		n += ((uint64_t)units(m, l) + 1) * units(m, l + 1);
	return n;
}

uint64_t dml_mlp_nweights(const struct dml_model *m)
{
	return shape_weights(m);
}

enum dml_err dml_mlp_check(const struct dml_model *m, struct dml_error *err)
{
	const struct dml_params *p = &m->params;
	if (p->nhidden < 1 || p->nhidden > DML_MLP_MAXHIDDEN)
		return dml_fail(err, DML_EPARAM, "an mlp needs 1..%u hidden "
				"layers", DML_MLP_MAXHIDDEN);
	for (uint32_t i = 0; i < p->nhidden; i++)
		if (p->hidden[i] < 1 || p->hidden[i] > DML_MLP_MAXUNITS)
			return dml_fail(err, DML_EPARAM, "hidden layer of "
					"%u units (1..%u)", p->hidden[i],
					DML_MLP_MAXUNITS);
	if (p->activation > DML_ACT_TANH)
		return dml_fail(err, DML_EPARAM, "unknown activation %u",
				p->activation);
	if (shape_weights(m) > DML_MLP_MAXWEIGHTS)
		return dml_fail(err, DML_EPARAM, "an mlp of more than %llu "
				"weights", (unsigned long long)
				DML_MLP_MAXWEIGHTS);
	return DML_OK;
}

int dml_mlp_same_shape(const struct dml_model *a, const struct dml_model *b)
{
	if (a->family != DML_FAMILY_MLP && b->family != DML_FAMILY_MLP)
		return 1;
	return a->family == b->family &&
	       a->params.output == b->params.output &&
	       !memcmp(&a->params.tmean, &b->params.tmean, sizeof(double)) &&
	       !memcmp(&a->params.tsd, &b->params.tsd, sizeof(double)) &&
	       a->params.nhidden == b->params.nhidden &&
	       a->params.activation == b->params.activation &&
	       !memcmp(a->params.hidden, b->params.hidden,
		       a->params.nhidden * sizeof *a->params.hidden);
}

void dml_mlp_init(struct dml_model *m)
{
	struct dml_rng rng;
	dml_rng_seed(&rng, m->params.seed);
	double *w = m->w;
	for (uint32_t l = 0; l < nlayers(m); l++) {
		uint32_t in = units(m, l), out = units(m, l + 1);
		double bound = sqrt(6.0 / ((double)in + out));
		size_t cnt = ((size_t)in + 1) * out;
		for (size_t i = 0; i < cnt; i++)
			w[i] = (2 * dml_rng_unit(&rng) - 1) * bound;
		w += cnt;
	}
}

/* ---- the layers section: nlayers:u32 activation:u32 units:u32[nlayers+1]
 * (inputs, hidden layers, outputs), a zero u32 if needed to fill 8 bytes;
 * then, for a linear output (regression) only, output:u32 (1) 0:u32
 * tmean:f64 tsd:f64.  Without them the output is softmax. */

void dml_mlp_write(struct dml_buf *b, const struct dml_model *m)
{
	uint32_t nl = nlayers(m);
	dml_buf_section(b, DML_SEC_LAYERS, 0);
	dml_buf_u32(b, nl);
	dml_buf_u32(b, m->params.activation);
	for (uint32_t l = 0; l <= nl; l++)
		dml_buf_u32(b, units(m, l));
	if ((nl + 1) % 2)
		dml_buf_u32(b, 0);
	if (m->params.output == DML_OUTPUT_LINEAR) {
		dml_buf_u32(b, DML_OUTPUT_LINEAR);
		dml_buf_u32(b, 0);
		dml_buf_f64s(b, &m->params.tmean, 1);
		dml_buf_f64s(b, &m->params.tsd, 1);
	}
	dml_buf_end(b);
}

enum dml_err dml_mlp_read(const struct dml_record *rec, struct dml_model *m,
			  struct dml_error *err)
{
	struct dml_section sec;
	struct dml_cur c;
	if (!dml_record_find(rec, DML_SEC_LAYERS, &sec))
		return dml_fail(err, DML_EFORMAT, "an mlp model without a "
				"layers section");
	dml_cur_init(&c, &sec);
	uint32_t nl = dml_cur_u32(&c), act = dml_cur_u32(&c);
	uint64_t ulen = 4 * (uint64_t)(nl + 1 + (nl + 1) % 2);
	if (c.bad || nl < 2 || nl > DML_MLP_MAXHIDDEN + 1 ||
	    (c.left != ulen && c.left != ulen + 24))
		return dml_fail(err, DML_EFORMAT, "malformed layers section");
	uint32_t in = dml_cur_u32(&c);
	m->params.nhidden = nl - 1;
	m->params.activation = act;
	for (uint32_t l = 0; l + 1 < nl; l++)
		m->params.hidden[l] = dml_cur_u32(&c);
	uint32_t out = dml_cur_u32(&c);
	if ((nl + 1) % 2 && dml_cur_u32(&c) != 0)
		return dml_fail(err, DML_EFORMAT, "malformed layers section");
	m->params.output = DML_OUTPUT_SOFTMAX;
	if (c.left) {
		m->params.output = dml_cur_u32(&c);
		if (m->params.output != DML_OUTPUT_LINEAR ||
		    dml_cur_u32(&c) != 0)
			return dml_fail(err, DML_EFORMAT, "malformed layers "
					"section");
		dml_cur_f64s(&c, &m->params.tmean, 1);
		dml_cur_f64s(&c, &m->params.tsd, 1);
		if (!isfinite(m->params.tmean) || !isfinite(m->params.tsd) ||
		    !(m->params.tsd > 0))
			return dml_fail(err, DML_EFORMAT, "layers section: "
					"bad target mean or spread");
		if (in != m->schema.nfeat || out != 1 || m->labels.n)
			return dml_fail(err, DML_EFORMAT, "regression layers "
					"of %u inputs and %u outputs for %u "
					"features and %u classes", in, out,
					m->schema.nfeat, m->labels.n);
	}
	if (m->params.output == DML_OUTPUT_SOFTMAX && m->labels.n < 2)
		return dml_fail(err, DML_EFORMAT, "%u classes for an mlp "
				"classifier", m->labels.n);
	if (m->params.output == DML_OUTPUT_SOFTMAX &&
	    (in != m->schema.nfeat || out != m->labels.n))
		return dml_fail(err, DML_EFORMAT, "layers of %u inputs and "
				"%u outputs for %u features and %u classes",
				in, out, m->schema.nfeat, m->labels.n);
	m->nout = out;
	struct dml_error e2;
	if (dml_mlp_check(m, &e2))
		return dml_fail(err, DML_EFORMAT, "layers section: %s",
				e2.detail);
	return DML_OK;
}

/* ---- float32 forward and backward passes ---- */

struct net {
	const struct dml_model *m;
	uint32_t nl, act;
	int reg;                                /* linear output */
	uint32_t u[DML_MLP_MAXHIDDEN + 2];      /* units per boundary */
	size_t off[DML_MLP_MAXHIDDEN + 2];      /* weight offsets */
	size_t nw;
	uint32_t cap;                           /* rows of the buffers */
	float *a[DML_MLP_MAXHIDDEN + 2];        /* activations per boundary */
	float *d, *d2;                          /* deltas, widest layer */
};

static void net_free(struct net *t)
{
	for (uint32_t l = 1; l <= t->nl; l++)
		free(t->a[l]);
	free(t->d);
	free(t->d2);
}

static int net_init(struct net *t, const struct dml_model *m, uint32_t cap)
{
	memset(t, 0, sizeof *t);
	t->m = m;
	t->nl = nlayers(m);
	t->act = m->params.activation;
	t->reg = m->params.output == DML_OUTPUT_LINEAR;
	t->cap = cap;
	uint32_t wide = 1;
	for (uint32_t l = 0; l <= t->nl; l++) {
		t->u[l] = units(m, l);
		if (l > 0 && t->u[l] > wide)
			wide = t->u[l];
		if (l < t->nl)
			t->off[l + 1] = t->off[l] +
					((size_t)t->u[l] + 1) * units(m, l + 1);
	}
	t->nw = t->off[t->nl];
	int bad = 0;
	for (uint32_t l = 1; l <= t->nl; l++)
		bad |= !(t->a[l] = malloc((size_t)cap * t->u[l] *
					   sizeof(float)));
	bad |= !(t->d = malloc((size_t)cap * wide * sizeof(float)));
	bad |= !(t->d2 = malloc((size_t)cap * wide * sizeof(float)));
	return bad ? -1 : 0; /* net_free() in any case */
}

/* Forward nr rows of x (nr x u[0]) through weights w; the output layer
 * turns into probabilities; returns the summed log loss if y.  With a
 * linear output, the summed squared loss against the standardized
 * targets tv if given. */
static double forward(struct net *t, const float *w, const float *x,
		      uint32_t nr, const uint32_t *y, const float *tv)
{
	t->a[0] = (float *)x;
	for (uint32_t l = 0; l < t->nl; l++) {
		uint32_t in = t->u[l], out = t->u[l + 1];
		const float *W = w + t->off[l], *b = W + (size_t)in * out;
		float *z = t->a[l + 1];
		float one = 1.0f, zero = 0.0f;
		if (in)
			bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, nr, out,
				  in, &one, t->a[l], in, 1, (float *)W, out, 1,
				  &zero, z, out, 1);
		else
			memset(z, 0, (size_t)nr * out * sizeof *z);
		int hidden = l + 1 < t->nl;
		for (uint32_t r = 0; r < nr; r++) {
			float *zr = z + (size_t)r * out;
			if (!hidden)
				for (uint32_t c = 0; c < out; c++)
					zr[c] += b[c];
			else if (t->act == DML_ACT_RELU)
				for (uint32_t c = 0; c < out; c++)
					zr[c] = zr[c] + b[c] > 0 ? zr[c] + b[c]
								 : 0;
			else
				for (uint32_t c = 0; c < out; c++)
					zr[c] = tanhf(zr[c] + b[c]);
		}
	}
	uint32_t k = t->u[t->nl];
	double loss = 0;
	float *p = t->a[t->nl];
	if (t->reg) {
		for (uint32_t r = 0; tv && r < nr; r++) {
			double e = (double)p[r] - (double)tv[r];
			loss += 0.5 * e * e;
		}
		return loss;
	}
	for (uint32_t r = 0; r < nr; r++) {
		float *v = p + (size_t)r * k, mx = v[0], s = 0;
		for (uint32_t c = 1; c < k; c++)
			if (v[c] > mx)
				mx = v[c];
		float zy = y ? v[y[r]] - mx : 0;
		for (uint32_t c = 0; c < k; c++)
			s += (v[c] = expf(v[c] - mx));
		if (y)
			loss += log((double)s) - (double)zy;
		float inv = 1.0f / s;
		for (uint32_t c = 0; c < k; c++)
			v[c] *= inv;
	}
	return loss;
}

/* After forward(): gradient of the summed loss times scale into g
 * (nw floats, overwritten). */
static void backward(struct net *t, const float *w, const uint32_t *y,
		     const float *tv, uint32_t nr, float scale, float *g)
{
	uint32_t k = t->u[t->nl];
	float *d = t->d, *d2 = t->d2;
	memcpy(d, t->a[t->nl], (size_t)nr * k * sizeof *d);
	if (t->reg)
		for (uint32_t r = 0; r < nr; r++)
			d[r] -= tv[r];
	else
		for (uint32_t r = 0; r < nr; r++)
			d[(size_t)r * k + y[r]] -= 1.0f;
	for (uint32_t l = t->nl; l-- > 0;) {
		uint32_t in = t->u[l], out = t->u[l + 1];
		float *gW = g + t->off[l], *gb = gW + (size_t)in * out;
		float zero = 0.0f;
		if (in)
			bli_sgemm(BLIS_TRANSPOSE, BLIS_NO_TRANSPOSE, in, out,
				  nr, &scale, t->a[l], in, 1, d, out, 1, &zero,
				  gW, out, 1);
		for (uint32_t c = 0; c < out; c++)
			gb[c] = 0;
		for (uint32_t r = 0; r < nr; r++)
			for (uint32_t c = 0; c < out; c++)
				gb[c] += d[(size_t)r * out + c];
		for (uint32_t c = 0; c < out; c++)
			gb[c] *= scale;
		if (l == 0)
			break;
		/* delta of the layer below: (d W^T) * act'(a) */
		const float *W = w + t->off[l];
		float one = 1.0f;
		bli_sgemm(BLIS_NO_TRANSPOSE, BLIS_TRANSPOSE, nr, in, out,
			  &one, d, out, 1, (float *)W, out, 1, &zero, d2, in, 1);
		const float *a = t->a[l];
		size_t cnt = (size_t)nr * in;
		if (t->act == DML_ACT_RELU)
			for (size_t i = 0; i < cnt; i++)
				d2[i] = a[i] > 0 ? d2[i] : 0;
		else
			for (size_t i = 0; i < cnt; i++)
				d2[i] *= 1 - a[i] * a[i];
		float *tmp = d;
		d = d2;
		d2 = tmp;
	}
}

static float *to_float(const double *v, size_t n)
{
	float *f = malloc((n + 1) * sizeof *f);
	for (size_t i = 0; f && i < n; i++)
		f[i] = (float)v[i];
	return f;
}

/* The target of a regression mlp on the scale it learns. */
static float std_target(const struct dml_model *m, double t)
{
	return (float)((t - m->params.tmean) / m->params.tsd);
}

/* ---- exact gradient sums ---- */

struct eval_job {
	const struct dml_model *m;
	const float *w;
	const double *x;
	const uint32_t *y;
	const double *tt;                       /* regression targets */
	uint64_t n;
	atomic_uint_fast64_t next;
	atomic_int failed;
};

static enum dml_err eval_part(void *arg, struct dml_fx *acc)
{
	struct eval_job *j = arg;
	enum dml_err rc = DML_OK;
	uint32_t nf = j->m->schema.nfeat;
	struct net t;
	int bad = net_init(&t, j->m, CHUNK);
	float *xb = malloc(((size_t)CHUNK * nf + 1) * sizeof *xb);
	float *g = malloc((t.nw + 1) * sizeof *g);
	double *gd = malloc((t.nw + 1) * sizeof *gd);
	float *tv = malloc(((size_t)CHUNK + 1) * sizeof *tv);
	if (bad || !xb || !g || !gd || !tv) {
		rc = DML_ENOMEM;
		atomic_store(&j->failed, 1);
	}
	while (!rc && !atomic_load(&j->failed)) {
		uint64_t c0 = atomic_fetch_add(&j->next, 1) * CHUNK;
		if (c0 >= j->n)
			break;
		uint32_t nr = j->n - c0 < CHUNK ? (uint32_t)(j->n - c0)
						: CHUNK;
		const double *xs = j->x + c0 * nf;
		for (size_t i = 0; i < (size_t)nr * nf; i++)
			xb[i] = (float)xs[i];
		const uint32_t *yc = t.reg ? NULL : j->y + c0;
		for (uint32_t r = 0; t.reg && r < nr; r++)
			tv[r] = std_target(j->m, j->tt[c0 + r]);
		gd[0] = forward(&t, j->w, xb, nr, yc, tv);
		backward(&t, j->w, yc, tv, nr, 1.0f, g);
		for (size_t i = 0; i < t.nw; i++)
			gd[1 + i] = g[i];
		if (dml_fx_add_doubles(acc, gd, t.nw + 1)) {
			rc = DML_ERANGE;
			atomic_store(&j->failed, 1);
		}
	}
	free(xb);
	free(g);
	free(gd);
	free(tv);
	net_free(&t);
	return rc;
}

enum dml_err dml_mlp_eval(const struct dml_model *m, const double *w,
			  const double *x, const uint32_t *y, uint64_t n,
			  struct dml_fx *acc, struct dml_error *err)
{
	size_t nw = (size_t)dml_mlp_nweights(m);
	uint64_t nchunks = (n + CHUNK - 1) / CHUNK;
	uint32_t nt = m->threads ? m->threads : 1;
	if (nt > nchunks)
		nt = nchunks ? (uint32_t)nchunks : 1;
	if (m->params.output == DML_OUTPUT_LINEAR && !m->t)
		return dml_fail(err, DML_ELABELS, "a regression mlp needs "
				"numeric targets");
	float *wf = to_float(w, nw);
	if (!wf)
		return dml_fail(err, DML_ENOMEM, NULL);
	struct eval_job job = { .m = m, .w = wf, .x = x, .y = y, .tt = m->t,
				.n = n };
	atomic_init(&job.next, 0);
	atomic_init(&job.failed, 0);
	enum dml_err rc = dml_parsum(nt, nw + 1, acc, eval_part, &job);
	free(wf);
	if (rc == DML_ENOMEM)
		return dml_fail(err, rc, NULL);
	if (rc)
		return dml_fail(err, DML_ERANGE,
				"loss or gradient out of range (diverged?)");
	return DML_OK;
}

/* Is weight i a bias (not penalized)? */
static int is_bias(const struct net *t, size_t i)
{
	uint32_t l = 0;
	while (i >= t->off[l + 1])
		l++;
	return i - t->off[l] >= (size_t)t->u[l] * t->u[l + 1];
}

void dml_mlp_objective(const struct dml_model *m, const double *w,
		       const struct dml_fx *acc, uint64_t n, double *f,
		       double *g)
{
	struct net t;
	net_init(&t, m, 1); /* the shape; the buffers are not used */
	double inv = n ? 1.0 / (double)n : 0.0, pen = 0;
	for (uint32_t l = 0; l < t.nl; l++) {
		size_t o = t.off[l], nreg = (size_t)t.u[l] * t.u[l + 1];
		size_t end = t.off[l + 1];
		for (size_t i = o; i < end; i++)
			g[i] = dml_fx_to_double(&acc[1 + i]) * inv;
		for (size_t i = o; i < o + nreg; i++) {
			pen += w[i] * w[i];
			g[i] += m->params.l2 * w[i];
		}
	}
	net_free(&t);
	*f = dml_fx_to_double(&acc[0]) * inv + 0.5 * m->params.l2 * pen;
}

/* ---- prediction, in double ---- */

enum dml_err dml_mlp_fold(struct dml_model *m)
{
	size_t nw = (size_t)dml_mlp_nweights(m);
	uint32_t nf = m->schema.nfeat, k = units(m, 1);
	free(m->raw_w);
	m->raw_w = malloc((nw + 1) * sizeof *m->raw_w);
	if (!m->raw_w)
		return DML_ENOMEM;
	memcpy(m->raw_w, m->w, nw * sizeof *m->raw_w);
	double *bias = m->raw_w + (size_t)nf * k;
	for (uint32_t j = 0; j < nf; j++)
		for (uint32_t c = 0; c < k; c++) {
			double wj = m->w[(size_t)j * k + c] * m->scale[j];
			m->raw_w[(size_t)j * k + c] = wj;
			bias[c] -= wj * m->mean[j];
		}
	return DML_OK;
}

#define PBLOCK 64

void dml_mlp_proba(const struct dml_model *m, const double *w,
		   const double *x, uint64_t n, double *p)
{
	uint32_t nl = nlayers(m), wide = 1;
	for (uint32_t l = 1; l <= nl; l++)
		if (units(m, l) > wide)
			wide = units(m, l);
	double *a = malloc((size_t)PBLOCK * wide * sizeof *a);
	double *b = malloc((size_t)PBLOCK * wide * sizeof *b);
	if (!a || !b) {
		free(a);
		free(b);
		return;
	}
	for (uint64_t r0 = 0; r0 < n; r0 += PBLOCK) {
		uint32_t nr = n - r0 < PBLOCK ? (uint32_t)(n - r0) : PBLOCK;
		const double *in = x + r0 * m->schema.nfeat;
		const double *W = w;
		double *z = a;
		for (uint32_t l = 0; l < nl; l++) {
			uint32_t ni = units(m, l), no = units(m, l + 1);
			z = l % 2 ? b : a;
			for (uint32_t r = 0; r < nr; r++)
				memcpy(z + (size_t)r * no, W + (size_t)ni * no,
				       no * sizeof *z);
			double one = 1.0;
			if (ni)
				bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE,
					  nr, no, ni, &one, (double *)in, ni,
					  1, (double *)W, no, 1, &one, z, no,
					  1);
			if (l + 1 < nl)
				for (size_t i = 0; i < (size_t)nr * no; i++)
					z[i] = m->params.activation ==
					       DML_ACT_RELU
					       ? (z[i] > 0 ? z[i] : 0)
					       : tanh(z[i]);
			W += ((size_t)ni + 1) * no;
			in = z;
		}
		uint32_t k = m->nout;
		for (uint32_t r = 0; m->params.output == DML_OUTPUT_LINEAR &&
				     r < nr; r++)
			p[r0 + r] = z[r] * m->params.tsd + m->params.tmean;
		for (uint32_t r = 0; m->params.output != DML_OUTPUT_LINEAR &&
				     r < nr; r++) {
			double *v = z + (size_t)r * k, mx = v[0], s = 0;
			double *out = p + (r0 + r) * k;
			for (uint32_t c = 1; c < k; c++)
				if (v[c] > mx)
					mx = v[c];
			for (uint32_t c = 0; c < k; c++)
				s += (out[c] = exp(v[c] - mx));
			for (uint32_t c = 0; c < k; c++)
				out[c] /= s;
		}
	}
	free(a);
	free(b);
}

/* ---- training in this process ---- */

/* One Adam step.  Four lanes at a time where SSE is there (sqrtf with
 * errno does not vectorize); the same IEEE operations either way. */
static void adam_step(float *restrict w, const float *restrict g,
		      const float *restrict reg, float *restrict m1,
		      float *restrict m2, size_t nw, double lr, uint64_t step)
{
	float c = (float)(lr * sqrt(1 - pow(BETA2, (double)step)) /
			  (1 - pow(BETA1, (double)step)));
	const float b1 = (float)BETA1, b2 = (float)BETA2;
	const float c1 = (float)(1 - BETA1), c2 = (float)(1 - BETA2);
	const float eps = (float)EPS;
	size_t i = 0;
#ifdef __SSE__
	__m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2);
	__m128 vc1 = _mm_set1_ps(c1), vc2 = _mm_set1_ps(c2);
	__m128 veps = _mm_set1_ps(eps), vc = _mm_set1_ps(c);
	for (; i + 4 <= nw; i += 4) {
		__m128 wi = _mm_loadu_ps(w + i);
		__m128 gi = _mm_add_ps(_mm_loadu_ps(g + i),
				       _mm_mul_ps(_mm_loadu_ps(reg + i), wi));
		__m128 a = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m1 + i)),
				      _mm_mul_ps(vc1, gi));
		__m128 v = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(m2 + i)),
				      _mm_mul_ps(_mm_mul_ps(vc2, gi), gi));
		_mm_storeu_ps(m1 + i, a);
		_mm_storeu_ps(m2 + i, v);
		__m128 d = _mm_div_ps(_mm_mul_ps(vc, a),
				      _mm_add_ps(_mm_sqrt_ps(v), veps));
		_mm_storeu_ps(w + i, _mm_sub_ps(wi, d));
	}
#endif
	for (; i < nw; i++) {
		float gi = g[i] + reg[i] * w[i];
		m1[i] = b1 * m1[i] + c1 * gi;
		m2[i] = b2 * m2[i] + c2 * gi * gi;
		w[i] -= c * m1[i] / (sqrtf(m2[i]) + eps);
	}
}

static void momentum_step(float *restrict w, const float *restrict g,
			  const float *restrict reg, float *restrict v,
			  size_t nw, float lr, float mu)
{
	for (size_t i = 0; i < nw; i++) {
		v[i] = mu * v[i] - lr * (g[i] + reg[i] * w[i]);
		w[i] += v[i];
	}
}

enum dml_err dml_mlp_fit(struct dml_model *m, const double *x,
			 const uint32_t *y, uint64_t n, uint32_t epochs,
			 dml_progress_fn progress, void *ctx,
			 struct dml_error *err)
{
	uint32_t nf = m->schema.nfeat;
	uint32_t bs = m->params.batch;
	if (bs > n)
		bs = (uint32_t)n;
	struct net t;
	int bad = net_init(&t, m, bs);
	size_t nw = t.nw;
	uint64_t *perm = malloc(n * sizeof *perm);
	float *xf = to_float(x, (size_t)n * nf);
	float *xb = malloc(((size_t)bs * nf + 1) * sizeof *xb);
	float *w = to_float(m->w, nw);
	float *g = malloc((nw + 1) * sizeof *g);
	float *m1 = calloc(nw + 1, sizeof *m1);
	float *m2 = calloc(nw + 1, sizeof *m2);
	uint32_t *yb = malloc(((size_t)bs + 1) * sizeof *yb);
	float *tb = malloc(((size_t)bs + 1) * sizeof *tb);
	float *reg = malloc((nw + 1) * sizeof *reg);
	enum dml_err rc = DML_OK;
	if (bad || !perm || !xf || !xb || !w || !g || !m1 || !m2 || !yb ||
	    !tb || !reg) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto out;
	}
	if (t.reg && !m->t) {
		rc = dml_fail(err, DML_ELABELS, "a regression mlp needs "
			      "numeric targets");
		goto out;
	}
	for (size_t i = 0; i < nw; i++)
		reg[i] = is_bias(&t, i) ? 0.0f : (float)m->params.l2;
	struct dml_rng rng;
	dml_rng_seed(&rng, m->params.seed ^ UINT64_C(0x6d6c70));
	for (uint64_t i = 0; i < n; i++)
		perm[i] = i;
	uint32_t opt = m->params.optimizer;
	double lr = m->params.learning_rate;
	float mu = opt == DML_OPT_MINIBATCH ? (float)MOMENTUM : 0.0f;
	uint64_t step = 0, total = (n + bs - 1) / bs * (uint64_t)epochs;
	for (uint32_t e = 0; e < epochs; e++) {
		for (uint64_t i = n; i > 1; i--) {
			uint64_t j = dml_rng_below(&rng, i);
			uint64_t tmp = perm[i - 1];
			perm[i - 1] = perm[j];
			perm[j] = tmp;
		}
		double loss = 0;
		for (uint64_t b0 = 0; b0 < n; b0 += bs) {
			uint32_t nr = n - b0 < bs ? (uint32_t)(n - b0) : bs;
			for (uint32_t r = 0; r < nr; r++) {
				memcpy(xb + (size_t)r * nf,
				       xf + perm[b0 + r] * nf,
				       nf * sizeof *xb);
				if (t.reg)
					tb[r] = std_target(m, m->t[perm[b0 +
								       r]]);
				else
					yb[r] = y[perm[b0 + r]];
			}
			loss += forward(&t, w, xb, nr, yb, tb);
			backward(&t, w, yb, tb, nr, 1.0f / (float)nr, g);
			step++;
			/* the step decays to 0 along a half cosine */
			double lrt = lr * 0.5 * (1 + cos(M_PI * (double)(step - 1)
						       / (double)total));
			if (opt == DML_OPT_ADAM)
				adam_step(w, g, reg, m1, m2, nw, lrt, step);
			else
				momentum_step(w, g, reg, m1, nw, (float)lrt,
					      mu);
		}
		for (size_t i = 0; i < nw; i++)
			if (!isfinite(w[i])) {
				rc = dml_fail(err, DML_ERANGE, "training "
					      "diverged (lower "
					      "--learning-rate)");
				goto out;
			}
		for (size_t i = 0; i < nw; i++)
			m->w[i] = w[i];
		m->iteration++;
		if (progress)
			progress(ctx, m, loss / (double)n);
	}
	/* the optimizer state behind --apply restarts at the new point */
	uint32_t method = m->opt.method;
	dml_opt_free(&m->opt);
	if (dml_opt_init(&m->opt, method, nw, m->params.memory, m->w))
		rc = dml_fail(err, DML_ENOMEM, NULL);
out:
	free(perm);
	free(xf);
	free(xb);
	free(w);
	free(g);
	free(m1);
	free(m2);
	free(yb);
	free(tb);
	free(reg);
	net_free(&t);
	return rc;
}
