/* threads.c - the parts of a job run on threads, this one included. */
#include "threads.h"

#include <pthread.h>
#include <stdlib.h>

void dml_threads_run(uint32_t n, void *(*fn)(void *), void *parts,
		     size_t size)
{
	char *p = parts;
	pthread_t *tid = n > 1 ? calloc(n, sizeof *tid) : NULL;
	char *started = n > 1 ? calloc(n, 1) : NULL;
	for (uint32_t i = 1; tid && started && i < n; i++)
		started[i] = pthread_create(&tid[i], NULL, fn,
					    p + i * size) == 0;
	fn(p);
	for (uint32_t i = 1; i < n; i++) {
		if (started && started[i])
			pthread_join(tid[i], NULL);
		else
			fn(p + i * size); /* no thread for it: here */
	}
	free(tid);
	free(started);
}
