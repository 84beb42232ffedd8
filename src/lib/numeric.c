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

static const double pow10_exact[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Clinger's fast path: a decimal with at most 19 significant digits whose
 * integer mantissa m < 2^53 and exponent |e| <= 22 is m * 10^e or
 * m / 10^-e, one correctly rounded IEEE operation on exact operands.
 * Returns 1 and sets *out when it applies, 0 to fall back to strtod. */
static int fast_decimal(const char *s, const char **end, double *out)
{
	const char *p = s;
	int neg = 0;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	uint64_t m = 0;
	int digits = 0, frac = 0, seen = 0;
	while (*p == '0') {
		p++;
		seen = 1;
	}
	while (*p >= '0' && *p <= '9') {
		if (++digits > 19)
			return 0;
		m = m * 10 + (uint64_t)(*p++ - '0');
		seen = 1;
	}
	if (*p == '.') {
		p++;
		if (m == 0)
			while (*p == '0') {
				p++;
				frac++;
				seen = 1;
			}
		while (*p >= '0' && *p <= '9') {
			if (++digits > 19)
				return 0;
			m = m * 10 + (uint64_t)(*p++ - '0');
			frac++;
			seen = 1;
		}
	}
	if (!seen)
		return 0;
	int e = 0;
	if (*p == 'e' || *p == 'E') {
		const char *q = p + 1;
		int eneg = 0;
		if (*q == '-' || *q == '+')
			eneg = *q++ == '-';
		if (*q < '0' || *q > '9')
			return 0;
		while (*q >= '0' && *q <= '9') {
			if (e > 1000)
				return 0;
			e = e * 10 + (*q++ - '0');
		}
		if (eneg)
			e = -e;
		p = q;
	}
	if (*p && *p != ' ' && *p != '\t' && *p != '\r')
		return 0; /* let strtod judge anything unusual */
	e -= frac;
	if (m >= (UINT64_C(1) << 53))
		return 0;
	double v = (double)m;
	if (m == 0)
		v = 0.0;
	else if (e < 0 && e >= -22)
		v /= pow10_exact[-e];
	else if (e >= 0 && e <= 22)
		v *= pow10_exact[e];
	else
		return 0;
	*out = neg ? -v : v;
	*end = p;
	return 1;
}

int dml_parse_double(const char *s, double *out)
{
	/* the common field first: up to 19 digits and nothing else, whose
	 * value fits in 64 bits; converting it is one correctly rounded
	 * operation, as strtod's result is */
	unsigned c = (unsigned char)s[0] - '0';
	if (c < 10) {
		uint64_t m = c;
		size_t i = 1;
		while (i < 19 && (c = (unsigned char)s[i] - '0') < 10) {
			m = m * 10 + c;
			i++;
		}
		if (s[i] == '\0') {
			*out = (double)m;
			return 0;
		}
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return -3;
	const char *fend;
	char *end;
	double v;
	if (fast_decimal(s, &fend, &v)) {
		end = (char *)fend;
	} else {
		errno = 0;
		v = strtod(s, &end);
		if (end == s)
			return -1;
	}
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
