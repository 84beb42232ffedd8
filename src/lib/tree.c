/* tree.c - CART classification and regression trees, random forests.
 *
 * Thresholds come from histogram bins: each feature's values (of at most
 * SAMPLE rows spread over the data) are cut into at most DML_TREE_BINS
 * bins of about equal counts, once, before any tree grows; a split sends
 * x <= cut left.  Per node, the class counts of each bin of a candidate
 * feature are summed over the node's rows and scanned once.  All counts
 * are integers (bootstrap multiplicities), so the result is exact and
 * independent of the order rows are visited in.  A regression tree sums
 * weighted targets (less their node's mean) per bin instead, in the
 * order of the node's rows, which does not depend on threads either. */
#include "tree.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "numeric.h"
#include "threads.h"

#define SAMPLE 50000  /* rows looked at to place the cut points */
#define NCUT (DML_TREE_BINS - 1)  /* cut points per feature, at most */

void dml_tree_params_default(struct dml_tree_params *p, uint32_t family)
{
	p->criterion = DML_GINI;
	p->max_depth = DML_TREE_MAX_DEPTH;
	p->min_leaf = 1;
	p->max_features = family == DML_FAMILY_FOREST ? DML_FEATURES_SQRT : 0;
	p->trees = family == DML_FAMILY_FOREST ? 100 : 1;
	p->seed = 1;
}

static void tree_free(struct dml_tree *t)
{
	free(t->node);
	free(t->counts);
	memset(t, 0, sizeof *t);
}

void dml_forest_free(struct dml_forest *f)
{
	for (uint32_t i = 0; f->tree && i < f->ntrees; i++)
		tree_free(&f->tree[i]);
	free(f->tree);
	memset(f, 0, sizeof *f);
}

/* ---- binning ---- */

struct binned {
	uint64_t n;
	uint32_t nfeat;
	uint8_t *xb;           /* nfeat * n, column-major */
	double *cut;           /* nfeat * (DML_TREE_BINS - 1) */
	uint32_t *ncut;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Cut points of one feature from sorted values s[0..m). */
static uint32_t cuts_of(const double *s, uint64_t m, double *cut)
{
	uint32_t nc = 0;
	uint64_t uniq = 1;
	for (uint64_t i = 1; i < m; i++)
		uniq += s[i] != s[i - 1];
	for (uint64_t i = 0; i + 1 < m; i++) {
		if (s[i] == s[i + 1])
			continue;
		/* i is the last of its value: cut after it when few values,
		 * or when it reaches the next quantile target */
		if (uniq > DML_TREE_BINS) {
			uint64_t target = (uint64_t)(nc + 1) * m /
					  DML_TREE_BINS;
			if (i + 1 < target)
				continue;
		}
		double c = s[i] + (s[i + 1] - s[i]) / 2;
		if (c >= s[i + 1])
			c = s[i];
		if (nc && c <= cut[nc - 1])
			continue;
		cut[nc++] = c;
		if (nc == DML_TREE_BINS - 1)
			break;
	}
	return nc;
}

/* A small hash table of a feature's distinct values and their bins. */
#define VSLOTS 1024   /* > 2 DML_TREE_BINS: short probes */

struct vtab {
	uint64_t key[VSLOTS];
	int16_t bin[VSLOTS];    /* -1: none known */
	uint8_t used[VSLOTS];
};

static uint64_t vbits(double v)
{
	uint64_t u;
	if (v == 0)
		v = 0;          /* -0 and +0: one value */
	memcpy(&u, &v, 8);
	return u;
}

static uint32_t vslot(const struct vtab *t, uint64_t u)
{
	uint64_t h = u ^ (u >> 33);
	h *= UINT64_C(0xff51afd7ed558ccd);
	uint32_t i = (uint32_t)(h >> 40) & (VSLOTS - 1);
	while (t->used[i] && t->key[i] != u)
		i = (i + 1) & (VSLOTS - 1);
	return i;
}

/* The distinct values of s[0..m), sorted, into w (DML_TREE_BINS of
 * room), remembered in t: their number, or DML_TREE_BINS + 1 as soon as
 * there are more. */
static uint32_t few_values(const double *s, uint64_t m, double *w,
			   struct vtab *t)
{
	uint32_t nu = 0;
	memset(t->used, 0, sizeof t->used);
	for (uint64_t i = 0; i < m; i++) {
		uint64_t u = vbits(s[i]);
		uint32_t k = vslot(t, u);
		if (t->used[k])
			continue;
		if (nu == DML_TREE_BINS)
			return DML_TREE_BINS + 1;
		t->used[k] = 1;
		t->key[k] = u;
		t->bin[k] = -1;
		w[nu++] = s[i] == 0 ? 0 : s[i];
	}
	qsort(w, nu, sizeof *w, cmp_double);
	return nu;
}

static uint8_t bin_of(const double *cut, uint32_t nc, double v)
{
	uint32_t lo = 0;   /* number of cuts < v, without branches */
	uint32_t step = 1;
	while (step * 2 <= nc)
		step *= 2;
	for (; step; step >>= 1)
		lo += (lo + step <= nc && cut[lo + step - 1] < v) ? step : 0;
	return (uint8_t)lo;
}

static void binned_free(struct binned *b)
{
	free(b->xb);
	free(b->cut);
	free(b->ncut);
}

/* Cut points of feature j from its sampled values s[0..k) (reordered). */
static uint32_t feature_cuts(double *s, uint64_t k, double *cut,
			     struct vtab *t)
{
	double w[DML_TREE_BINS];
	uint32_t nu = few_values(s, k, w, t), nc = 0;
	if (nu > DML_TREE_BINS) {
		memset(t->used, 0, sizeof t->used);
		qsort(s, k, sizeof *s, cmp_double);
		return cuts_of(s, k, cut);
	}
	/* a cut between each two: what cuts_of gives them */
	for (uint32_t i = 0; i + 1 < nu; i++) {
		double c = w[i] + (w[i + 1] - w[i]) / 2;
		if (c >= w[i + 1])
			c = w[i];
		if (nc && c <= cut[nc - 1])
			continue;
		cut[nc++] = c;
	}
	/* the bin of each value, found once */
	for (uint32_t i = 0; i < nu; i++)
		t->bin[vslot(t, vbits(w[i]))] = bin_of(cut, nc, w[i]);
	return nc;
}

#define FBLOCK 32  /* features binned together, rows read in order */

static enum dml_err binned_make(struct binned *b, const double *x,
				uint64_t n, uint32_t nf)
{
	memset(b, 0, sizeof *b);
	b->n = n;
	b->nfeat = nf;
	uint64_t step = n / SAMPLE + 1, m = (n + step - 1) / step;
	b->xb = malloc((size_t)n * nf + 1);
	b->cut = malloc(((size_t)nf * NCUT + 1) * sizeof *b->cut);
	b->ncut = malloc(((size_t)nf + 1) * sizeof *b->ncut);
	double *s = malloc((size_t)m * FBLOCK * sizeof *s + 1);
	struct vtab *t = malloc(FBLOCK * sizeof *t);
	if (!b->xb || !b->cut || !b->ncut || !s || !t) {
		free(s);
		free(t);
		binned_free(b);
		return DML_ENOMEM;
	}
	for (uint32_t j0 = 0; j0 < nf; j0 += FBLOCK) {
		uint32_t nb = nf - j0 < FBLOCK ? nf - j0 : FBLOCK;
		uint64_t k = 0;
		for (uint64_t r = 0; r < n; r += step, k++)
			for (uint32_t j = 0; j < nb; j++)
				s[j * m + k] = x[r * nf + j0 + j];
		for (uint32_t j = 0; j < nb; j++)
			b->ncut[j0 + j] = feature_cuts(s + j * m, k,
				b->cut + (size_t)(j0 + j) * NCUT, &t[j]);
		for (uint64_t r = 0; r < n; r++)
			for (uint32_t j = 0; j < nb; j++) {
				uint32_t f = j0 + j;
				double v = x[r * nf + f];
				uint32_t sl = vslot(&t[j], vbits(v));
				int bin = t[j].used[sl] ? t[j].bin[sl] : -1;
				if (bin < 0)
					bin = bin_of(b->cut + (size_t)f * NCUT,
						     b->ncut[f], v);
				b->xb[(size_t)f * n + r] = (uint8_t)bin;
			}
	}
	free(s);
	free(t);
	return DML_OK;
}

/* ---- growing one tree ---- */

struct grower {
	const struct binned *b;
	const uint32_t *y;
	const double *t;        /* regression targets, or NULL */
	uint32_t nclass;
	const struct dml_tree_params *p;
	uint32_t mtry;
	/* scratch */
	uint32_t *idx, *w, *perm;
	uint32_t *hist, *hcnt, *tot, *left;
	double *hsum;           /* regression: per bin, sum of w (t - mu) */
	double mu;              /* regression: the node's mean target */
	uint8_t touched[DML_TREE_BINS];
	struct dml_rng rng;
	/* output */
	struct dml_tree_node *node;
	uint32_t nnodes, capnodes;
	double *counts;
	uint32_t nleaves, capleaves;
};

struct task {
	uint64_t lo, hi;
	uint32_t depth, node;
};

static double score_of(const struct grower *g, const uint32_t *c, double w)
{
	double s = 0;
	if (g->p->criterion == DML_GINI) {
		for (uint32_t k = 0; k < g->nclass; k++)
			s += (double)c[k] * (double)c[k];
		return s / w;
	}
	for (uint32_t k = 0; k < g->nclass; k++)
		if (c[k])
			s += (double)c[k] * log((double)c[k] / w);
	return s;
}

static int new_node(struct grower *g)
{
	if (g->nnodes == g->capnodes) {
		uint32_t cap = g->capnodes ? 2 * g->capnodes : 64;
		struct dml_tree_node *a = realloc(g->node, cap * sizeof *a);
		if (!a)
			return -1;
		g->node = a;
		g->capnodes = cap;
	}
	g->nnodes++;
	return 0;
}

static int make_leaf(struct grower *g, uint32_t at, double value,
		     uint64_t wsum)
{
	uint32_t width = g->t ? DML_TREE_REG_WIDTH : g->nclass;
	if (g->nleaves == g->capleaves) {
		uint32_t cap = g->capleaves ? 2 * g->capleaves : 64;
		double *a = realloc(g->counts,
				    (size_t)cap * width * sizeof *a);
		if (!a)
			return -1;
		g->counts = a;
		g->capleaves = cap;
	}
	double *c = g->counts + (size_t)g->nleaves * width;
	if (g->t) {
		c[0] = value;
		c[1] = (double)wsum;
	}
	for (uint32_t k = 0; !g->t && k < g->nclass; k++)
		c[k] = g->tot[k];
	g->node[at] = (struct dml_tree_node){ DML_TREE_LEAF, g->nleaves, 0, 0 };
	g->nleaves++;
	return 0;
}

static void sort_bins(uint8_t *a, uint32_t n)
{
	for (uint32_t i = 1; i < n; i++) {
		uint8_t v = a[i];
		uint32_t j = i;
		for (; j && a[j - 1] > v; j--)
			a[j] = a[j - 1];
		a[j] = v;
	}
}

/* Best split of rows idx[lo..hi): 1 and *feat, *bin if there is one. */
static int best_split(struct grower *g, uint64_t lo, uint64_t hi,
		      uint64_t wsum, uint32_t *feat, uint32_t *bin)
{
	const struct binned *b = g->b;
	uint32_t nf = b->nfeat, nc = g->nclass;
	uint32_t useful = 0;
	int found = 0;
	double best = -INFINITY;
	for (uint32_t k = 0; k < nf && useful < g->mtry; k++) {
		if (g->mtry < nf) {
			uint32_t r = k + (uint32_t)dml_rng_below(&g->rng,
								 nf - k);
			uint32_t t = g->perm[k];
			g->perm[k] = g->perm[r];
			g->perm[r] = t;
		}
		uint32_t j = g->perm[k];
		const uint8_t *col = b->xb + (size_t)j * b->n;
		uint32_t nt = 0;
		for (uint64_t i = lo; i < hi; i++) {
			uint32_t r = g->idx[i], w = g->w[r];
			uint8_t v = col[r];
			if (!g->hcnt[v])
				g->touched[nt++] = v;
			g->hcnt[v] += w;
			g->hist[(size_t)v * nc + g->y[r]] += w;
		}
		if (nt > 1) {
			useful++;
			if (nt > 32) {   /* many: a scan beats a sort */
				nt = 0;
				for (uint32_t v = 0; v < DML_TREE_BINS; v++)
					if (g->hcnt[v])
						g->touched[nt++] = (uint8_t)v;
			} else {
				sort_bins(g->touched, nt);
			}
			memset(g->left, 0, nc * sizeof *g->left);
			uint64_t wl = 0;
			for (uint32_t t = 0; t + 1 < nt; t++) {
				uint8_t v = g->touched[t];
				const uint32_t *h = g->hist + (size_t)v * nc;
				for (uint32_t c = 0; c < nc; c++)
					g->left[c] += h[c];
				wl += g->hcnt[v];
				uint64_t wr = wsum - wl;
				if (wl < g->p->min_leaf || wr < g->p->min_leaf)
					continue;
				double s = score_of(g, g->left, (double)wl);
				for (uint32_t c = 0; c < nc; c++)
					g->tot[c] -= g->left[c];
				s += score_of(g, g->tot, (double)wr);
				for (uint32_t c = 0; c < nc; c++)
					g->tot[c] += g->left[c];
				if (s > best) {
					best = s;
					*feat = j;
					*bin = v;
					found = 1;
				}
			}
		}
		for (uint32_t t = 0; t < nt; t++) {
			uint8_t v = g->touched[t];
			g->hcnt[v] = 0;
			memset(g->hist + (size_t)v * nc, 0,
			       nc * sizeof *g->hist);
		}
	}
	return found;
}

/* Best variance-reducing split of rows idx[lo..hi): the most of
 * sl^2/wl + sr^2/wr over the sums of w (t - mu) left and right. */
static int best_split_reg(struct grower *g, uint64_t lo, uint64_t hi,
			  uint64_t wsum, uint32_t *feat, uint32_t *bin)
{
	const struct binned *b = g->b;
	uint32_t nf = b->nfeat, useful = 0;
	int found = 0;
	double best = -INFINITY;
	for (uint32_t k = 0; k < nf && useful < g->mtry; k++) {
		if (g->mtry < nf) {
			uint32_t r = k + (uint32_t)dml_rng_below(&g->rng,
								 nf - k);
			uint32_t t = g->perm[k];
			g->perm[k] = g->perm[r];
			g->perm[r] = t;
		}
		uint32_t j = g->perm[k];
		const uint8_t *col = b->xb + (size_t)j * b->n;
		uint32_t nt = 0;
		double stot = 0;
		for (uint64_t i = lo; i < hi; i++) {
			uint32_t r = g->idx[i], w = g->w[r];
			uint8_t v = col[r];
			if (!g->hcnt[v])
				g->touched[nt++] = v;
			g->hcnt[v] += w;
			g->hsum[v] += w * (g->t[r] - g->mu);
		}
		if (nt > 1) {
			useful++;
			if (nt > 32) {
				nt = 0;
				for (uint32_t v = 0; v < DML_TREE_BINS; v++)
					if (g->hcnt[v])
						g->touched[nt++] = (uint8_t)v;
			} else {
				sort_bins(g->touched, nt);
			}
			for (uint32_t t = 0; t < nt; t++)
				stot += g->hsum[g->touched[t]];
			uint64_t wl = 0;
			double sl = 0;
			for (uint32_t t = 0; t + 1 < nt; t++) {
				uint8_t v = g->touched[t];
				wl += g->hcnt[v];
				sl += g->hsum[v];
				uint64_t wr = wsum - wl;
				if (wl < g->p->min_leaf || wr < g->p->min_leaf)
					continue;
				double sr = stot - sl;
				double s = sl * sl / (double)wl +
					   sr * sr / (double)wr;
				if (s > best) {
					best = s;
					*feat = j;
					*bin = v;
					found = 1;
				}
			}
		}
		for (uint32_t t = 0; t < nt; t++) {
			g->hcnt[g->touched[t]] = 0;
			g->hsum[g->touched[t]] = 0;
		}
	}
	return found;
}

/* Weight, mean and sameness of the targets of rows idx[lo..hi). */
static uint64_t node_targets(struct grower *g, uint64_t lo, uint64_t hi,
			     double *mean, int *same)
{
	uint64_t wsum = 0;
	double s = 0, t0 = g->t[g->idx[lo]];
	*same = 1;
	for (uint64_t i = lo; i < hi; i++) {
		uint32_t r = g->idx[i];
		wsum += g->w[r];
		s += g->w[r] * g->t[r];
		*same &= g->t[r] == t0;
	}
	/* a constant node's mean is its value, exactly */
	*mean = *same ? t0 : s / (double)wsum;
	return wsum;
}

static enum dml_err grow(struct grower *g, uint64_t nrows,
			 struct dml_tree *out)
{
	uint32_t nc = g->nclass;
	struct task *stack = malloc((2 * DML_TREE_MAX_DEPTH + 4) *
				    sizeof *stack);
	uint32_t sp = 0;
	if (!stack || new_node(g))
		goto oom;
	stack[sp++] = (struct task){ 0, nrows, 0, 0 };
	while (sp) {
		struct task t = stack[--sp];
		uint64_t wsum = 0;
		uint32_t pure = 0;
		if (g->t) {
			int same;
			wsum = node_targets(g, t.lo, t.hi, &g->mu, &same);
			pure = same ? 1 : 2;
		} else {
			memset(g->tot, 0, nc * sizeof *g->tot);
			for (uint64_t i = t.lo; i < t.hi; i++) {
				uint32_t r = g->idx[i];
				g->tot[g->y[r]] += g->w[r];
				wsum += g->w[r];
			}
			for (uint32_t c = 0; c < nc; c++)
				pure += g->tot[c] != 0;
		}
		uint32_t f, bin;
		if (pure <= 1 || t.depth >= g->p->max_depth ||
		    wsum < 2 * (uint64_t)g->p->min_leaf ||
		    !(g->t ? best_split_reg(g, t.lo, t.hi, wsum, &f, &bin)
			   : best_split(g, t.lo, t.hi, wsum, &f, &bin))) {
			if (make_leaf(g, t.node, g->mu, wsum))
				goto oom;
			continue;
		}
		const uint8_t *col = g->b->xb + (size_t)f * g->b->n;
		uint64_t i = t.lo, j = t.hi;
		while (i < j) {
			if (col[g->idx[i]] <= bin) {
				i++;
			} else {
				uint32_t tmp = g->idx[i];
				g->idx[i] = g->idx[--j];
				g->idx[j] = tmp;
			}
		}
		if (new_node(g) || new_node(g))
			goto oom;
		uint32_t l = g->nnodes - 2, r = g->nnodes - 1;
		g->node[t.node] = (struct dml_tree_node){
			f, l, r,
			g->b->cut[(size_t)f * (DML_TREE_BINS - 1) + bin],
		};
		stack[sp++] = (struct task){ i, t.hi, t.depth + 1, r };
		stack[sp++] = (struct task){ t.lo, i, t.depth + 1, l };
	}
	free(stack);
	out->nnodes = g->nnodes;
	out->nleaves = g->nleaves;
	out->node = g->node;
	out->counts = g->counts;
	g->node = NULL;
	g->counts = NULL;
	return DML_OK;
oom:
	free(stack);
	return DML_ENOMEM;
}

/* ---- a forest, trees on threads ---- */

struct job {
	struct dml_forest *f;
	const struct binned *b;
	const uint32_t *y;
	const double *t;
	int bootstrap;
	_Atomic uint32_t next;
	_Atomic int failed;
};

static void tree_rng(struct dml_rng *r, uint64_t seed, uint32_t t)
{
	dml_rng_seed(r, seed ^ (UINT64_C(0x9e3779b97f4a7c15) * (t + 1)));
}

/* Bootstrap multiplicities of tree t (also for out-of-bag). */
static void bootstrap(struct dml_rng *r, uint32_t *w, uint64_t n)
{
	memset(w, 0, n * sizeof *w);
	for (uint64_t i = 0; i < n; i++)
		w[dml_rng_below(r, n)]++;
}

static void *worker(void *arg)
{
	struct job *j = arg;
	struct dml_forest *f = j->f;
	uint64_t n = j->b->n;
	uint32_t nf = f->nfeat, nc = f->nclass;
	struct grower g = {
		.b = j->b, .y = j->y, .t = j->t, .nclass = nc,
		.p = &f->params,
	};
	uint32_t mf = f->params.max_features;
	g.mtry = mf == DML_FEATURES_SQRT ? (uint32_t)sqrt((double)nf)
		 : mf == 0 || mf > nf ? nf : mf;
	if (g.mtry < 1)
		g.mtry = 1;
	g.idx = malloc((n + 1) * sizeof *g.idx);
	g.w = malloc((n + 1) * sizeof *g.w);
	g.perm = malloc((nf + 1) * sizeof *g.perm);
	g.hist = calloc((size_t)DML_TREE_BINS * nc, sizeof *g.hist);
	g.hcnt = calloc(DML_TREE_BINS, sizeof *g.hcnt);
	g.tot = calloc(nc, sizeof *g.tot);
	g.left = calloc(nc, sizeof *g.left);
	g.hsum = calloc(DML_TREE_BINS, sizeof *g.hsum);
	if (!g.idx || !g.w || !g.perm || !g.hist || !g.hcnt || !g.tot ||
	    !g.left || !g.hsum)
		j->failed = 1;
	for (;;) {
		if (j->failed)
			break;
		uint32_t t = atomic_fetch_add(&j->next, 1);
		if (t >= f->ntrees)
			break;
		tree_rng(&g.rng, f->params.seed, t);
		uint64_t m = 0;
		if (j->bootstrap) {
			bootstrap(&g.rng, g.w, n);
		} else {
			for (uint64_t i = 0; i < n; i++)
				g.w[i] = 1;
		}
		for (uint64_t i = 0; i < n; i++)
			if (g.w[i])
				g.idx[m++] = (uint32_t)i;
		for (uint32_t k = 0; k < nf; k++)
			g.perm[k] = k;
		g.nnodes = g.nleaves = g.capnodes = g.capleaves = 0;
		if (grow(&g, m, &f->tree[t])) {
			free(g.node);
			free(g.counts);
			g.node = NULL;
			g.counts = NULL;
			j->failed = 1;
		}
	}
	free(g.idx);
	free(g.w);
	free(g.perm);
	free(g.hist);
	free(g.hcnt);
	free(g.tot);
	free(g.left);
	free(g.hsum);
	return NULL;
}

static const double *leaf_of(const struct dml_forest *f,
			     const struct dml_tree *t, const double *x)
{
	const struct dml_tree_node *nd = t->node;
	uint32_t i = 0;
	while (nd[i].feature != DML_TREE_LEAF)
		i = x[nd[i].feature] <= nd[i].threshold ? nd[i].left
							: nd[i].right;
	return t->counts + (size_t)nd[i].left *
	       (f->nclass ? f->nclass : DML_TREE_REG_WIDTH);
}

static void add_leaf(const double *c, uint32_t nc, double *p)
{
	double s = 0;
	for (uint32_t k = 0; k < nc; k++)
		s += c[k];
	if (s > 0)
		for (uint32_t k = 0; k < nc; k++)
			p[k] += c[k] / s;
}

/* Out-of-bag squared errors of a regression forest and the spread of
 * the targets of the rows some tree left out. */
static void out_of_bag_reg(struct dml_forest *f, const double *x,
			   const double *y, uint64_t n)
{
	double *p = calloc(n + 1, sizeof *p);
	uint32_t *cnt = calloc(n + 1, sizeof *cnt);
	uint32_t *w = malloc((n + 1) * sizeof *w);
	if (!p || !cnt || !w)
		goto out;
	for (uint32_t t = 0; t < f->ntrees; t++) {
		struct dml_rng r;
		tree_rng(&r, f->params.seed, t);
		bootstrap(&r, w, n);
		for (uint64_t i = 0; i < n; i++)
			if (!w[i]) {
				p[i] += leaf_of(f, &f->tree[t],
						x + i * f->nfeat)[0];
				cnt[i]++;
			}
	}
	double s = 0;
	for (uint64_t i = 0; i < n; i++)
		if (cnt[i]) {
			f->oob_rows++;
			s += y[i];
		}
	double mean = f->oob_rows ? s / (double)f->oob_rows : 0;
	for (uint64_t i = 0; i < n; i++)
		if (cnt[i]) {
			double e = p[i] / cnt[i] - y[i], d = y[i] - mean;
			f->oob_sse += e * e;
			f->oob_sst += d * d;
		}
out:
	free(p);
	free(cnt);
	free(w);
}

static void out_of_bag(struct dml_forest *f, const double *x,
		       const uint32_t *y, uint64_t n)
{
	uint32_t nc = f->nclass;
	double *p = calloc((size_t)n * nc + 1, sizeof *p);
	uint32_t *w = malloc((n + 1) * sizeof *w);
	if (!p || !w)
		goto out;
	for (uint32_t t = 0; t < f->ntrees; t++) {
		struct dml_rng r;
		tree_rng(&r, f->params.seed, t);
		bootstrap(&r, w, n);
		for (uint64_t i = 0; i < n; i++)
			if (!w[i])
				add_leaf(leaf_of(f, &f->tree[t],
						 x + i * f->nfeat),
					 nc, p + i * nc);
	}
	for (uint64_t i = 0; i < n; i++) {
		const double *q = p + i * nc;
		uint32_t best = 0;
		double s = q[0];
		for (uint32_t k = 1; k < nc; k++) {
			s += q[k];
			if (q[k] > q[best])
				best = k;
		}
		if (s > 0) {
			f->oob_rows++;
			f->oob_correct += best == y[i];
		}
	}
out:
	free(p);
	free(w);
}

enum dml_err dml_forest_grow(struct dml_forest *f, uint32_t family,
			     const struct dml_tree_params *p,
			     const double *x, const uint32_t *y,
			     const double *t, uint64_t n,
			     uint32_t nfeat, uint32_t nclass,
			     uint32_t threads, struct dml_error *err)
{
	memset(f, 0, sizeof *f);
	if (n == 0)
		return dml_fail(err, DML_EEMPTY, "no rows to fit");
	if (n >= UINT32_MAX)
		return dml_fail(err, DML_ETOOBIG, "too many rows for a tree");
	if (p->max_depth < 1 || p->max_depth > DML_TREE_MAX_DEPTH)
		return dml_fail(err, DML_EPARAM, "--max-depth must be 1..%u",
				DML_TREE_MAX_DEPTH);
	if (p->min_leaf < 1)
		return dml_fail(err, DML_EPARAM, "--min-leaf must be >= 1");
	if (p->trees < 1 || p->trees > DML_FOREST_MAX_TREES)
		return dml_fail(err, DML_EPARAM, "--trees must be 1..%u",
				DML_FOREST_MAX_TREES);
	if ((p->criterion == DML_VARIANCE) != (t != NULL) ||
	    (t ? nclass != 0 : nclass < 2))
		return dml_fail(err, DML_EPARAM, "criterion %s for a %s "
				"tree", p->criterion == DML_VARIANCE
				? "variance" : "of classes",
				t ? "regression" : "classification");
	for (uint64_t i = 0; t && i < n; i++)
		if (!isfinite(t[i]))
			return dml_fail(err, DML_ENUMBER, "row %llu: target "
					"%g is not finite",
					(unsigned long long)i + 1, t[i]);
	f->family = family;
	f->nclass = nclass;
	f->nfeat = nfeat;
	f->params = *p;
	f->ntrees = family == DML_FAMILY_FOREST ? p->trees : 1;
	f->params.trees = f->ntrees;
	f->tree = calloc(f->ntrees, sizeof *f->tree);
	struct binned b;
	if (!f->tree || binned_make(&b, x, n, nfeat)) {
		dml_forest_free(f);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	struct job j = { .f = f, .b = &b, .y = y, .t = t,
			 .bootstrap = family == DML_FAMILY_FOREST };
	if (threads > f->ntrees)
		threads = f->ntrees;
	if (threads < 1)
		threads = 1;
	dml_threads_run(threads, worker, &j, 0);
	binned_free(&b);
	if (j.failed) {
		dml_forest_free(f);
		return dml_fail(err, DML_ENOMEM, NULL);
	}
	if (j.bootstrap && t)
		out_of_bag_reg(f, x, t, n);
	else if (j.bootstrap)
		out_of_bag(f, x, y, n);
	return DML_OK;
}

void dml_forest_proba(const struct dml_forest *f, const double *x,
		      uint64_t n, double *p)
{
	uint32_t nc = f->nclass;
	if (dml_forest_is_regression(f)) {
		for (uint64_t i = 0; i < n; i++) {
			double s = 0;
			for (uint32_t t = 0; t < f->ntrees; t++)
				s += leaf_of(f, &f->tree[t],
					     x + i * f->nfeat)[0];
			p[i] = s / f->ntrees;
		}
		return;
	}
	memset(p, 0, (size_t)n * nc * sizeof *p);
	for (uint64_t i = 0; i < n; i++) {
		double *q = p + i * nc;
		for (uint32_t t = 0; t < f->ntrees; t++)
			add_leaf(leaf_of(f, &f->tree[t], x + i * f->nfeat),
				 nc, q);
		for (uint32_t k = 0; k < nc; k++)
			q[k] /= f->ntrees;
	}
}

/* ---- record sections ---- */

enum {
	P_CRITERION = 50, P_MAX_DEPTH, P_MIN_LEAF, P_MAX_FEATURES, P_TREES,
	P_SEED,
};

#define NODE_BYTES 24

void dml_forest_write(struct dml_buf *b, const struct dml_forest *f)
{
	dml_buf_section(b, DML_SEC_PARAMS, 0);
	uint32_t key[] = { P_CRITERION, P_MAX_DEPTH, P_MIN_LEAF,
			   P_MAX_FEATURES, P_TREES, P_SEED };
	uint64_t val[] = { f->params.criterion, f->params.max_depth,
			   f->params.min_leaf, f->params.max_features,
			   f->ntrees, f->params.seed };
	for (int i = 0; i < 6; i++) {
		dml_buf_u32(b, key[i]);
		dml_buf_u32(b, 0);
		dml_buf_u64(b, val[i]);
	}
	dml_buf_end(b);
	uint32_t width = f->nclass ? f->nclass : DML_TREE_REG_WIDTH;
	for (uint32_t i = 0; i < f->ntrees; i++) {
		const struct dml_tree *t = &f->tree[i];
		dml_buf_section(b, DML_SEC_TREE, 0);
		dml_buf_u32(b, t->nnodes);
		dml_buf_u32(b, t->nleaves);
		dml_buf_u32(b, width);
		dml_buf_u32(b, 0);
		for (uint32_t k = 0; k < t->nnodes; k++) {
			const struct dml_tree_node *nd = &t->node[k];
			dml_buf_u32(b, nd->feature);
			dml_buf_u32(b, nd->left);
			dml_buf_u32(b, nd->right);
			dml_buf_u32(b, 0);
			dml_buf_f64(b, nd->threshold);
		}
		dml_buf_f64s(b, t->counts, (size_t)t->nleaves * width);
		dml_buf_end(b);
	}
}

static enum dml_err params_read(const struct dml_record *rec,
				struct dml_forest *f, struct dml_error *err)
{
	struct dml_section sec;
	dml_tree_params_default(&f->params, f->family);
	if (!dml_record_find(rec, DML_SEC_PARAMS, &sec))
		return dml_fail(err, DML_EFORMAT, "no parameters section");
	struct dml_cur c;
	dml_cur_init(&c, &sec);
	while (c.left && !c.bad) {
		uint32_t key = dml_cur_u32(&c), type = dml_cur_u32(&c);
		uint64_t u = dml_cur_u64(&c);
		if (type > 1 || (type == 1 && key >= 50 && key <= 59) ||
		    (key >= 50 && key <= 59 && u > UINT32_MAX &&
		     key != P_SEED))
			c.bad = 1;
		switch (key) {
		case P_CRITERION: f->params.criterion = (uint32_t)u; break;
		case P_MAX_DEPTH: f->params.max_depth = (uint32_t)u; break;
		case P_MIN_LEAF: f->params.min_leaf = (uint32_t)u; break;
		case P_MAX_FEATURES:
			f->params.max_features = (uint32_t)u;
			break;
		case P_TREES: f->params.trees = (uint32_t)u; break;
		case P_SEED: f->params.seed = u; break;
		default: break;
		}
	}
	if (c.bad || f->params.criterion > DML_VARIANCE)
		return dml_fail(err, DML_EFORMAT, "malformed parameters");
	if (f->params.max_depth < 1 ||
	    f->params.max_depth > DML_TREE_MAX_DEPTH)
		return dml_fail(err, DML_EFORMAT, "maximum depth %u beyond "
				"the limit of %u", f->params.max_depth,
				DML_TREE_MAX_DEPTH);
	return DML_OK;
}

/* One tree section: children after parents, one parent each, depth
 * within the limit, every leaf's counts used once.  nclass is the
 * values per leaf (DML_TREE_REG_WIDTH for a regression tree, reg). */
static enum dml_err tree_read(const struct dml_section *sec,
			      struct dml_tree *t, uint32_t nfeat,
			      uint32_t nclass, int reg, uint32_t max_depth,
			      uint32_t which, struct dml_error *err)
{
	struct dml_cur c;
	dml_cur_init(&c, sec);
	uint32_t nn = dml_cur_u32(&c), nl = dml_cur_u32(&c);
	uint32_t ncl = dml_cur_u32(&c), rsv = dml_cur_u32(&c);
	memset(t, 0, sizeof *t);
	if (c.bad || rsv || ncl != nclass || nn == 0 || nl == 0 ||
	    nl > nn || c.left != (uint64_t)nn * NODE_BYTES +
				 (uint64_t)nl * nclass * 8)
		return dml_fail(err, DML_EFORMAT, "tree %u: malformed tree "
				"section", which);
	t->node = malloc((size_t)nn * sizeof *t->node);
	t->counts = malloc((size_t)nl * nclass * sizeof *t->counts);
	uint8_t *depth = calloc(nn, 1), *seen = calloc(nn, 1);
	uint8_t *used = calloc(nl, 1);
	enum dml_err rc = DML_OK;
	if (!t->node || !t->counts || !depth || !seen || !used) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto out;
	}
	t->nnodes = nn;
	t->nleaves = nl;
	for (uint32_t i = 0; i < nn; i++) {
		struct dml_tree_node *nd = &t->node[i];
		nd->feature = dml_cur_u32(&c);
		nd->left = dml_cur_u32(&c);
		nd->right = dml_cur_u32(&c);
		uint32_t z = dml_cur_u32(&c);
		nd->threshold = dml_cur_f64(&c);
		if (i && !seen[i]) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: node %u has "
				      "no parent", which, i);
			goto out;
		}
		if (nd->feature == DML_TREE_LEAF) {
			if (nd->left >= nl || nd->right || z ||
			    used[nd->left] || nd->threshold != 0) {
				rc = dml_fail(err, DML_EFORMAT, "tree %u: "
					      "leaf %u malformed", which, i);
				goto out;
			}
			used[nd->left] = 1;
			continue;
		}
		if (nd->feature >= nfeat || z || !isfinite(nd->threshold)) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: node %u: "
				      "feature %u of %u, or bad threshold",
				      which, i, nd->feature, nfeat);
			goto out;
		}
		if (nd->left <= i || nd->right <= i || nd->left >= nn ||
		    nd->right >= nn || nd->left == nd->right) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: node %u: "
				      "child out of range or not after its "
				      "parent (a cycle)", which, i);
			goto out;
		}
		if (seen[nd->left] || seen[nd->right]) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: node %u: "
				      "a child with two parents", which, i);
			goto out;
		}
		if (depth[i] + 1u > max_depth) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: deeper than "
				      "the limit of %u", which, max_depth);
			goto out;
		}
		seen[nd->left] = seen[nd->right] = 1;
		depth[nd->left] = depth[nd->right] = (uint8_t)(depth[i] + 1);
	}
	for (uint32_t i = 0; i < nl; i++)
		if (!used[i]) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: counts %u of "
				      "no leaf", which, i);
			goto out;
		}
	dml_cur_f64s(&c, t->counts, (uint64_t)nl * nclass);
	for (uint32_t i = 0; reg && i < nl; i++) {
		const double *v = t->counts + (size_t)i * nclass;
		if (!isfinite(v[0]) || !(v[1] >= 1) || !isfinite(v[1])) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: leaf value "
				      "%u malformed", which, i);
			goto out;
		}
	}
	for (uint32_t i = 0; !reg && i < nl; i++) {
		double s = 0;
		for (uint32_t k = 0; k < nclass; k++) {
			double v = t->counts[(size_t)i * nclass + k];
			if (!(v >= 0) || !isfinite(v))
				s = -1;
			else if (s >= 0)
				s += v;
		}
		if (!(s > 0) || !isfinite(s)) {
			rc = dml_fail(err, DML_EFORMAT, "tree %u: leaf counts "
				      "%u malformed", which, i);
			goto out;
		}
	}
out:
	free(depth);
	free(seen);
	free(used);
	if (rc)
		tree_free(t);
	return rc;
}

enum dml_err dml_forest_read(const struct dml_record *rec,
			     struct dml_forest *f, uint32_t nfeat,
			     uint32_t nclass, struct dml_error *err)
{
	memset(f, 0, sizeof *f);
	f->family = rec->h.family;
	f->nfeat = nfeat;
	f->nclass = nclass;
	enum dml_err rc = params_read(rec, f, err);
	if (rc)
		return rc;
	int reg = dml_forest_is_regression(f);
	if (reg ? nclass != 0 : nclass < 2)
		return dml_fail(err, DML_EFORMAT, "%u classes for a %s%s "
				"model", nclass, reg ? "regression " : "",
				dml_family_name(f->family));
	uint64_t pos = 0, count = 0;
	struct dml_section sec;
	while (dml_record_next(rec, &pos, &sec))
		count += sec.tag == DML_SEC_TREE;
	if (count == 0 || count > DML_FOREST_MAX_TREES ||
	    (f->family == DML_FAMILY_TREE && count != 1))
		return dml_fail(err, DML_EFORMAT, "%llu trees in a %s model",
				(unsigned long long)count,
				dml_family_name(f->family));
	f->tree = calloc(count, sizeof *f->tree);
	if (!f->tree)
		return dml_fail(err, DML_ENOMEM, NULL);
	pos = 0;
	while (dml_record_next(rec, &pos, &sec)) {
		if (sec.tag != DML_SEC_TREE)
			continue;
		rc = tree_read(&sec, &f->tree[f->ntrees], nfeat,
			       reg ? DML_TREE_REG_WIDTH : nclass, reg,
			       DML_TREE_MAX_DEPTH, f->ntrees + 1, err);
		if (rc) {
			dml_forest_free(f);
			return rc;
		}
		f->ntrees++;
	}
	f->params.trees = f->ntrees;
	return DML_OK;
}

static enum dml_err tree_copy(struct dml_tree *d, const struct dml_tree *s,
			      uint32_t nclass)
{
	d->nnodes = s->nnodes;
	d->nleaves = s->nleaves;
	d->node = malloc((size_t)s->nnodes * sizeof *d->node);
	d->counts = malloc((size_t)s->nleaves * nclass * sizeof *d->counts);
	if (!d->node || !d->counts) {
		tree_free(d);
		return DML_ENOMEM;
	}
	memcpy(d->node, s->node, (size_t)s->nnodes * sizeof *d->node);
	memcpy(d->counts, s->counts,
	       (size_t)s->nleaves * nclass * sizeof *d->counts);
	return DML_OK;
}

enum dml_err dml_forest_merge(struct dml_forest *dst,
			      const struct dml_forest *src,
			      struct dml_error *err)
{
	if (dml_forest_is_regression(dst) != dml_forest_is_regression(src))
		return dml_fail(err, DML_EMISMATCH, "a regression forest and "
				"a classification forest do not merge");
	if (dst->nfeat != src->nfeat || dst->nclass != src->nclass)
		return dml_fail(err, DML_EMISMATCH, "forests of other "
				"features or classes");
	if ((uint64_t)dst->ntrees + src->ntrees > DML_FOREST_MAX_TREES)
		return dml_fail(err, DML_ETOOBIG, "more than %u trees",
				DML_FOREST_MAX_TREES);
	struct dml_tree *a = realloc(dst->tree, ((size_t)dst->ntrees +
						 src->ntrees) * sizeof *a);
	if (!a)
		return dml_fail(err, DML_ENOMEM, NULL);
	dst->tree = a;
	for (uint32_t i = 0; i < src->ntrees; i++) {
		if (tree_copy(&dst->tree[dst->ntrees], &src->tree[i],
			      src->nclass ? src->nclass : DML_TREE_REG_WIDTH))
			return dml_fail(err, DML_ENOMEM, NULL);
		dst->ntrees++;
	}
	dst->family = DML_FAMILY_FOREST;
	dst->params.trees = dst->ntrees;
	return DML_OK;
}

/* ---- tree and forest model records ---- */

enum dml_err dml_treemodel_encode(const struct dml_model *m,
				  struct dml_buf *b)
{
	dml_buf_init(b);
	dml_schema_write(b, &m->schema);
	dml_labels_write(b, &m->labels);
	dml_forest_write(b, m->forest);
	dml_leaves_write(b, &m->leaves);
	struct dml_header h = {
		.kind = DML_KIND_MODEL, .family = m->forest->family,
		.schema = m->schema.fingerprint, .iteration = m->iteration,
		.samples = m->samples, .contributions = m->contributions,
	};
	return dml_buf_finish(b, &h);
}

static const uint32_t tree_known[] = {
	DML_SEC_SCHEMA, DML_SEC_LABELS, DML_SEC_PARAMS, DML_SEC_TREE,
	DML_SEC_LEAVES,
};

enum dml_err dml_treemodel_decode(const struct dml_record *rec,
				  struct dml_model *m, struct dml_error *err)
{
	memset(m, 0, sizeof *m);
	enum dml_err rc;
	if ((rc = dml_record_check_known(rec, tree_known, 5, err)))
		return rc;
	m->family = rec->h.family;
	m->iteration = rec->h.iteration;
	m->samples = rec->h.samples;
	m->contributions = rec->h.contributions;
	if ((rc = dml_schema_read(rec, &m->schema, err)) ||
	    (rc = dml_labels_read(rec, &m->labels, err)) ||
	    (rc = dml_leaves_read(rec, &m->leaves, err)))
		goto fail;
	if (!(m->forest = calloc(1, sizeof *m->forest))) {
		rc = dml_fail(err, DML_ENOMEM, NULL);
		goto fail;
	}
	/* checks the classes: none for regression, 2 or more if not */
	if ((rc = dml_forest_read(rec, m->forest, m->schema.nfeat,
				  m->labels.n, err)))
		goto fail;
	m->nout = m->labels.n ? m->labels.n : 1;
	return DML_OK;
fail:
	dml_model_free(m);
	return rc;
}
