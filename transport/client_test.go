package transport

import (
	"net/http"
	"testing"
)

func TestClientAddr(t *testing.T) {
	tests := []struct {
		name   string
		remote string
		xff    []string
		trust  bool
		want   string
	}{
		{"peer v4", "192.0.2.7:5123", nil, false, "192.0.2.7"},
		{"peer v6", "[2001:db8::1]:443", nil, false, "2001:db8::1"},
		{"peer v4-mapped v6", "[::ffff:192.0.2.9]:80", nil, false, "192.0.2.9"},
		{"peer without port", "192.0.2.8", nil, false, "192.0.2.8"},
		{"header ignored when untrusted", "192.0.2.7:5123", []string{"203.0.113.5"}, false, "192.0.2.7"},
		{"trusted: rightmost entry", "10.0.0.1:80", []string{"198.51.100.1, 203.0.113.5"}, true, "203.0.113.5"},
		{"trusted: several headers, last wins", "10.0.0.1:80", []string{"198.51.100.1", "203.0.113.6"}, true, "203.0.113.6"},
		{"trusted: trailing blanks skipped", "10.0.0.1:80", []string{"203.0.113.5, "}, true, "203.0.113.5"},
		{"trusted: malformed rightmost falls back to peer", "10.0.0.1:80", []string{"203.0.113.5, junk"}, true, "10.0.0.1"},
		{"trusted: absent header falls back to peer", "10.0.0.1:80", nil, true, "10.0.0.1"},
		{"trusted: v6 entry", "10.0.0.1:80", []string{"2001:db8::2"}, true, "2001:db8::2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest(http.MethodGet, "http://example/", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tc.trust); got != tc.want {
				t.Errorf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}
