/* fuzz-csv-threads.c - libFuzzer target for the parallel CSV reader: the
 * input (after the two option bytes of fuzz/fuzz-load.h) is padded past
 * the 4 MiB from which a file is split between threads, by repeating its
 * data lines, and read with one thread and with three.  Both must give the
 * same rows, labels and leaf, or the same error at the same line and
 * column.  Each input costs a few hundred milliseconds, hence a target of
 * its own.  See fuzz/README. */
#include "fuzz-load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_load(data, size, LOAD_CSV_THREADS);
}
