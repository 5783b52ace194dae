// C++ shim between the Go package and FAISS 1.7.3 (Debian's libfaiss.a).
//
// Each exported function catches every C++ exception and returns its text in
// the bf_status of the same call; nothing may unwind through cgo frames.

#include "shim.h"

#include <omp.h>

#include <cfloat>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <unordered_set>

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

// OpenBLAS's own setter; declared here rather than through cblas.h so that the
// shim does not depend on which BLAS header the alternatives system selected.
extern "C" void openblas_set_num_threads(int num_threads);

struct bf_index {
    faiss::Index* index;
    int kind;
};

namespace {

using idx_t = faiss::Index::idx_t;

// omp_set_num_threads sets the nthreads ICV of the calling thread only (libgomp
// keeps it per thread once set outside a parallel region). Go runs cgo calls on
// whichever OS thread the goroutine is on, so a single call at init would leave
// every other thread at the default (one thread per core). Each entry point
// therefore sets it once for its thread; afterwards this is one TLS load.
thread_local bool tl_single_threaded = false;

inline void single_threaded() {
    if (!tl_single_threaded) {
        omp_set_num_threads(1);
        tl_single_threaded = true;
    }
}

bf_status ok() {
    bf_status s;
    s.code = BF_OK;
    s.msg = nullptr;
    return s;
}

bf_status fail(int code, const char* msg) {
    bf_status s;
    s.code = code;
    s.msg = strdup(msg != nullptr ? msg : "unknown error");
    return s;
}

// guarded runs f with OpenMP single-threaded on this thread and turns any
// exception into a status.
template <typename F>
bf_status guarded(F&& f) noexcept {
    try {
        single_threaded();
        return f();
    } catch (const std::bad_alloc&) {
        return fail(BF_ERR_FAISS, "out of memory");
    } catch (const std::exception& e) {
        return fail(BF_ERR_FAISS, e.what());
    } catch (...) {
        return fail(BF_ERR_FAISS, "unknown C++ exception");
    }
}

faiss::MetricType to_metric(int metric) {
    return metric == BF_METRIC_INNER_PRODUCT ? faiss::METRIC_INNER_PRODUCT
                                             : faiss::METRIC_L2;
}

faiss::IndexFlat* new_flat(int d, int metric) {
    if (metric == BF_METRIC_INNER_PRODUCT) {
        return new faiss::IndexFlatIP(d);
    }
    return new faiss::IndexFlatL2(d);
}

bf_status wrap(faiss::Index* index, int kind, bf_index** out) {
    std::unique_ptr<faiss::Index> owned(index);
    *out = new bf_index{owned.get(), kind};
    owned.release();
    return ok();
}

// is_plain_flat reports whether index is an IndexFlat with L2 or inner product
// (and not a subclass with other semantics such as IndexFlat1D).
bool is_plain_flat(const faiss::Index* index) {
    auto* f = dynamic_cast<const faiss::IndexFlat*>(index);
    if (f == nullptr || dynamic_cast<const faiss::IndexFlat1D*>(index) != nullptr) {
        return false;
    }
    return f->metric_type == faiss::METRIC_L2 ||
            f->metric_type == faiss::METRIC_INNER_PRODUCT;
}

} // namespace

extern "C" {

void bf_init(void) {
    single_threaded();
    // OpenBLAS keeps one global thread count; FAISS calls sgemm for batches of
    // 20 queries or more.
    openblas_set_num_threads(1);
}

int bf_omp_max_threads(void) {
    return omp_get_max_threads();
}

bf_status bf_new_flat(int d, int metric, bf_index** out) {
    return guarded([&] { return wrap(new_flat(d, metric), BF_KIND_FLAT, out); });
}

bf_status bf_new_idmap(int d, int metric, bf_index** out) {
    return guarded([&] {
        std::unique_ptr<faiss::IndexFlat> inner(new_flat(d, metric));
        auto* m = new faiss::IndexIDMap2(inner.get());
        inner.release();
        m->own_fields = true;
        return wrap(m, BF_KIND_IDMAP, out);
    });
}

bf_status bf_new_hnsw(
        int d,
        int m,
        int metric,
        int ef_construction,
        int ef_search,
        bf_index** out) {
    return guarded([&] {
        auto* h = new faiss::IndexHNSWFlat(d, m, to_metric(metric));
        h->hnsw.efConstruction = ef_construction;
        h->hnsw.efSearch = ef_search;
        return wrap(h, BF_KIND_HNSW, out);
    });
}

void bf_free(bf_index* h) {
    if (h == nullptr) {
        return;
    }
    try {
        delete h->index;
    } catch (...) {
        // Destructors of FAISS indexes do not throw; never unwind into Go.
    }
    delete h;
}

int64_t bf_ntotal(const bf_index* h) {
    return h->index->ntotal;
}

bf_status bf_add(bf_index* h, int64_t n, const float* x) {
    return guarded([&] {
        h->index->add(n, x);
        return ok();
    });
}

bf_status bf_add_with_ids(
        bf_index* h,
        int64_t n,
        const float* x,
        const int64_t* ids) {
    return guarded([&] {
        if (h->kind == BF_KIND_IDMAP) {
            // IndexIDMap2 would accept repeated ids and keep only the last in
            // its reverse map; refuse them so that an id names one vector.
            auto* m = static_cast<faiss::IndexIDMap2*>(h->index);
            std::unordered_set<idx_t> batch;
            batch.reserve(static_cast<size_t>(n));
            for (int64_t i = 0; i < n; i++) {
                if (m->rev_map.count(ids[i]) != 0 || !batch.insert(ids[i]).second) {
                    return fail(BF_ERR_DUPLICATE_ID, "duplicate id");
                }
            }
        }
        h->index->add_with_ids(n, x, ids);
        return ok();
    });
}

bf_status bf_remove_ids(
        bf_index* h,
        int64_t n,
        const int64_t* ids,
        int64_t* removed) {
    return guarded([&] {
        faiss::IDSelectorBatch sel(n, ids);
        *removed = static_cast<int64_t>(h->index->remove_ids(sel));
        return ok();
    });
}

bf_status bf_reconstruct(const bf_index* h, int64_t id, float* out) {
    return guarded([&] {
        if (h->kind == BF_KIND_IDMAP) {
            auto* m = static_cast<const faiss::IndexIDMap2*>(h->index);
            auto it = m->rev_map.find(id);
            if (it == m->rev_map.end()) {
                return fail(BF_ERR_NOT_FOUND, "no vector with this id");
            }
            m->index->reconstruct(it->second, out);
            return ok();
        }
        // IndexFlat::reconstruct does not check bounds.
        if (id < 0 || id >= h->index->ntotal) {
            return fail(BF_ERR_NOT_FOUND, "no vector with this id");
        }
        h->index->reconstruct(id, out);
        return ok();
    });
}

bf_status bf_search(
        const bf_index* h,
        int64_t n,
        const float* x,
        int64_t k,
        float* dist,
        int64_t* labels) {
    return guarded([&] {
        if (h->index->ntotal == 0) {
            // FAISS 1.7.3's BLAS path (20 queries or more) returns early on an
            // empty index without initializing the results, and IndexIDMap2
            // then maps those garbage labels through its empty id table. Fill
            // in what FAISS reports for a missing neighbor instead.
            float none = h->index->metric_type == faiss::METRIC_INNER_PRODUCT
                    ? -FLT_MAX
                    : FLT_MAX;
            for (int64_t i = 0; i < n * k; i++) {
                dist[i] = none;
                labels[i] = -1;
            }
            return ok();
        }
        h->index->search(n, x, k, dist, labels);
        return ok();
    });
}

bf_status bf_reset(bf_index* h) {
    return guarded([&] {
        h->index->reset();
        if (h->kind == BF_KIND_IDMAP) {
            // IndexIDMap2 does not override reset() in FAISS 1.7.3: its
            // reverse map would keep the old ids, and reconstructing one would
            // read past the (now empty) storage. Rebuild it from the empty
            // id map.
            static_cast<faiss::IndexIDMap2*>(h->index)->construct_rev_map();
        }
        return ok();
    });
}

bf_status bf_set_ef_search(bf_index* h, int ef) {
    return guarded([&] {
        auto* hn = dynamic_cast<faiss::IndexHNSW*>(h->index);
        if (hn == nullptr) {
            return fail(BF_ERR_BAD_TYPE, "not an HNSW index");
        }
        hn->hnsw.efSearch = ef;
        return ok();
    });
}

bf_status bf_serialize(const bf_index* h, uint8_t** out, size_t* len) {
    return guarded([&] {
        faiss::VectorIOWriter w;
        faiss::write_index(h->index, &w);
        size_t size = w.data.size();
        // malloc(0) may return NULL; always ask for at least one byte.
        auto* buf = static_cast<uint8_t*>(std::malloc(size > 0 ? size : 1));
        if (buf == nullptr) {
            throw std::bad_alloc();
        }
        std::memcpy(buf, w.data.data(), size);
        *out = buf;
        *len = size;
        return ok();
    });
}

bf_status bf_deserialize(
        const uint8_t* data,
        size_t len,
        bf_index** out,
        int* kind,
        int* d,
        int* metric) {
    return guarded([&] {
        faiss::VectorIOReader r;
        r.data.assign(data, data + len);
        std::unique_ptr<faiss::Index> index(faiss::read_index(&r));
        if (!index) {
            return fail(BF_ERR_BAD_TYPE, "no index in input");
        }
        if (r.rp != r.data.size()) {
            return fail(BF_ERR_BAD_TYPE, "trailing bytes after the index");
        }
        int k = 0;
        if (auto* m = dynamic_cast<faiss::IndexIDMap2*>(index.get())) {
            if (is_plain_flat(m->index) && m->index->metric_type == m->metric_type) {
                k = BF_KIND_IDMAP;
            }
        } else if (auto* hn = dynamic_cast<faiss::IndexHNSWFlat*>(index.get())) {
            if (is_plain_flat(hn->storage) &&
                hn->storage->metric_type == hn->metric_type) {
                k = BF_KIND_HNSW;
            }
        } else if (
                dynamic_cast<faiss::IndexIDMap*>(index.get()) == nullptr &&
                is_plain_flat(index.get())) {
            k = BF_KIND_FLAT;
        }
        if (k == 0) {
            return fail(BF_ERR_BAD_TYPE, "index type not supported by this package");
        }
        *kind = k;
        *d = static_cast<int>(index->d);
        *metric = index->metric_type == faiss::METRIC_INNER_PRODUCT
                ? BF_METRIC_INNER_PRODUCT
                : BF_METRIC_L2;
        return wrap(index.release(), k, out);
    });
}

} // extern "C"
