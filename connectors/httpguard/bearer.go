package httpguard

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Bearer returns next behind "Authorization: Bearer <token>": a request
// without one of tokens is answered 401 with a WWW-Authenticate header.
// With no tokens at all every request is refused: an endpoint that should
// be open is not wrapped.
func Bearer(tokens []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if TokenIndex(tokens, r) < 0 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="accrue"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "missing or invalid bearer token"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TokenIndex is the index in tokens of the request's bearer token, or -1.
// Every token is compared in constant time.
func TokenIndex(tokens []string, r *http.Request) int {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return -1
	}
	found := -1
	for i, t := range tokens {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(t)) == 1 && found < 0 {
			found = i
		}
	}
	return found
}

// ByToken names a request's client by its bearer token when it is one of
// tokens ("token:<index>", so that the token itself is kept nowhere), else
// by its remote IP: made-up tokens cannot make clients without end.
func ByToken(tokens []string) func(*http.Request) string {
	return func(r *http.Request) string {
		if i := TokenIndex(tokens, r); i >= 0 {
			return "token:" + strconv.Itoa(i)
		}
		return "ip:" + RemoteIP(r)
	}
}
