package cmu

import (
	"errors"
	"fmt"
)

// Sentinel errors, carried inside *ParseError for CSV problems.
var (
	// ErrHeader means the header row is not in the benchmark's layout.
	ErrHeader = errors.New("cmu: bad header")
	// ErrFieldCount means a row has the wrong number of fields.
	ErrFieldCount = errors.New("cmu: wrong number of fields")
	// ErrValue means a field does not hold a valid value.
	ErrValue = errors.New("cmu: bad value")
	// ErrProtocol means the data cannot support the evaluation protocol (too few
	// subjects or repetitions).
	ErrProtocol = errors.New("cmu: data does not fit the protocol")
)

// ParseError locates a CSV problem. Line and Column are 1-based (Column 0 when the whole
// line is at fault); Name is the column's header name when known.
type ParseError struct {
	Line   int
	Column int
	Name   string
	Err    error
}

func (e *ParseError) Error() string {
	switch {
	case e.Column > 0 && e.Name != "":
		return fmt.Sprintf("line %d, column %d (%s): %v", e.Line, e.Column, e.Name, e.Err)
	case e.Column > 0:
		return fmt.Sprintf("line %d, column %d: %v", e.Line, e.Column, e.Err)
	}
	return fmt.Sprintf("line %d: %v", e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }
