/* gemm.c - z += x w for few columns (the scores of a linear model), in
 * the order of operations of BLIS's dgemm, faster for this shape.
 *
 * BLIS cuts the inner dimension into blocks (KC: the default size, the
 * last block taking what is left when that is at most the maximum) and,
 * for each block, its micro-kernel sums the products from zero with one
 * fused multiply-add chain per element, then adds the sum to z.  The
 * kernels here do the same, so the bits are the same; but as that is
 * BLIS's business, each shape is first tried on made-up values against
 * BLIS itself, and BLIS does the work where a bit differs. */
#include "gemm.h"

#include <blis.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef void (*part_fn)(uint64_t nr, uint32_t k, uint32_t nf,
			const double *x, const double *w, uint32_t j0,
			uint32_t j1, double *z);

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

/* Rows r..r+3, columns c0..c0+15 (masked), inner block j0..j1. */
#define ROW512(i)                                                          \
	__m512d a##i##0 = _mm512_setzero_pd(), a##i##1 = _mm512_setzero_pd(); \
	const double *x##i = x + (r + i) * (uint64_t)nf
#define FMA512(i)                                                          \
	do {                                                               \
		__m512d b = _mm512_set1_pd(x##i[j]);                       \
		a##i##0 = _mm512_fmadd_pd(b, w0, a##i##0);                 \
		a##i##1 = _mm512_fmadd_pd(b, w1, a##i##1);                 \
	} while (0)
#define ADD512(i)                                                          \
	do {                                                               \
		double *zr = z + (r + i) * (uint64_t)k + c0;               \
		_mm512_mask_storeu_pd(zr, m0, _mm512_add_pd(               \
			_mm512_maskz_loadu_pd(m0, zr), a##i##0));          \
		_mm512_mask_storeu_pd(zr + 8, m1, _mm512_add_pd(           \
			_mm512_maskz_loadu_pd(m1, zr + 8), a##i##1));      \
	} while (0)

__attribute__((target("avx512f,fma")))
static void part_avx512(uint64_t nr, uint32_t k, uint32_t nf,
			const double *x, const double *w, uint32_t j0,
			uint32_t j1, double *z)
{
	for (uint32_t c0 = 0; c0 < k; c0 += 16) {
		uint32_t left = k - c0;
		__mmask8 m0 = left >= 8 ? 0xff : (__mmask8)((1u << left) - 1);
		__mmask8 m1 = left >= 16 ? 0xff : left > 8
			      ? (__mmask8)((1u << (left - 8)) - 1) : 0;
		uint64_t r = 0;
		for (; r + 4 <= nr; r += 4) {
			ROW512(0);
			ROW512(1);
			ROW512(2);
			ROW512(3);
			for (uint32_t j = j0; j < j1; j++) {
				const double *wj = w + (uint64_t)j * k + c0;
				__m512d w0 = _mm512_maskz_loadu_pd(m0, wj);
				__m512d w1 = _mm512_maskz_loadu_pd(m1, wj + 8);
				FMA512(0);
				FMA512(1);
				FMA512(2);
				FMA512(3);
			}
			ADD512(0);
			ADD512(1);
			ADD512(2);
			ADD512(3);
		}
		for (; r < nr; r++) {
			ROW512(0);
			for (uint32_t j = j0; j < j1; j++) {
				const double *wj = w + (uint64_t)j * k + c0;
				__m512d w0 = _mm512_maskz_loadu_pd(m0, wj);
				__m512d w1 = _mm512_maskz_loadu_pd(m1, wj + 8);
				FMA512(0);
			}
			ADD512(0);
		}
	}
}

/* The same with four doubles a vector: columns c0..c0+7. */
#define ROW256(i)                                                          \
	__m256d a##i##0 = _mm256_setzero_pd(), a##i##1 = _mm256_setzero_pd(); \
	const double *x##i = x + (r + i) * (uint64_t)nf
#define FMA256(i)                                                          \
	do {                                                               \
		__m256d b = _mm256_set1_pd(x##i[j]);                       \
		a##i##0 = _mm256_fmadd_pd(b, w0, a##i##0);                 \
		a##i##1 = _mm256_fmadd_pd(b, w1, a##i##1);                 \
	} while (0)
#define ADD256(i)                                                          \
	do {                                                               \
		double *zr = z + (r + i) * (uint64_t)k + c0;               \
		_mm256_maskstore_pd(zr, m0, _mm256_add_pd(                 \
			_mm256_maskload_pd(zr, m0), a##i##0));             \
		_mm256_maskstore_pd(zr + 4, m1, _mm256_add_pd(             \
			_mm256_maskload_pd(zr + 4, m1), a##i##1));         \
	} while (0)

__attribute__((target("avx2,fma")))
static __m256i mask4(uint32_t n)
{
	return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n),
				  _mm256_set_epi64x(3, 2, 1, 0));
}

__attribute__((target("avx2,fma")))
static void part_avx2(uint64_t nr, uint32_t k, uint32_t nf,
		      const double *x, const double *w, uint32_t j0,
		      uint32_t j1, double *z)
{
	for (uint32_t c0 = 0; c0 < k; c0 += 8) {
		uint32_t left = k - c0;
		__m256i m0 = mask4(left), m1 = mask4(left > 4 ? left - 4 : 0);
		uint64_t r = 0;
		for (; r + 4 <= nr; r += 4) {
			ROW256(0);
			ROW256(1);
			ROW256(2);
			ROW256(3);
			for (uint32_t j = j0; j < j1; j++) {
				const double *wj = w + (uint64_t)j * k + c0;
				__m256d w0 = _mm256_maskload_pd(wj, m0);
				__m256d w1 = _mm256_maskload_pd(wj + 4, m1);
				FMA256(0);
				FMA256(1);
				FMA256(2);
				FMA256(3);
			}
			ADD256(0);
			ADD256(1);
			ADD256(2);
			ADD256(3);
		}
		for (; r < nr; r++) {
			ROW256(0);
			for (uint32_t j = j0; j < j1; j++) {
				const double *wj = w + (uint64_t)j * k + c0;
				__m256d w0 = _mm256_maskload_pd(wj, m0);
				__m256d w1 = _mm256_maskload_pd(wj + 4, m1);
				FMA256(0);
			}
			ADD256(0);
		}
	}
}

static part_fn pick_part(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
		return part_avx512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return part_avx2;
	return NULL;
}
#else
static part_fn pick_part(void)
{
	return NULL;
}
#endif

static void blis_gemm(uint64_t nr, uint32_t k, uint32_t nf, const double *x,
		      const double *w, double *z)
{
	double one = 1.0;
	bli_dgemm(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, (dim_t)nr, k, nf,
		  &one, (double *)x, nf, 1, (double *)w, k, 1, &one, z, k, 1);
}

static void fast_gemm(part_fn part, uint64_t nr, uint32_t k, uint32_t nf,
		      const double *x, const double *w, double *z)
{
	cntx_t *cx = bli_gks_query_cntx();
	uint64_t kc = (uint64_t)bli_cntx_get_blksz_def_dt(BLIS_DOUBLE, BLIS_KC,
							 cx);
	uint64_t kmax = (uint64_t)bli_cntx_get_blksz_max_dt(BLIS_DOUBLE,
							   BLIS_KC, cx);
	for (uint32_t j0 = 0; j0 < nf;) {
		uint32_t left = nf - j0;
		uint32_t b = left <= kmax ? left : (uint32_t)kc;
		part(nr, k, nf, x, w, j0, j0 + b, z);
		j0 += b;
	}
}

/* Whether the kernel gives BLIS's bits for this shape: made-up values of
 * many magnitudes and signs, where any other order of the additions
 * shows in the last bits.  The number of rows counts too: BLIS takes
 * other paths for small matrices. */
static int agrees(part_fn part, uint64_t nr, uint32_t k, uint32_t nf)
{
	size_t rows = (size_t)nr;
	size_t nx = (size_t)rows * nf, nw = (size_t)nf * k;
	double *x = malloc((nx + 1) * sizeof *x);
	double *w = malloc((nw + 1) * sizeof *w);
	double *z = malloc(2 * ((size_t)rows * k + 1) * sizeof *z);
	int same = x && w && z;
	if (same) {
		uint64_t s = 0x9e3779b97f4a7c15u;
		for (size_t i = 0; i < nx + nw; i++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			double v = (double)(int64_t)(s >> 11) * 0x1p-52;
			if (i < nx)
				x[i] = v * (double)(1 + (s >> 60));
			else
				w[i - nx] = v;
		}
		double *z2 = z + (size_t)rows * k + 1;
		for (size_t i = 0; i < (size_t)rows * k; i++)
			z[i] = z2[i] = x[i % nx] * 0.5;
		blis_gemm(rows, k, nf, x, w, z);
		fast_gemm(part, rows, k, nf, x, w, z2);
		same = !memcmp(z, z2, (size_t)rows * k * sizeof *z);
	}
	free(x);
	free(w);
	free(z);
	return same;
}

/* The verdicts so far, one per shape (few in one process); past that,
 * BLIS without asking. */
#define NSEEN 16
static struct {
	uint64_t nr;
	uint32_t k, nf;
	int ok;
} seen[NSEEN];
static int nseen, picked;
static part_fn part;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static part_fn part_for(uint64_t nr, uint32_t k, uint32_t nf)
{
	int ok = -1;
	pthread_mutex_lock(&seen_lock);
	if (!picked) {
		part = pick_part();
		picked = 1;
	}
	for (int i = 0; i < nseen; i++)
		if (seen[i].nr == nr && seen[i].k == k && seen[i].nf == nf)
			ok = seen[i].ok;
	if (ok < 0 && nseen == NSEEN)
		ok = 0;
	if (ok < 0) {
		ok = part && agrees(part, nr, k, nf);
		seen[nseen].nr = nr;
		seen[nseen].k = k;
		seen[nseen].nf = nf;
		seen[nseen++].ok = ok;
	}
	pthread_mutex_unlock(&seen_lock);
	return ok ? part : NULL;
}

void dml_gemm_add(uint64_t nr, uint32_t k, uint32_t nf, const double *x,
		  const double *w, double *z)
{
	if (nr == 0 || k == 0 || nf == 0)
		return;
	part_fn part = part_for(nr, k, nf);
	if (part)
		fast_gemm(part, nr, k, nf, x, w, z);
	else
		blis_gemm(nr, k, nf, x, w, z);
}
