package transport

// restRoutes registers the REST API of PROTOCOL.md.
func (s *Server) restRoutes() {}
