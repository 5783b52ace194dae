package transport

import "testing"

// ValidateWSServerFrame checks a frame received from the server against ws_schema.json (for the integration
// tests of package transport_test).
func ValidateWSServerFrame(tb testing.TB, frame []byte) {
	tb.Helper()
	validateWSMessage(tb, "serverMessage", frame)
}

// ValidateWSClientFrame checks a frame a test sends against ws_schema.json.
func ValidateWSClientFrame(tb testing.TB, frame []byte) {
	tb.Helper()
	validateWSMessage(tb, "clientMessage", frame)
}
