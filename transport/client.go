package transport

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address a request came from, as the rate limits and the audit trail see it.
//
// Without trustProxy it is the peer's IP (r.RemoteAddr without its port): headers are the client's to forge.
// With trustProxy the node sits behind exactly one trusted proxy, which appends the address it saw to
// X-Forwarded-For; the rightmost valid entry is therefore the first hop the node cannot vouch for, and is used.
// Entries to its left were written by the client and are ignored (taking the leftmost would let any client pick
// its own rate-limit key). When the header is absent or holds no valid IP, the peer's IP is used.
func clientAddr(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if ip, ok := lastForwarded(r.Header.Values("X-Forwarded-For")); ok {
			return ip
		}
	}
	return peerIP(r.RemoteAddr)
}

// lastForwarded returns the rightmost valid IP of the X-Forwarded-For values (several headers count as one list,
// in order).
func lastForwarded(values []string) (string, bool) {
	for i := len(values) - 1; i >= 0; i-- {
		parts := strings.Split(values[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			p := strings.TrimSpace(parts[j])
			if p == "" {
				continue
			}
			if ip, err := netip.ParseAddr(p); err == nil {
				return ip.Unmap().WithZone("").String(), true
			}
			// A malformed rightmost entry means the proxy's own entry is not trustworthy; fall back to the peer
			// rather than trusting an entry further left that the client wrote.
			return "", false
		}
	}
	return "", false
}

// peerIP strips the port from a RemoteAddr ("1.2.3.4:5678", "[::1]:5678"); an address it cannot split is
// returned as it is, so that it still keys a rate limit.
func peerIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.Unmap().WithZone("").String()
	}
	return host
}
