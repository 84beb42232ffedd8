/* numeric.h - random numbers, number parsing and small vector helpers. */
#ifndef DML_NUMERIC_H
#define DML_NUMERIC_H

#include <stddef.h>
#include <stdint.h>

/* xoshiro256** seeded through splitmix64: the same seed, the same stream
 * on every platform. */
struct dml_rng {
	uint64_t s[4];
};

void dml_rng_seed(struct dml_rng *r, uint64_t seed);
uint64_t dml_rng_next(struct dml_rng *r);
/* Uniform in [0, n) without modulo bias; n > 0. */
uint64_t dml_rng_below(struct dml_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double dml_rng_unit(struct dml_rng *r);

/* Parse a whole field as a finite double.  Leading/trailing blanks are
 * allowed.  Returns 0 on success, -1 if not a number, -2 if NaN/infinite,
 * -3 if empty. */
int dml_parse_double(const char *s, double *out);

double dml_dot(const double *a, const double *b, size_t n);
double dml_norm_inf(const double *a, size_t n);

#endif
