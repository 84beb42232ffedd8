/* dml-inspect - what records hold, and whether they are intact. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mlp.h"
#include "kmeans.h"
#include "model.h"
#include "statmodel.h"
#include "tree.h"

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
	printf("Usage: %s [OPTION]... [FILE]...\n", cli_prog);
	fputs("Describe every record in the FILEs (standard input if none): kind,\n"
	      "model family, feature schema, classes, iteration, samples, leaf\n"
	      "contributions, optimizer state, and whether the checksums hold.\n"
	      "Exits 1 at the first damaged record, naming the file and record.\n"
	      "\n"
	      "Options:\n"
	      "  -j, --json              one JSON object per record, one per line\n"
	      "  -s, --system            describe this system instead: dml version,\n"
	      "                            BLIS version, kernels and threads, CPUs\n"
	      "  -f, --field=LIST        print only these comma-separated fields of\n"
	      "                            each record, tab-separated: kind, family,\n"
	      "                            iteration, samples, contributions,\n"
	      "                            features, classes, status, objective,\n"
	      "                            members\n"
	      "  -t, --tree              also print every decision tree as indented\n"
	      "                            text: splits 'feature <= threshold', leaves\n"
	      "                            with their class and class counts\n"
	      "  -h, --help              display this help and exit\n"
	      "  -V, --version           output version information and exit\n"
	      "\n"
	      "Examples:\n"
	      "  dml-inspect model.dml\n"
	      "  dml-inspect --field status model.dml   # running, converged...\n"
	      "\n"
	      "See dml-inspect(1) and dml-format(5).\n",
	      stdout);
	exit(0);
}

static const struct option longopts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "system", no_argument, NULL, 's' },
	{ "field", required_argument, NULL, 'f' },
	{ "tree", no_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const char *fields[] = {
	"kind", "family", "iteration", "samples", "contributions",
	"features", "classes", "status", "objective", "members", NULL,
};

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

struct info {
	const struct dml_record *rec;
	struct dml_schema schema;
	int has_schema;
	struct dml_labels labels;
	int has_labels;
	struct dml_leaves leaves;
	int has_leaves;
	struct dml_model model;
	int has_model;
	struct dml_kmeans km;
	int has_km;
	struct dml_ensemble ens;
	int has_ens;
	struct dml_smodel sm;
	int has_sm;
	/* what to show: the record's own sections, or an ensemble's first
	 * member's (all members share features and classes) */
	const struct dml_schema *sch;
	const struct dml_labels *lab;
};

static void release(struct info *in);

/* A data record's rows fit its schema and its labels. */
static enum dml_err check_data(const struct dml_record *rec,
			       const struct info *in, struct dml_error *err)
{
	struct dml_block b;
	enum dml_err rc = dml_block_decode(rec, &b, err);
	if (rc)
		return rc;
	if (b.nfeat != in->schema.nfeat)
		rc = dml_fail(err, DML_EFORMAT, "rows of %u values for %u "
			      "features", b.nfeat, in->schema.nfeat);
	for (uint64_t i = 0; !rc && b.has_label && i < b.n; i++)
		if (b.y[i] >= in->labels.n)
			rc = dml_fail(err, DML_EFORMAT, "row %llu: label id "
				      "%u out of range (%u labels)",
				      (unsigned long long)i + 1, b.y[i],
				      in->labels.n);
	dml_block_free(&b);
	return rc;
}

/* Decode the record as the programs that use it do: a record that one of
 * them would refuse is an error here too. */
static enum dml_err gather(struct info *in, const struct dml_record *rec,
			   struct dml_error *err)
{
	struct dml_error ignore;
	enum dml_err rc = DML_OK;
	memset(in, 0, sizeof *in);
	in->rec = rec;
	in->has_schema = dml_schema_read(rec, &in->schema, &ignore) == DML_OK;
	in->has_labels = dml_labels_read(rec, &in->labels, &ignore) == DML_OK;
	in->has_leaves = dml_leaves_read(rec, &in->leaves, &ignore) == DML_OK;
	switch (rec->h.kind) {
	case DML_KIND_MODEL:
		if (rec->h.family == DML_FAMILY_KMEANS) {
			rc = dml_kmeans_decode(rec, &in->km, err);
			in->has_km = rc == DML_OK;
			break;
		}
		if (dml_smodel_family(rec->h.family)) {
			rc = dml_smodel_decode(rec, &in->sm, err);
			in->has_sm = rc == DML_OK;
			break;
		}
		rc = dml_model_decode(rec, &in->model, err);
		in->has_model = rc == DML_OK;
		break;
	case DML_KIND_ENSEMBLE:
		rc = dml_ensemble_decode(rec, &in->ens, err);
		in->has_ens = rc == DML_OK;
		break;
	case DML_KIND_STATS: {
		struct dml_stats s;
		if ((rc = dml_stats_decode(rec, &s, err)) == DML_OK)
			dml_stats_free(&s);
		break;
	}
	case DML_KIND_GRADIENT: {
		struct dml_grad g;
		if ((rc = dml_grad_decode(rec, &g, err)) == DML_OK)
			dml_grad_free(&g);
		break;
	}
	case DML_KIND_DATA:
		/* read again only to say why it failed */
		if (!in->has_schema)
			rc = dml_schema_read(rec, &in->schema, err);
		else if (!in->has_labels)
			rc = dml_labels_read(rec, &in->labels, err);
		else
			rc = check_data(rec, in, err);
		break;
	default:
		rc = dml_fail(err, DML_EUNSUPPORTED, "unknown record kind %u",
			      rec->h.kind);
		break;
	}
	if (rc) {
		release(in);
		return rc;
	}
	in->sch = in->has_schema ? &in->schema
		  : in->has_ens ? &in->ens.members[0].schema : NULL;
	in->lab = in->has_labels ? &in->labels
		  : in->has_ens ? &in->ens.members[0].labels : NULL;
	return DML_OK;
}

static void release(struct info *in)
{
	if (in->has_schema)
		dml_schema_free(&in->schema);
	if (in->has_labels)
		dml_labels_free(&in->labels);
	if (in->has_leaves)
		dml_leaves_free(&in->leaves);
	if (in->has_model)
		dml_model_free(&in->model);
	if (in->has_km)
		dml_kmeans_free(&in->km);
	if (in->has_ens)
		dml_ensemble_free(&in->ens);
	if (in->has_sm)
		dml_smodel_free(&in->sm);
}

/* What a scaler, gaussian or pca model holds. */
static void print_smodel(const struct dml_smodel *m)
{
	uint32_t nf = m->schema.nfeat;
	if (m->family == DML_FAMILY_SCALER) {
		printf("  scaler         feature mean sd min max\n");
		for (uint32_t j = 0; j < nf && j < 20; j++)
			printf("    %s %.10g %.10g %.10g %.10g\n",
			       m->schema.names[j], m->mean[j],
			       m->scale[j] ? 1 / m->scale[j] : 0.0,
			       m->min[j], m->max[j]);
		if (nf > 20)
			printf("    ...\n");
	} else if (m->family == DML_FAMILY_GAUSSIAN) {
		printf("  covariance     %s, ridge %.6g\n",
		       m->params.covariance == DML_COV_FULL ? "full" : "diag",
		       m->ridge);
	} else {
		printf("  components     %u of %u, total variance %.10g\n",
		       m->params.components, nf, m->total);
		printf("  explained      component variance ratio cumulative\n");
		double cum = 0;
		for (uint32_t i = 0; i < m->params.components; i++) {
			double r = m->total > 0 ? m->eigval[i] / m->total : 0;
			cum += r;
			printf("    %u %.10g %.10g %.10g\n", i + 1,
			       m->eigval[i], r, cum);
		}
	}
}

static const char *status(const struct info *in)
{
	if (in->has_km)
		return dml_kmeans_status(&in->km);
	if (!in->has_model || in->model.forest)
		return "-";
	return in->model.opt.phase == DML_PHASE_DONE
		       ? dml_stop_name(in->model.opt.stop)
		       : "running";
}

static void print_field(const struct info *in, const char *f)
{
	const struct dml_header *h = &in->rec->h;
	if (!strcmp(f, "kind"))
		fputs(dml_kind_name(h->kind), stdout);
	else if (!strcmp(f, "family"))
		fputs(dml_family_name(h->family), stdout);
	else if (!strcmp(f, "iteration"))
		printf("%llu", (unsigned long long)h->iteration);
	else if (!strcmp(f, "samples"))
		printf("%llu", (unsigned long long)h->samples);
	else if (!strcmp(f, "contributions"))
		printf("%llu", (unsigned long long)h->contributions);
	else if (!strcmp(f, "features"))
		printf("%u", in->sch ? in->sch->nfeat : 0);
	else if (!strcmp(f, "classes"))
		printf("%u", in->lab ? in->lab->n : 0);
	else if (!strcmp(f, "status"))
		fputs(status(in), stdout);
	else if (!strcmp(f, "objective") && in->has_km)
		printf("%.17g", in->km.inertia); /* nan before Lloyd */
	else if (!strcmp(f, "objective") &&
		 (!in->has_model || in->model.forest))
		fputs("-", stdout); /* like status: not a model */
	else if (!strcmp(f, "objective"))
		printf("%.17g", in->model.opt.f);
	else if (!strcmp(f, "members"))
		printf("%u", in->has_ens ? in->ens.n
				       : (uint32_t)in->has_model);
}

/* A comma-separated list of fields, tab-separated on one line. */
static void print_fields(const struct info *in, const char *list)
{
	const char *p = list;
	for (;;) {
		size_t n = strcspn(p, ",");
		char name[32];
		snprintf(name, sizeof name, "%.*s", (int)n, p);
		print_field(in, name);
		if (!p[n])
			break;
		putchar('\t');
		p += n + 1;
	}
	putchar('\n');
}

static uint32_t tree_depth(const struct dml_tree *t, uint32_t i)
{
	const struct dml_tree_node *nd = &t->node[i];
	if (nd->feature == DML_TREE_LEAF)
		return 0;
	uint32_t l = tree_depth(t, nd->left), r = tree_depth(t, nd->right);
	return 1 + (l > r ? l : r);
}

static void print_forest(const struct dml_model *m, const char *pre)
{
	const struct dml_forest *f = m->forest;
	uint64_t nodes = 0, leaves = 0;
	uint32_t depth = 0;
	for (uint32_t i = 0; i < f->ntrees; i++) {
		uint32_t d = tree_depth(&f->tree[i], 0);
		nodes += f->tree[i].nnodes;
		leaves += f->tree[i].nleaves;
		if (d > depth)
			depth = d;
	}
	const struct dml_tree_params *p = &f->params;
	if (dml_forest_is_regression(f))
		printf("%stask           regression (leaves hold mean "
		       "targets)\n", pre);
	printf("%strees          %u: %llu nodes, %llu leaves, depth up to "
	       "%u\n", pre, f->ntrees, (unsigned long long)nodes,
	       (unsigned long long)leaves, depth);
	printf("%sparameters     criterion=%s max-depth=%u min-leaf=%u "
	       "max-features=", pre,
	       p->criterion == DML_VARIANCE ? "variance"
	       : p->criterion == DML_ENTROPY ? "entropy" : "gini",
	       p->max_depth, p->min_leaf);
	if (p->max_features == DML_FEATURES_SQRT)
		printf("sqrt");
	else if (p->max_features == 0)
		printf("all");
	else
		printf("%u", p->max_features);
	printf(" seed=%llu\n", (unsigned long long)p->seed);
}

static void print_members(const struct dml_ensemble *e)
{
	printf("  members        %u\n", e->n);
	printf("  combine        %s\n", dml_combine_name(e->combine));
	for (uint32_t i = 0; i < e->n; i++) {
		const struct dml_model *m = &e->members[i];
		printf("  member %-7u %s", i + 1, dml_family_name(m->family));
		if (m->forest)
			printf(", %u tree%s", m->forest->ntrees,
			       m->forest->ntrees == 1 ? "" : "s");
		printf(", %llu samples",
		       (unsigned long long)m->samples);
		if (e->weights)
			printf(", weight %.6g", e->weights[i]);
		putchar('\n');
	}
	if (e->meta)
		printf("  meta-model     softmax on %u member outputs\n",
		       e->meta->schema.nfeat);
}

static void print_node(const struct dml_model *m, const struct dml_tree *t,
		       uint32_t i, uint32_t depth)
{
	const struct dml_tree_node *nd = &t->node[i];
	const struct dml_labels *l = &m->labels;
	if (nd->feature == DML_TREE_LEAF && dml_forest_is_regression(m->forest)) {
		const double *c = t->counts + (size_t)nd->left *
				  DML_TREE_REG_WIDTH;
		printf("%*svalue %g: n=%g\n", 2 * depth + 2, "", c[0], c[1]);
		return;
	}
	if (nd->feature == DML_TREE_LEAF) {
		const double *c = t->counts + (size_t)nd->left * l->n;
		uint32_t best = 0;
		for (uint32_t k = 1; k < l->n; k++)
			if (c[k] > c[best])
				best = k;
		printf("%*sclass %s:", 2 * depth + 2, "", l->names[best]);
		for (uint32_t k = 0; k < l->n; k++)
			printf(" %s=%g", l->names[k], c[k]);
		putchar('\n');
		return;
	}
	const char *name = m->schema.names[nd->feature];
	printf("%*s%s <= %g\n", 2 * depth + 2, "", name, nd->threshold);
	print_node(m, t, nd->left, depth + 1);
	printf("%*s%s > %g\n", 2 * depth + 2, "", name, nd->threshold);
	print_node(m, t, nd->right, depth + 1);
}

static void print_trees(const struct dml_model *m, const char *what)
{
	for (uint32_t i = 0; i < m->forest->ntrees; i++) {
		printf("%stree %u of %u\n", what, i + 1, m->forest->ntrees);
		print_node(m, &m->forest->tree[i], 0, 0);
	}
}

static void print_all_trees(const struct info *in)
{
	if (in->has_model && in->model.forest)
		print_trees(&in->model, "");
	for (uint32_t i = 0; in->has_ens && i < in->ens.n; i++) {
		char what[32];
		snprintf(what, sizeof what, "member %u: ", i + 1);
		if (in->ens.members[i].forest)
			print_trees(&in->ens.members[i], what);
	}
}

static void print_text(const struct info *in, const char *name, uint64_t n)
{
	const struct dml_header *h = &in->rec->h;
	printf("%s: record %llu\n", name, (unsigned long long)n);
	printf("  kind           %s\n", dml_kind_name(h->kind));
	printf("  family         %s\n", dml_family_name(h->family));
	printf("  format         version %u, %llu bytes, checksums ok\n",
	       h->version,
	       (unsigned long long)(h->payload_len + DML_HEADER_SIZE +
				    DML_TRAILER_SIZE));
	printf("  schema         %016llx\n", (unsigned long long)h->schema);
	if (in->sch) {
		printf("  features       %u:", in->sch->nfeat);
		for (uint32_t i = 0; i < in->sch->nfeat && i < 8; i++)
			printf(" %s", in->sch->names[i]);
		if (in->sch->nfeat > 8)
			printf(" ...");
		printf("\n  label column   %s\n", in->sch->label);
	}
	if (in->lab &&
	    (in->lab->n || (!dml_family_is_regression(h->family) &&
			    h->family != DML_FAMILY_MLP &&
			    h->family != DML_FAMILY_TREE &&
			    h->family != DML_FAMILY_FOREST))) {
		printf("  classes        %u:", in->lab->n);
		for (uint32_t i = 0; i < in->lab->n && i < 20; i++) {
			printf(" %s", in->lab->names[i]);
			if (h->kind == DML_KIND_STATS)
				printf(" (%llu)",
				       (unsigned long long)in->lab->counts[i]);
		}
		printf(in->lab->n > 20 ? " ...\n" : "\n");
	}
	printf("  iteration      %llu\n", (unsigned long long)h->iteration);
	printf("  samples        %llu\n", (unsigned long long)h->samples);
	printf("  contributions  %llu\n", (unsigned long long)h->contributions);
	if (h->basis)
		printf("  taken at       model %016llx\n",
		       (unsigned long long)h->basis);
	if (in->has_leaves) {
		printf("  leaves        ");
		for (uint64_t i = 0; i < in->leaves.n && i < 8; i++)
			printf(" %016llx", (unsigned long long)in->leaves.id[i]);
		printf(in->leaves.n > 8 ? " ...\n" : "\n");
	}
	if (in->has_model && in->model.forest) {
		print_forest(&in->model, "  ");
	} else if (in->has_model) {
		const struct dml_model *m = &in->model;
		const struct dml_opt *o = &m->opt;
		if (m->family == DML_FAMILY_MLP) {
			printf("  layers         %u", m->schema.nfeat);
			for (uint32_t l = 0; l < m->params.nhidden; l++)
				printf(" %u", m->params.hidden[l]);
			printf(" %u (%s, %s output)\n", m->nout,
			       dml_activation_name(m->params.activation),
			       dml_mlp_is_regression(m) ? "linear" : "softmax");
			printf("  task           %s\n", dml_mlp_is_regression(m)
			       ? "regression" : "classification");
			if (dml_mlp_is_regression(m))
				printf("  target         mean %.17g sd %.17g\n",
				       m->params.tmean, m->params.tsd);
			printf("  weights        %llu\n", (unsigned long long)
			       dml_model_nweights(m));
		} else {
			printf("  weights        %u x %u\n", m->rows, m->nout);
		}
		printf("  parameters     l2=%g optimizer=%s max-iter=%u "
		       "tol=%g", m->params.l2,
		       dml_optimizer_name(m->params.optimizer),
		       m->params.max_iter, m->params.tol);
		if (m->params.l1 != 0)
			printf(" l1=%g", m->params.l1);
		if (m->params.solver == DML_SOLVER_NORMAL)
			printf(" solver=normal");
		putchar('\n');
		printf("  optimizer      %s, %s, %llu iterations, %llu "
		       "evaluations, objective %.10g\n",
		       dml_optimizer_name(o->method), status(in),
		       (unsigned long long)o->iters,
		       (unsigned long long)o->evals, o->f);
	}
	if (in->has_km)
		printf("  k-means        k=%u, %u centers, %u Lloyd steps, %s, "
		       "inertia %.10g\n", in->km.k, in->km.ncenters,
		       in->km.lloyd, status(in), in->km.inertia);
	if (in->has_ens)
		print_members(&in->ens);
	if (in->has_sm)
		print_smodel(&in->sm);
}

static void print_json(const struct info *in, const char *name, uint64_t n)
{
	const struct dml_header *h = &in->rec->h;
	printf("{\"file\":");
	json_str(name);
	printf(",\"record\":%llu,\"kind\":\"%s\",\"family\":\"%s\","
	       "\"version\":%u,\"bytes\":%llu,\"checksum\":\"ok\","
	       "\"schema\":\"%016llx\",\"iteration\":%llu,\"samples\":%llu,"
	       "\"contributions\":%llu",
	       (unsigned long long)n, dml_kind_name(h->kind),
	       dml_family_name(h->family), h->version,
	       (unsigned long long)(h->payload_len + DML_HEADER_SIZE +
				    DML_TRAILER_SIZE),
	       (unsigned long long)h->schema, (unsigned long long)h->iteration,
	       (unsigned long long)h->samples,
	       (unsigned long long)h->contributions);
	if (h->basis)
		printf(",\"basis\":\"%016llx\"", (unsigned long long)h->basis);
	if (in->sch) {
		printf(",\"label\":");
		json_str(in->sch->label);
		printf(",\"features\":[");
		for (uint32_t i = 0; i < in->sch->nfeat; i++) {
			if (i)
				putchar(',');
			json_str(in->sch->names[i]);
		}
		putchar(']');
	}
	if (in->lab) {
		printf(",\"classes\":[");
		for (uint32_t i = 0; i < in->lab->n; i++) {
			if (i)
				putchar(',');
			json_str(in->lab->names[i]);
		}
		putchar(']');
	}
	if (in->has_labels) {
		printf(",\"class_counts\":[");
		for (uint32_t i = 0; i < in->labels.n; i++)
			printf("%s%llu", i ? "," : "",
			       (unsigned long long)in->labels.counts[i]);
		putchar(']');
	}
	if (in->has_leaves) {
		printf(",\"leaves\":[");
		for (uint64_t i = 0; i < in->leaves.n; i++)
			printf("%s\"%016llx\"", i ? "," : "",
			       (unsigned long long)in->leaves.id[i]);
		putchar(']');
	}
	if (in->has_model && !in->model.forest) {
		const struct dml_opt *o = &in->model.opt;
		printf(",\"status\":\"%s\",\"optimizer\":\"%s\","
		       "\"iterations\":%llu,\"evaluations\":%llu,"
		       "\"l2\":%.17g", status(in),
		       dml_optimizer_name(o->method),
		       (unsigned long long)o->iters,
		       (unsigned long long)o->evals, in->model.params.l2);
		if (isfinite(o->f))
			printf(",\"objective\":%.17g", o->f);
		if (in->model.family == DML_FAMILY_MLP) {
			const struct dml_model *m = &in->model;
			printf(",\"layers\":[%u", m->schema.nfeat);
			for (uint32_t l = 0; l < m->params.nhidden; l++)
				printf(",%u", m->params.hidden[l]);
			printf(",%u],\"activation\":\"%s\",\"task\":\"%s\"",
			       m->nout,
			       dml_activation_name(m->params.activation),
			       dml_mlp_is_regression(m) ? "regression"
							: "classification");
			if (dml_mlp_is_regression(m))
				printf(",\"target_mean\":%.17g,"
				       "\"target_sd\":%.17g", m->params.tmean,
				       m->params.tsd);
		}
	}
	if (in->has_km) {
		const struct dml_kmeans *k = &in->km;
		printf(",\"status\":\"%s\",\"k\":%u,\"lloyd_steps\":%u",
		       status(in), k->k, k->lloyd);
		if (isfinite(k->inertia))
			printf(",\"objective\":%.17g", k->inertia);
		printf(",\"centers\":[");
		for (uint32_t c = 0; c < k->ncenters; c++)
			for (uint32_t j = 0; j < k->nfeat; j++)
				printf("%s%.17g", j ? "," : c ? "],[" : "[",
				       k->c[(size_t)c * k->nfeat + j]);
		printf(k->ncenters ? "]]" : "]");
	}
	if (in->has_model && in->model.forest)
		printf(",\"trees\":%u", in->model.forest->ntrees);
	if (in->has_ens) {
		printf(",\"members\":%u,\"combine\":\"%s\"", in->ens.n,
		       dml_combine_name(in->ens.combine));
		if (in->ens.weights) {
			printf(",\"weights\":[");
			for (uint32_t i = 0; i < in->ens.n; i++)
				printf("%s%.17g", i ? "," : "",
				       in->ens.weights[i]);
			putchar(']');
		}
	}
	printf("}\n");
}

static void print_system(int json)
{
	struct dml_blas_info bi;
	dml_blas_info(&bi);
	const char *env = getenv("BLIS_ARCH_TYPE");
	if (json) {
		printf("{\"dml\":\"%s\",\"blis\":\"%s\",\"kernels\":\"%s\","
		       "\"blis_arch_type\":\"%s\",\"blis_threads\":%ld,"
		       "\"blis_openmp\":%s,\"cpus\":%u}\n",
		       PACKAGE_VERSION, bi.version, bi.kernels,
		       env ? env : "", bi.threads,
		       bi.openmp ? "true" : "false", cli_cpus());
		return;
	}
	printf("dml             %s\n", PACKAGE_VERSION);
	printf("blis            %s%s\n", bi.version,
	       bi.openmp ? " (OpenMP)" : "");
	printf("blis kernels    %s (BLIS_ARCH_TYPE=%s)\n", bi.kernels,
	       env ? env : "unset");
	printf("blis threads    %ld per call\n", bi.threads);
	printf("cpus            %u\n", cli_cpus());
}

int main(int argc, char **argv)
{
	int json = 0, sys_info = 0, trees = 0, c;
	const char *field = NULL;
	cli_init(argv[0]);
	while ((c = getopt_long(argc, argv, "jf:tshV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 's': sys_info = 1; break;
		case 't': trees = 1; break;
		case 'f':
			field = optarg;
			for (const char *p = field;; p++) {
				size_t n = strcspn(p, ",");
				for (c = 0; fields[c] &&
					    (strlen(fields[c]) != n ||
					     strncmp(fields[c], p, n)); c++)
					;
				if (!fields[c])
					cli_usage("--field: unknown field '%.*s'",
						  (int)n, p);
				p += n;
				if (!*p)
					break;
			}
			break;
		case 'h': usage();
		case 'V': cli_version();
		default: cli_try_help();
		}
	}
	if (sys_info) {
		if (optind < argc)
			cli_usage("--system takes no files");
		print_system(json);
		return 0;
	}
	char *dash[] = { "-" };
	char **files = optind < argc ? argv + optind : dash;
	int nfiles = optind < argc ? argc - optind : 1;
	for (int i = 0; i < nfiles; i++) {
		const char *name = cli_name(files[i]);
		FILE *f = cli_open(files[i]);
		struct dml_record rec;
		dml_record_init(&rec);
		for (uint64_t n = 1;; n++) {
			struct dml_error err = {0};
			enum dml_err rc = dml_record_read(f, &rec, &err);
			if (rc == DML_EEMPTY) {
				if (n == 1)
					cli_die("%s: empty input (no record)",
						name);
				break;
			}
			if (rc) {
				fflush(stdout);
				err.record = n;
				cli_die_err(&err, name);
			}
			struct info in;
			if (gather(&in, &rec, &err)) {
				fflush(stdout);
				err.record = n;
				cli_die_err(&err, name);
			}
			if (field)
				print_fields(&in, field);
			else if (json)
				print_json(&in, name, n);
			else
				print_text(&in, name, n);
			if (trees)
				print_all_trees(&in);
			release(&in);
		}
		dml_record_free(&rec);
		cli_close(f, files[i]);
	}
	return 0;
}
