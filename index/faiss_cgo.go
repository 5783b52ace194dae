package index

// This is the only file of the package that uses cgo. It turns each call of the
// C++ shim (shim.h, shim.cpp) into a Go function and its bf_status into a Go
// error. Callers (index.go) have checked every shape already: the functions
// here assume non-empty slices of the right length and a live handle.

/*
#cgo CXXFLAGS: -std=c++17 -O2 -Wall
#cgo LDFLAGS: -lfaiss -lopenblas -lgomp -lstdc++ -lm
#cgo noescape bf_search
#cgo nocallback bf_search
#cgo noescape bf_reconstruct
#cgo nocallback bf_reconstruct
#cgo noescape bf_add
#cgo nocallback bf_add
#cgo noescape bf_add_with_ids
#cgo nocallback bf_add_with_ids
#cgo noescape bf_remove_ids
#cgo nocallback bf_remove_ids
#cgo nocallback bf_ntotal
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Static libfaiss.a needs its dependencies named at link time: OpenBLAS (BLAS
// and LAPACK for sgemm and friends), libgomp (FAISS is built with OpenMP) and
// the C++ runtime for the shim and FAISS itself.

func init() {
	// FAISS runs single-threaded. Per-user indexes hold hundreds of vectors, so
	// a search takes microseconds and OpenMP's fork/join would cost more than it
	// saves; worse, OpenMP and OpenBLAS worker threads would compete with Go's
	// scheduler for the same cores. Concurrency comes from many indexes, each
	// owned by its own actor. bf_init sets OpenBLAS to one thread (a global
	// setting) and OpenMP to one thread on this OS thread; because OpenMP keeps
	// that setting per thread, every shim call repeats it on its own thread
	// (see shim.cpp).
	C.bf_init()
}

// cHandle owns one FAISS index through the shim. Its zero value is "no index".
type cHandle struct {
	p *C.bf_index
}

func (h cHandle) valid() bool { return h.p != nil }

// statusError turns a bf_status into a Go error, freeing the message.
func statusError(op string, s C.bf_status) error {
	if s.code == C.BF_OK {
		return nil
	}
	msg := "no message"
	if s.msg != nil {
		msg = C.GoString(s.msg)
		C.free(unsafe.Pointer(s.msg))
	}
	switch s.code {
	case C.BF_ERR_NOT_FOUND:
		return fmt.Errorf("index: %s: %w", op, ErrNotFound)
	case C.BF_ERR_DUPLICATE_ID:
		return fmt.Errorf("index: %s: %w", op, ErrDuplicateID)
	case C.BF_ERR_BAD_TYPE:
		return fmt.Errorf("index: %s: %s: %w", op, msg, ErrCorrupt)
	default:
		return &FaissError{Op: op, Msg: msg}
	}
}

func cMetric(m Metric) C.int {
	if m == InnerProduct {
		return C.BF_METRIC_INNER_PRODUCT
	}
	return C.BF_METRIC_L2
}

func cNew(kind Kind, dim int, m Metric, neighbors, efConstruction, efSearch int) (cHandle, error) {
	var p *C.bf_index
	var s C.bf_status
	switch kind {
	case KindFlat:
		s = C.bf_new_flat(C.int(dim), cMetric(m), &p)
	case KindIDMap:
		s = C.bf_new_idmap(C.int(dim), cMetric(m), &p)
	case KindHNSW:
		s = C.bf_new_hnsw(C.int(dim), C.int(neighbors), cMetric(m),
			C.int(efConstruction), C.int(efSearch), &p)
	default:
		return cHandle{}, fmt.Errorf("index: new: kind %d: %w", kind, ErrInvalidArgument)
	}
	if err := statusError("new", s); err != nil {
		return cHandle{}, err
	}
	return cHandle{p: p}, nil
}

func (h cHandle) free() { C.bf_free(h.p) }

func (h cHandle) ntotal() int { return int(C.bf_ntotal(h.p)) }

func (h cHandle) add(n int, x []float32) error {
	return statusError("add", C.bf_add(h.p, C.int64_t(n), (*C.float)(unsafe.Pointer(&x[0]))))
}

func (h cHandle) addWithIDs(n int, x []float32, ids []int64) error {
	return statusError("add with ids", C.bf_add_with_ids(h.p, C.int64_t(n),
		(*C.float)(unsafe.Pointer(&x[0])), (*C.int64_t)(unsafe.Pointer(&ids[0]))))
}

func (h cHandle) removeIDs(ids []int64) (int, error) {
	var removed C.int64_t
	s := C.bf_remove_ids(h.p, C.int64_t(len(ids)), (*C.int64_t)(unsafe.Pointer(&ids[0])), &removed)
	if err := statusError("remove ids", s); err != nil {
		return 0, err
	}
	return int(removed), nil
}

func (h cHandle) reconstruct(id int64, dst []float32) error {
	return statusError("reconstruct", C.bf_reconstruct(h.p, C.int64_t(id), (*C.float)(unsafe.Pointer(&dst[0]))))
}

func (h cHandle) search(n int, x []float32, k int, dist []float32, labels []int64) error {
	s := C.bf_search(h.p, C.int64_t(n), (*C.float)(unsafe.Pointer(&x[0])), C.int64_t(k),
		(*C.float)(unsafe.Pointer(&dist[0])), (*C.int64_t)(unsafe.Pointer(&labels[0])))
	if s.code == C.BF_OK {
		return nil // the hot path: no allocation
	}
	return statusError("search", s)
}

func (h cHandle) reset() error { return statusError("reset", C.bf_reset(h.p)) }

func (h cHandle) setEfSearch(ef int) error {
	return statusError("set ef search", C.bf_set_ef_search(h.p, C.int(ef)))
}

func (h cHandle) serialize() ([]byte, error) {
	var buf *C.uint8_t
	var n C.size_t
	if err := statusError("serialize", C.bf_serialize(h.p, &buf, &n)); err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(buf))
	out := make([]byte, int(n))
	copy(out, unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(n)))
	return out, nil
}

// cDeserialize reads an index with FAISS. b must be non-empty.
func cDeserialize(b []byte) (h cHandle, kind Kind, dim int, m Metric, err error) {
	var p *C.bf_index
	var ck, cd, cm C.int
	s := C.bf_deserialize((*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b)), &p, &ck, &cd, &cm)
	if err := statusError("deserialize", s); err != nil {
		return cHandle{}, 0, 0, 0, err
	}
	switch ck {
	case C.BF_KIND_FLAT:
		kind = KindFlat
	case C.BF_KIND_IDMAP:
		kind = KindIDMap
	case C.BF_KIND_HNSW:
		kind = KindHNSW
	}
	m = L2
	if cm == C.BF_METRIC_INNER_PRODUCT {
		m = InnerProduct
	}
	return cHandle{p: p}, kind, int(cd), m, nil
}

// ompMaxThreads reports omp_get_max_threads() on the calling OS thread.
func ompMaxThreads() int { return int(C.bf_omp_max_threads()) }
