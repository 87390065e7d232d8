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
		json.NewEncoder(w).Encode(problem{Error: "name is required"})
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	json.NewEncoder(w).Encode(greeting{Message: "Hello, " + name + "!"})
}
