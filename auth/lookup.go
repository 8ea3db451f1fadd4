package auth

import "net/http"

// Lookup returns the user id from the authorizer's claims, if there are
// any: an upstream authorizer has checked the signature already, so there is
// none to check here (see status.FastAuthenticator).
func (g *Gateway) Lookup(r *http.Request) (string, bool) {
	claims, ok := g.claims(r)
	if !ok {
		return "", false
	}
	user := claims[g.userClaim]
	return user, user != ""
}
