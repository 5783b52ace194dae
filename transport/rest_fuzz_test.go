package transport

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
)

// FuzzDecodeBody feeds arbitrary bodies to the decoder of every REST request type. It must never panic; it
// refuses with a 400 `invalid_request` or accepts, and what it accepts survives a round trip through
// encoding/json unchanged (nothing half-decoded slips through).
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"phone":"+919876543210","password":"correct horse battery","mpin":"482916","name":"Asha"}`,
		`{"phone":"+919876543210","password":"correct horse battery","device_id":"d-1"}`,
		`{"refresh_token":"abc"}`,
		`{"mpin":"482916"}`,
		`{"session_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","decision_seq":12,"label":"fraud"}`,
		`{"label":"genuine","extra":1}`,
		`{"decision_seq":"1"}`,
		`{"mpin":"1"} {}`,
		`{"mpin":"\ud800"}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, dst := range []any{
			&registerRequest{}, &loginRequest{}, &refreshRequest{}, &mpinRequest{}, &feedbackRequest{},
		} {
			err := decodeBody(data, dst)
			if err != nil {
				var we *WireError
				if !errors.As(err, &we) || we.Status() != http.StatusBadRequest || we.Code != "invalid_request" {
					t.Fatalf("%T: error %v is not a 400 invalid_request", dst, err)
				}
				continue
			}
			enc, err := json.Marshal(dst)
			if err != nil {
				t.Fatalf("%T: accepted value does not encode: %v", dst, err)
			}
			again := reflect.New(reflect.TypeOf(dst).Elem()).Interface()
			if err := decodeBody(enc, again); err != nil {
				t.Fatalf("%T: re-encoded %s refused: %v", dst, enc, err)
			}
			if !reflect.DeepEqual(dst, again) {
				t.Fatalf("%T: round trip changed %+v into %+v", dst, dst, again)
			}
		}
	})
}
