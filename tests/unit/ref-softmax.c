/*
 * ref-softmax -- an independent reference solver for the objective that
 * `dml-train -a softmax' minimizes, used by tests/train.bats.
 *
 *     ref-softmax [-y LABEL] [--l2 X] FILE.csv
 *
 * reads a plain CSV file (header row, comma-separated, no quoting; every
 * column but LABEL is a numeric feature), standardizes every feature by its
 * mean and population standard deviation (a constant feature gets scale
 * 0), and minimizes
 *
 *     f(W, b) = (1/n) sum_i [ logsumexp(z_i) - z_i[y_i] ] + (l2/2) ||W||^2,
 *     z_i = W^T x_i + b   (the biases b are not penalized)
 *
 * by Newton's method with a backtracking line search, in double precision,
 * until the gradient vanishes.  Prints the optimal objective with %.12g on
 * standard output, and the final gradient norm and iterations on stderr.
 *
 * Written for the tests; it shares no code with dml on purpose.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROG "ref-softmax"

struct problem {
	size_t n, d, k;     /* rows, features, classes */
	double *x;          /* n * (d + 1): standardized features, then 1 */
	size_t *y;          /* class index per row */
	char **classes;
	double l2;
};

static void die(const char *msg, const char *what)
{
	fprintf(stderr, "%s: %s%s%s\n", PROG, what ? what : "",
		what ? ": " : "", msg);
	exit(1);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory", NULL);
	return p;
}

/* Split line in place at commas; returns the field count. */
static size_t split(char *line, char ***fields, size_t *cap)
{
	size_t n = 0;
	line[strcspn(line, "\r\n")] = '\0';
	for (char *p = line;; p++) {
		if (n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*fields = xrealloc(*fields, *cap * sizeof **fields);
		}
		(*fields)[n++] = p;
		p += strcspn(p, ",");
		if (*p == '\0')
			break;
		*p = '\0';
	}
	return n;
}

static size_t class_index(struct problem *pb, const char *name)
{
	for (size_t c = 0; c < pb->k; c++)
		if (!strcmp(pb->classes[c], name))
			return c;
	pb->classes = xrealloc(pb->classes, (pb->k + 1) * sizeof *pb->classes);
	pb->classes[pb->k] = strdup(name);
	if (!pb->classes[pb->k])
		die("out of memory", NULL);
	return pb->k++;
}

static void load(struct problem *pb, const char *path, const char *label)
{
	FILE *f = fopen(path, "r");
	if (!f)
		die(strerror(errno), path);
	char *line = NULL, **fields = NULL;
	size_t lcap = 0, fcap = 0, ncols = 0, lab = (size_t)-1, rows_cap = 0;
	if (getline(&line, &lcap, f) < 0)
		die("empty file", path);
	ncols = split(line, &fields, &fcap);
	for (size_t j = 0; j < ncols; j++)
		if (!strcmp(fields[j], label))
			lab = j;
	if (lab == (size_t)-1)
		die("label column not found", label);
	pb->d = ncols - 1;
	size_t w = pb->d + 1;
	while (getline(&line, &lcap, f) >= 0) {
		if (split(line, &fields, &fcap) != ncols)
			die("wrong field count", path);
		if (pb->n == rows_cap) {
			rows_cap = rows_cap ? rows_cap * 2 : 256;
			pb->x = xrealloc(pb->x, rows_cap * w * sizeof *pb->x);
			pb->y = xrealloc(pb->y, rows_cap * sizeof *pb->y);
		}
		double *row = pb->x + pb->n * w;
		size_t j = 0;
		for (size_t c = 0; c < ncols; c++) {
			if (c == lab)
				continue;
			char *end;
			row[j++] = strtod(fields[c], &end);
			if (end == fields[c] || *end)
				die("not a number", fields[c]);
		}
		row[pb->d] = 1.0;
		pb->y[pb->n++] = class_index(pb, fields[lab]);
	}
	free(line);
	free(fields);
	fclose(f);
	if (pb->n == 0 || pb->k < 2)
		die("need rows of at least two classes", path);
	/* standardize: two passes, population standard deviation */
	for (size_t j = 0; j < pb->d; j++) {
		double mean = 0, var = 0;
		for (size_t i = 0; i < pb->n; i++)
			mean += pb->x[i * w + j];
		mean /= (double)pb->n;
		for (size_t i = 0; i < pb->n; i++) {
			double t = pb->x[i * w + j] - mean;
			var += t * t;
		}
		double sd = sqrt(var / (double)pb->n);
		double scale = sd > 1e-12 * fmax(1.0, fabs(mean)) ? 1 / sd : 0;
		for (size_t i = 0; i < pb->n; i++)
			pb->x[i * w + j] = (pb->x[i * w + j] - mean) * scale;
	}
}

/* Parameters theta[j * k + c]: row j < d is feature j, row d the bias. */
static double objective(const struct problem *pb, const double *theta,
			double *grad, double *hess, double *prob)
{
	size_t k = pb->k, w = pb->d + 1, np = w * k;
	double loss = 0;
	if (grad)
		memset(grad, 0, np * sizeof *grad);
	if (hess)
		memset(hess, 0, np * np * sizeof *hess);
	for (size_t i = 0; i < pb->n; i++) {
		const double *x = pb->x + i * w;
		double zmax = -INFINITY;
		for (size_t c = 0; c < k; c++) {
			double z = 0;
			for (size_t j = 0; j < w; j++)
				z += x[j] * theta[j * k + c];
			prob[c] = z;
			if (z > zmax)
				zmax = z;
		}
		double s = 0;
		for (size_t c = 0; c < k; c++)
			s += exp(prob[c] - zmax);
		double lse = zmax + log(s);
		loss += lse - prob[pb->y[i]];
		for (size_t c = 0; c < k; c++)
			prob[c] = exp(prob[c] - lse);
		if (grad)
			for (size_t j = 0; j < w; j++)
				for (size_t c = 0; c < k; c++)
					grad[j * k + c] +=
						x[j] * (prob[c] -
							(c == pb->y[i]));
		if (hess)
			for (size_t j = 0; j < w; j++)
				for (size_t c = 0; c < k; c++)
					for (size_t l = 0; l < w; l++)
						for (size_t e = 0; e < k; e++)
							hess[(j * k + c) * np +
							     l * k + e] +=
								x[j] * x[l] *
								prob[c] *
								((c == e) -
								 prob[e]);
	}
	double inv = 1.0 / (double)pb->n, pen = 0;
	loss *= inv;
	if (grad)
		for (size_t i = 0; i < np; i++)
			grad[i] *= inv;
	if (hess)
		for (size_t i = 0; i < np * np; i++)
			hess[i] *= inv;
	for (size_t i = 0; i < pb->d * k; i++) {
		pen += theta[i] * theta[i];
		if (grad)
			grad[i] += pb->l2 * theta[i];
		if (hess)
			hess[i * np + i] += pb->l2;
	}
	return loss + 0.5 * pb->l2 * pen;
}

/* Solve (A + mu I) x = b by Cholesky; A is overwritten.  0 on success. */
static int cholesky_solve(double *a, size_t n, double mu, const double *b,
			  double *x)
{
	for (size_t i = 0; i < n; i++)
		a[i * n + i] += mu;
	for (size_t j = 0; j < n; j++) {
		double s = a[j * n + j];
		for (size_t p = 0; p < j; p++)
			s -= a[j * n + p] * a[j * n + p];
		if (!(s > 0))
			return -1;
		a[j * n + j] = sqrt(s);
		for (size_t i = j + 1; i < n; i++) {
			double t = a[i * n + j];
			for (size_t p = 0; p < j; p++)
				t -= a[i * n + p] * a[j * n + p];
			a[i * n + j] = t / a[j * n + j];
		}
	}
	for (size_t i = 0; i < n; i++) { /* L z = b */
		double t = b[i];
		for (size_t p = 0; p < i; p++)
			t -= a[i * n + p] * x[p];
		x[i] = t / a[i * n + i];
	}
	for (size_t i = n; i-- > 0;) { /* L^T x = z */
		double t = x[i];
		for (size_t p = i + 1; p < n; p++)
			t -= a[p * n + i] * x[p];
		x[i] = t / a[i * n + i];
	}
	return 0;
}

static double norm_inf(const double *v, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(v[i]) > m)
			m = fabs(v[i]);
	return m;
}

static double solve(const struct problem *pb, unsigned *iters, double *gn)
{
	size_t np = (pb->d + 1) * pb->k;
	double *theta = calloc(np, sizeof *theta);
	double *trial = calloc(np, sizeof *trial);
	double *grad = calloc(np, sizeof *grad);
	double *hess = calloc(np * np, sizeof *hess);
	double *step = calloc(np, sizeof *step);
	double *neg = calloc(np, sizeof *neg);
	double *prob = calloc(pb->k, sizeof *prob);
	if (!theta || !trial || !grad || !hess || !step || !neg || !prob)
		die("out of memory", NULL);
	double f = objective(pb, theta, grad, hess, prob);
	unsigned it;
	for (it = 0; it < 200 && norm_inf(grad, np) > 1e-13; it++) {
		for (size_t i = 0; i < np; i++)
			neg[i] = -grad[i];
		/* the biases' common shift is a flat direction: a tiny
		 * ridge keeps the system definite without moving the
		 * minimum (the gradient has no component along it) */
		double mu = 1e-12;
		while (cholesky_solve(hess, np, mu, neg, step)) {
			objective(pb, theta, NULL, hess, prob);
			mu *= 100;
			if (mu > 1)
				die("Hessian not positive definite", NULL);
		}
		double slope = 0;
		for (size_t i = 0; i < np; i++)
			slope += step[i] * grad[i];
		double t = 1, ft = f;
		for (int s = 0; s < 60; s++, t *= 0.5) {
			for (size_t i = 0; i < np; i++)
				trial[i] = theta[i] + t * step[i];
			ft = objective(pb, trial, NULL, NULL, prob);
			if (ft <= f + 1e-4 * t * slope)
				break;
		}
		if (!(ft <= f)) /* no decrease left at double precision */
			break;
		memcpy(theta, trial, np * sizeof *theta);
		f = objective(pb, theta, grad, hess, prob);
	}
	*iters = it;
	*gn = norm_inf(grad, np);
	free(theta);
	free(trial);
	free(grad);
	free(hess);
	free(step);
	free(neg);
	free(prob);
	return f;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "label", required_argument, NULL, 'y' },
		{ "l2", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct problem pb = { .l2 = 1e-3 };
	const char *label = "label";
	int c;
	while ((c = getopt_long(argc, argv, "y:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'y': label = optarg; break;
		case 'l': {
			char *end;
			pb.l2 = strtod(optarg, &end);
			if (*end || end == optarg || !(pb.l2 >= 0))
				die("not a number >= 0", "--l2");
			break;
		}
		case 'h':
			printf("Usage: %s [-y LABEL] [--l2 X] FILE.csv\n"
			       "Print the minimum of dml's softmax objective "
			       "on FILE.csv.\n", PROG);
			return 0;
		default:
			fprintf(stderr, "Try '%s --help' for more "
				"information.\n", PROG);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "%s: exactly one FILE.csv expected\n"
			"Try '%s --help' for more information.\n", PROG, PROG);
		return 2;
	}
	load(&pb, argv[optind], label);
	unsigned iters;
	double gn, f = solve(&pb, &iters, &gn);
	printf("%.12g\n", f);
	fprintf(stderr, "%s: %zu rows, %zu features, %zu classes: %u Newton "
		"steps, max |gradient| %.3g\n", PROG, pb.n, pb.d, pb.k, iters,
		gn);
	for (size_t i = 0; i < pb.k; i++)
		free(pb.classes[i]);
	free(pb.classes);
	free(pb.x);
	free(pb.y);
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
