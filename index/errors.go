package index

import "errors"

// Sentinel errors. Every error the package returns wraps one of them; branch
// with errors.Is.
var (
	// ErrClosed: the index was closed; no method but Close works after that.
	ErrClosed = errors.New("index closed")
	// ErrDimension: a slice does not have the shape the call needs (length not
	// a multiple of the dimension, k <= 0, ids and vectors of different counts,
	// an output buffer of the wrong size, or a dimension out of range).
	ErrDimension = errors.New("wrong dimension or shape")
	// ErrNotFound: no vector has the requested id.
	ErrNotFound = errors.New("id not found")
	// ErrInvalidID: an id is negative (FAISS uses -1 for "no result").
	ErrInvalidID = errors.New("invalid id")
	// ErrDuplicateID: an id is already in the index or repeated in the batch.
	ErrDuplicateID = errors.New("duplicate id")
	// ErrNonFinite: a vector has a NaN or infinite component.
	ErrNonFinite = errors.New("vector has a NaN or infinite component")
	// ErrUnsupported: the operation does not exist for this kind of index
	// (Add on an IDMap index, AddWithIDs on a flat or HNSW index, SetEfSearch
	// on a non-HNSW index).
	ErrUnsupported = errors.New("operation not supported by this index kind")
	// ErrInvalidArgument: a parameter is out of range (metric, HNSW neighbors,
	// efSearch).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrCorrupt: bytes given to Deserialize are not an index this package
	// writes. Errors that FAISS raised while reading wrap ErrFaiss as well.
	ErrCorrupt = errors.New("malformed serialized index")
	// ErrFaiss: FAISS threw a C++ exception; the error is a *FaissError with
	// its text.
	ErrFaiss = errors.New("faiss error")
)

// FaissError carries the text of a C++ exception thrown by FAISS. It wraps
// ErrFaiss.
type FaissError struct {
	Op  string // the operation, e.g. "search"
	Msg string // FAISS's exception text
}

func (e *FaissError) Error() string { return "index: " + e.Op + ": faiss: " + e.Msg }

// Unwrap makes errors.Is(err, ErrFaiss) hold.
func (e *FaissError) Unwrap() error { return ErrFaiss }
