package loadgen

import (
	"net/http"

	"github.com/gorilla/websocket"
)

// EchoHandler is the ceiling of the benchmark: a bare gorilla/websocket server at /echo that writes every frame
// back as it came, one reader and no other work, on the same machine and port setup as the node.
func EchoHandler() http.Handler {
	up := websocket.Upgrader{ReadBufferSize: 4 << 10, WriteBufferSize: 4 << 10, CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetReadLimit(64 << 10)
		for {
			mt, b, err := conn.ReadMessage()
			if err != nil {
				return
			}
			if err := conn.WriteMessage(mt, b); err != nil {
				return
			}
		}
	})
	return mux
}
