package gohttphandler

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

func get(t *testing.T, target string) (*httptest.ResponseRecorder, map[string]string) {
	t.Helper()
	rec := httptest.NewRecorder()
	Greet(rec, httptest.NewRequest(http.MethodGet, target, nil))
	body := map[string]string{}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body is not JSON: %v (%q)", err, rec.Body.String())
	}
	return rec, body
}

func TestGreet_OK(t *testing.T) {
	rec, body := get(t, "/greet?name=Ada")
	if rec.Code != http.StatusOK {
		t.Errorf("status: got %d want %d", rec.Code, http.StatusOK)
	}
	if body["message"] != "Hello, Ada!" {
		t.Errorf("message: got %q want %q", body["message"], "Hello, Ada!")
	}
}

func TestGreet_MissingNameReturns400(t *testing.T) {
	rec, body := get(t, "/greet")
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status: got %d want %d", rec.Code, http.StatusBadRequest)
	}
	if body["error"] == "" {
		t.Errorf("error: want a message saying name is required, got none")
	}
}

func TestGreet_EmptyNameReturns400(t *testing.T) {
	rec, _ := get(t, "/greet?name=")
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status: got %d want %d", rec.Code, http.StatusBadRequest)
	}
}

func TestGreet_JSONContentType(t *testing.T) {
	for _, target := range []string{"/greet?name=Ada", "/greet"} {
		rec, _ := get(t, target)
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type: got %q want %q", target, ct, "application/json")
		}
	}
}
