// Package index is the project's binding to FAISS: exact (flat), id-mapped and
// HNSW indexes of float32 vectors, searched by L2 or inner product, and
// serialized in FAISS's own format for storage in Postgres.
//
// It links Debian's libfaiss-dev (FAISS 1.7.3, a static library) with
// OpenBLAS, libgomp and libstdc++ through a small C++ shim (shim.cpp) and one
// cgo file (faiss_cgo.go); the rest is pure Go. The binding is our own rather
// than github.com/blevesearch/go-faiss, which calls C functions found only in
// Bleve's fork of FAISS (see DESIGN.md).
//
// # Safety
//
// Shapes are checked in Go before any C call. FAISS reports failures by
// throwing C++ exceptions; the shim catches every one and returns its text in
// the same call, and the package returns it as a *FaissError wrapping
// ErrFaiss. Deserialize validates its input in Go before FAISS reads it.
//
// # Threads
//
// FAISS runs single-threaded here. The engine's indexes are per user and
// small (hundreds of vectors), so one search costs microseconds: an OpenMP
// fork/join would cost more than it saves, and OpenMP's or OpenBLAS's worker
// threads would compete with Go's scheduler for the same cores. Parallelism
// comes instead from many indexes searched at once, each owned by one actor.
// The package sets OpenBLAS to one thread at init, and OpenMP to one thread at
// init and again on each OS thread that calls FAISS (OpenMP keeps that setting
// per thread, and Go moves goroutines between threads).
//
// Different indexes may be searched from different goroutines at once. FAISS
// 1.7.3 has one shared mutable global on these paths: HNSW searches add to
// the statistics counters faiss::hnsw_stats without a lock, which can only
// miscount those statistics (the package does not read them). Flat and IDMap
// searches share no unsynchronized state.
//
// An Index is for one goroutine at a time; its methods lock a mutex anyway, so
// that misuse, or Close racing a Search, cannot crash the process.
package index
