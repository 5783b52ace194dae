package transport

// wsRoutes registers the WebSocket endpoint of PROTOCOL.md.
func (s *Server) wsRoutes() {}
