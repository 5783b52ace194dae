package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// defaultMaxBodyBytes bounds a REST body when the node's configuration leaves it zero (PROTOCOL.md: 64 KiB).
const defaultMaxBodyBytes = 64 << 10

// maxEchoedField bounds an unknown field's name as it is echoed in an error.
const maxEchoedField = 64

// readJSONBody reads the body of r into dst: Content-Type must be application/json (a charset parameter is
// allowed), the body at most maxBytes (else 413 `too_large`), and the JSON exactly one object whose fields are
// all known to dst. Every failure is a *WireError naming the field when there is one.
func readJSONBody(w http.ResponseWriter, r *http.Request, maxBytes int, dst any) error {
	if maxBytes <= 0 {
		maxBytes = defaultMaxBodyBytes
	}
	if err := checkJSONContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	// A declared length over the limit is refused before anything is read.
	if r.ContentLength > int64(maxBytes) {
		return errTooLarge(maxBytes)
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxBytes)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge(maxBytes)
		}
		return errInvalid("", "request body could not be read")
	}
	return decodeBody(data, dst)
}

// checkJSONContentType accepts "application/json" with optional parameters; only a UTF-8 charset (or none).
func checkJSONContentType(ct string) error {
	if ct == "" {
		return errInvalid("", "Content-Type must be application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return errInvalid("", "Content-Type must be application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errInvalid("", "Content-Type charset must be utf-8")
	}
	return nil
}

// decodeBody decodes data, a whole request body, into dst (a pointer to a struct). The body must be exactly one
// JSON object, with no field dst does not know and nothing after it but white space. It is the decoder of every
// REST body and never panics on input (FuzzDecodeBody).
func decodeBody(data []byte, dst any) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return errInvalid("", "request body required: a JSON object")
	}
	if trimmed[0] != '{' {
		return errInvalid("", "request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	// Anything after the object, even another valid value, is refused: a body is one object.
	if dec.More() {
		return errInvalid("", "unexpected data after the JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errInvalid("", "unexpected data after the JSON object")
	}
	return nil
}

// jsonError turns an encoding/json error into a 400 that names the field when it can, without echoing values.
func jsonError(err error) error {
	var (
		se *json.SyntaxError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &se):
		return errInvalid("", "malformed JSON near byte "+strconv.FormatInt(se.Offset, 10))
	case errors.As(err, &te):
		field := te.Field
		return errInvalid(field, field+": wrong type: want "+jsonKind(te.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errInvalid("", "malformed JSON: unexpected end of body")
	}
	// DisallowUnknownFields reports `json: unknown field "name"` (no typed error exists for it).
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		// The name is the client's own text: bounded so that a huge key is not echoed back whole.
		if len(field) > maxEchoedField {
			field = strings.ToValidUTF8(field[:maxEchoedField], "")
		}
		return errInvalid(field, "unknown field "+strconv.Quote(field))
	}
	return errInvalid("", "malformed JSON")
}

func jsonKind(k string) string {
	switch k {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "ptr":
		return "value"
	}
	return k
}
