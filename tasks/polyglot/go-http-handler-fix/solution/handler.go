// Package gohttphandler serves a tiny greeting endpoint.
package gohttphandler

import (
	"encoding/json"
	"net/http"
)

type greeting struct {
	Message string `json:"message"`
}

type problem struct {
	Error string `json:"error"`
}

// Greet answers GET /greet?name=X with 200 and {"message":"Hello, X!"}.
// A missing or empty name is the client's mistake: 400 with {"error":"..."}.
func Greet(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	w.Header().Set("Content-Type", "application/json")
	if name == "" {
		// The status must be set before the first write: writing the body sends
		// an implicit 200 and any later WriteHeader is ignored.
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(problem{Error: "name is required"})
		return
	}
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(greeting{Message: "Hello, " + name + "!"})
}
