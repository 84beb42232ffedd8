/*
 * synth -- write seeded synthetic classification data as CSV.
 *
 *     synth separable -n ROWS --features D --seed S
 *         two classes (benign, malignant) split by a random hyperplane
 *         with a margin: every row lies at least --margin away from it, so
 *         a linear classifier can reach 100% training accuracy;
 *     synth blobs -n ROWS --classes K --features D --seed S
 *         K Gaussian classes (class-1 .. class-K) whose centres are close
 *         enough that the classes overlap, so the softmax optimum is finite
 *         even without a penalty.
 *
 * Columns are f1..fD and `label' (last, or first with --label-first),
 * under a header row unless --no-header.  Features get a random offset and
 * scale, so that standardization matters.  The same arguments give the
 * same bytes on every run: the generator is splitmix64 with Box-Muller
 * normals.
 *
 * Not installed; it makes test data for the bats tests.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define PROG "synth"
#define MAX_FEATURES 10000
#define MAX_CLASSES 1000
#define MAX_ROWS 100000000ULL

enum kind { SEPARABLE, BLOBS };

struct synth_opts {
	enum kind kind;
	unsigned long long rows, seed;
	unsigned features, classes;
	int header, label_first, numeric;
	double margin, spread;
	const char *label_name;
};

struct rng {
	uint64_t state;
	int have_spare;
	double spare;
};

static uint64_t rng_next(struct rng *r)
{
	uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_unit(struct rng *r)
{
	return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

/* Standard normal, Box-Muller (both values of a pair are used). */
static double rng_normal(struct rng *r)
{
	if (r->have_spare) {
		r->have_spare = 0;
		return r->spare;
	}
	double u1 = 1.0 - rng_unit(r); /* (0, 1] */
	double u2 = rng_unit(r);
	double rad = sqrt(-2.0 * log(u1));
	double th = 2.0 * 3.14159265358979323846 * u2;
	r->spare = rad * sin(th);
	r->have_spare = 1;
	return rad * cos(th);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
	/* n is small here; the bias of a 64-bit modulo is below 2^-50 */
	return rng_next(r) % n;
}

static void usage(void)
{
	printf("Usage: %s separable -n ROWS [--features D] [OPTION]...\n"
	       "  or:  %s blobs -n ROWS [--classes K] [--features D] [OPTION]...\n",
	       PROG, PROG);
	fputs("Write seeded synthetic classification data as CSV on standard output.\n"
	      "\n"
	      "Kinds:\n"
	      "  separable   two classes, benign and malignant, split by a random\n"
	      "                hyperplane with a margin (linearly separable)\n"
	      "  blobs       K overlapping Gaussian classes class-1..class-K\n"
	      "\n"
	      "Options:\n"
	      "  -n, --rows=N          number of data rows (required)\n"
	      "  -f, --features=D      number of features f1..fD (default 4)\n"
	      "  -k, --classes=K       classes for blobs (default 3)\n"
	      "  -s, --seed=S          random seed (default 1)\n"
	      "      --margin=X        separable: least distance to the hyperplane,\n"
	      "                          in standard units (default 0.5)\n"
	      "      --spread=X        blobs: standard deviation of the class centres\n"
	      "                          (default 1; smaller overlaps more)\n"
	      "      --no-header       no header row\n"
	      "      --label-first     put the label column first (default last)\n"
	      "      --label-name=S    name of the label column (default label)\n"
	      "      --numeric-labels  labels 0..K-1 instead of names\n"
	      "  -h, --help            display this help and exit\n"
	      "  -V, --version         output version information and exit\n"
	      "\n"
	      "Example:\n"
	      "  synth blobs -n 600 --classes 3 --features 5 --seed 7 > train.csv\n",
	      stdout);
	exit(fflush(stdout) == 0 && !ferror(stdout) ? EXIT_SUCCESS
						     : EXIT_FAILURE);
}

static void try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", PROG);
	exit(2);
}

static void usage_error(const char *msg, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s\n", PROG, msg, arg ? ": " : "",
		arg ? arg : "");
	try_help();
}

static unsigned long long parse_uint(const char *name, const char *s,
				     unsigned long long min,
				     unsigned long long max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s == '-' || *s == '\0' || *end || errno || v < min || v > max) {
		fprintf(stderr, "%s: %s: '%s' is not a whole number in "
			"%llu..%llu\n", PROG, name, s, min, max);
		try_help();
	}
	return v;
}

static double parse_real(const char *name, const char *s, double min,
			 double max)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (*s == '\0' || *end || errno || !(v >= min && v <= max)) {
		fprintf(stderr, "%s: %s: '%s' is not a number in %g..%g\n",
			PROG, name, s, min, max);
		try_help();
	}
	return v;
}

static void put_label(const struct synth_opts *o, unsigned y)
{
	static const char *const two[2] = { "benign", "malignant" };
	if (o->numeric)
		printf("%u", y);
	else if (o->kind == SEPARABLE)
		fputs(two[y], stdout);
	else
		printf("class-%u", y + 1);
}

static void put_row(const struct synth_opts *o, const double *x, unsigned y)
{
	if (o->label_first) {
		put_label(o, y);
		putchar(',');
	}
	for (unsigned j = 0; j < o->features; j++)
		printf(j ? ",%.6g" : "%.6g", x[j]);
	if (!o->label_first) {
		putchar(',');
		put_label(o, y);
	}
	putchar('\n');
}

static void put_header(const struct synth_opts *o)
{
	if (o->label_first)
		printf("%s,", o->label_name);
	for (unsigned j = 0; j < o->features; j++)
		printf(j ? ",f%u" : "f%u", j + 1);
	if (!o->label_first)
		printf(",%s", o->label_name);
	putchar('\n');
}

static int generate(const struct synth_opts *o)
{
	unsigned d = o->features, k = o->kind == SEPARABLE ? 2 : o->classes;
	double *offset = malloc(d * sizeof *offset);
	double *scale = malloc(d * sizeof *scale);
	double *dir = malloc(d * sizeof *dir);
	double *centre = malloc((size_t)k * d * sizeof *centre);
	double *z = malloc(d * sizeof *z), *x = malloc(d * sizeof *x);
	if (!offset || !scale || !dir || !centre || !z || !x) {
		fprintf(stderr, "%s: out of memory\n", PROG);
		return 1;
	}
	struct rng r = { .state = o->seed };
	/* the shape of the problem first, so it does not depend on -n */
	for (unsigned j = 0; j < d; j++) {
		offset[j] = 10.0 * rng_unit(&r) - 5.0;
		scale[j] = 0.5 + 4.5 * rng_unit(&r);
	}
	double norm = 0;
	for (unsigned j = 0; j < d; j++) {
		dir[j] = rng_normal(&r);
		norm += dir[j] * dir[j];
	}
	norm = sqrt(norm);
	for (unsigned j = 0; j < d; j++)
		dir[j] = norm > 0 ? dir[j] / norm : 1.0;
	for (size_t i = 0; i < (size_t)k * d; i++)
		centre[i] = o->spread * rng_normal(&r);

	if (o->header)
		put_header(o);
	for (unsigned long long i = 0; i < o->rows; i++) {
		unsigned y;
		for (unsigned j = 0; j < d; j++)
			z[j] = rng_normal(&r);
		if (o->kind == SEPARABLE) {
			double t = 0;
			for (unsigned j = 0; j < d; j++)
				t += dir[j] * z[j];
			y = t >= 0;
			/* push the point out of the band |t| < margin */
			double shift = (y ? o->margin : -o->margin);
			for (unsigned j = 0; j < d; j++)
				z[j] += shift * dir[j];
		} else {
			y = (unsigned)rng_below(&r, k);
			for (unsigned j = 0; j < d; j++)
				z[j] += centre[(size_t)y * d + j];
		}
		for (unsigned j = 0; j < d; j++)
			x[j] = offset[j] + scale[j] * z[j];
		put_row(o, x, y);
	}
	free(offset);
	free(scale);
	free(dir);
	free(centre);
	free(z);
	free(x);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "%s: write error on standard output: %s\n",
			PROG, strerror(errno ? errno : EIO));
		return 1;
	}
	return 0;
}

enum {
	OPT_MARGIN = 256, OPT_SPREAD, OPT_NO_HEADER, OPT_LABEL_FIRST,
	OPT_LABEL_NAME, OPT_NUMERIC,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rows", required_argument, NULL, 'n' },
		{ "features", required_argument, NULL, 'f' },
		{ "classes", required_argument, NULL, 'k' },
		{ "seed", required_argument, NULL, 's' },
		{ "margin", required_argument, NULL, OPT_MARGIN },
		{ "spread", required_argument, NULL, OPT_SPREAD },
		{ "no-header", no_argument, NULL, OPT_NO_HEADER },
		{ "label-first", no_argument, NULL, OPT_LABEL_FIRST },
		{ "label-name", required_argument, NULL, OPT_LABEL_NAME },
		{ "numeric-labels", no_argument, NULL, OPT_NUMERIC },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct synth_opts o = {
		.seed = 1, .features = 4, .classes = 3, .header = 1,
		.margin = 0.5, .spread = 1.0, .label_name = "label",
	};
	int have_rows = 0, have_classes = 0, c;
	while ((c = getopt_long(argc, argv, "n:f:k:s:hV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'n':
			o.rows = parse_uint("--rows", optarg, 0, MAX_ROWS);
			have_rows = 1;
			break;
		case 'f':
			o.features = (unsigned)parse_uint("--features", optarg,
							  1, MAX_FEATURES);
			break;
		case 'k':
			o.classes = (unsigned)parse_uint("--classes", optarg, 2,
							 MAX_CLASSES);
			have_classes = 1;
			break;
		case 's':
			o.seed = parse_uint("--seed", optarg, 0, UINT64_MAX);
			break;
		case OPT_MARGIN:
			o.margin = parse_real("--margin", optarg, 0, 1e6);
			break;
		case OPT_SPREAD:
			o.spread = parse_real("--spread", optarg, 0, 1e6);
			break;
		case OPT_NO_HEADER: o.header = 0; break;
		case OPT_LABEL_FIRST: o.label_first = 1; break;
		case OPT_LABEL_NAME: o.label_name = optarg; break;
		case OPT_NUMERIC: o.numeric = 1; break;
		case 'h': usage(); break;
		case 'V':
			printf("%s (dml) %s\n", PROG, PACKAGE_VERSION);
			return fflush(stdout) == 0 ? 0 : 1;
		default: try_help();
		}
	}
	if (optind >= argc)
		usage_error("the kind of data is missing (separable or blobs)",
			    NULL);
	if (!strcmp(argv[optind], "separable"))
		o.kind = SEPARABLE;
	else if (!strcmp(argv[optind], "blobs"))
		o.kind = BLOBS;
	else
		usage_error("unknown kind (separable, blobs)", argv[optind]);
	if (optind + 1 < argc)
		usage_error("extra operand", argv[optind + 1]);
	if (!have_rows)
		usage_error("the number of rows is missing (-n)", NULL);
	if (o.kind == SEPARABLE && have_classes && o.classes != 2)
		usage_error("separable data has 2 classes", NULL);
	return generate(&o);
}
