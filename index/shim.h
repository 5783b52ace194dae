/*
 * C interface to the C++ shim over FAISS 1.7.3 (shim.cpp).
 *
 * Every call that can reach FAISS returns a bf_status. FAISS reports errors by
 * throwing C++ exceptions, which must never unwind into Go: the shim catches
 * them and hands back the exception text in the same call (msg, malloc'd; the
 * caller frees it). A separate "get last error" call would be wrong under Go,
 * because the goroutine may run the next cgo call on another OS thread.
 */
#ifndef BEHAVIORAUTH_INDEX_SHIM_H
#define BEHAVIORAUTH_INDEX_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes of bf_status.code. */
enum {
    BF_OK = 0,
    BF_ERR_FAISS = 1,        /* FAISS (or the C++ runtime) threw; msg has the text */
    BF_ERR_NOT_FOUND = 2,    /* no vector with that id */
    BF_ERR_DUPLICATE_ID = 3, /* id already present, or repeated in the batch */
    BF_ERR_BAD_TYPE = 4      /* deserialized index is not one this package makes */
};

/* Index kinds, as built by this package. */
enum {
    BF_KIND_FLAT = 1,  /* IndexFlatL2 / IndexFlatIP */
    BF_KIND_IDMAP = 2, /* IndexIDMap2 over IndexFlat */
    BF_KIND_HNSW = 3   /* IndexHNSWFlat */
};

/* Metric values: FAISS's own MetricType numbers. */
enum { BF_METRIC_INNER_PRODUCT = 0, BF_METRIC_L2 = 1 };

typedef struct {
    int code;  /* BF_OK or a BF_ERR_* code */
    char* msg; /* NULL on BF_OK; otherwise malloc'd text (may be NULL if malloc failed) */
} bf_status;

/* Opaque handle: a FAISS index and its kind. */
typedef struct bf_index bf_index;

/* bf_init makes OpenMP and OpenBLAS single-threaded (see shim.cpp). */
void bf_init(void);

/* bf_omp_max_threads reports omp_get_max_threads() on the calling thread. */
int bf_omp_max_threads(void);

bf_status bf_new_flat(int d, int metric, bf_index** out);
bf_status bf_new_idmap(int d, int metric, bf_index** out);
bf_status bf_new_hnsw(int d, int m, int metric, int ef_construction, int ef_search, bf_index** out);
void bf_free(bf_index* h);

int64_t bf_ntotal(const bf_index* h);
bf_status bf_add(bf_index* h, int64_t n, const float* x);
bf_status bf_add_with_ids(bf_index* h, int64_t n, const float* x, const int64_t* ids);
bf_status bf_remove_ids(bf_index* h, int64_t n, const int64_t* ids, int64_t* removed);
bf_status bf_reconstruct(const bf_index* h, int64_t id, float* out);
bf_status bf_search(const bf_index* h, int64_t n, const float* x, int64_t k, float* dist, int64_t* labels);
bf_status bf_reset(bf_index* h);
bf_status bf_set_ef_search(bf_index* h, int ef);

/* bf_serialize writes the index with faiss::write_index into a malloc'd buffer. */
bf_status bf_serialize(const bf_index* h, uint8_t** out, size_t* len);

/* bf_deserialize reads an index with faiss::read_index from data[0:len]. */
bf_status bf_deserialize(const uint8_t* data, size_t len, bf_index** out, int* kind, int* d, int* metric);

#ifdef __cplusplus
}
#endif

#endif
