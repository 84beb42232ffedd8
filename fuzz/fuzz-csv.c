/* fuzz-csv.c - libFuzzer target for the CSV reader: bytes as a CSV file
 * through dml_data_load (libcsv, column mapping, number parsing, labels),
 * with the options of dml-train, dml-predict and dml-partition.  See
 * fuzz/fuzz-load.h for how the first two bytes choose the options, and
 * fuzz/README. */
#include "fuzz-load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_load(data, size, LOAD_CSV);
}
