/* numeric.c - random numbers, number parsing, vector helpers. */
#include "numeric.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

void dml_rng_seed(struct dml_rng *r, uint64_t seed)
{
	uint64_t x = seed;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t dml_rng_next(struct dml_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint64_t dml_rng_below(struct dml_rng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t v;
	do
		v = dml_rng_next(r);
	while (v >= limit);
	return v % n;
}

double dml_rng_unit(struct dml_rng *r)
{
	return (double)(dml_rng_next(r) >> 11) * 0x1p-53;
}

int dml_parse_double(const char *s, double *out)
{
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return -3;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (end == s)
		return -1;
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (*end != '\0')
		return -1;
	if (!isfinite(v))
		return -2;
	*out = v;
	return 0;
}

double dml_dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

double dml_norm_inf(const double *a, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(a[i]) > m)
			m = fabs(a[i]);
	return m;
}
