/* fuzz-data.c - libFuzzer target for binary data shards: a stream of data
 * records (dml-partition --format bin) through dml_data_load, with the
 * options of dml-train and dml-predict (label column, a model's schema and
 * classes).  The same body as fuzz-csv.c (fuzz/fuzz-load.h); only the seed
 * corpus differs: records, not text.  See fuzz/README. */
#include "fuzz-load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_load(data, size, LOAD_DATA);
}
