package status

import (
	"net/http"
	"net/netip"
	"strings"
)

// admission decides which request spends which bucket, and who the caller
// is:
//
//   - A request to the status route whose caller a FastAuthenticator
//     recognises (a token verified before, or authorizer claims) spends from
//     its user's bucket only.
//   - Any other request to the status route first spends from its client
//     address's bucket, before a signature is checked, so that a flood of
//     made-up tokens is refused cheaply; then, if its credentials hold, from
//     its user's bucket.
//   - A request to an unknown route or method checks no credentials: it
//     spends from its address's bucket.
//   - A CORS preflight spends nothing (see handlePreflight).
//
// A nil limits is no limit.
type admission struct {
	ew           errorWriter
	auth         Authenticator
	fast         FastAuthenticator // auth, if it is one
	users, addrs *limits
}

func newAdmission(ew errorWriter, a Authenticator, users, addrs *limits) admission {
	fast, _ := a.(FastAuthenticator)
	return admission{ew: ew, auth: a, fast: fast, users: users, addrs: addrs}
}

// authenticated admits requests for next as the comment on admission says,
// putting the caller's user id in the request context (User reads it), or
// answers 401 or 429.
func (ad admission) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var (
			user string
			ok   bool
		)
		if ad.fast != nil {
			user, ok = ad.fast.Lookup(r)
		}
		if !ok {
			if !ad.spendAddr(w, r) {
				return
			}
			var err error
			if user, err = ad.auth.Authenticate(r); err != nil {
				ad.ew.write(w, r, err)
				return
			}
		}
		if rec, ok := w.(*responseRecord); ok {
			rec.user = user
		}
		if ad.users != nil {
			if err := ad.users.allow(w, user); err != nil {
				ad.ew.write(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(withUser(r.Context(), user)))
	})
}

// anonymous admits requests that carry no credentials worth a user's
// bucket: they spend from their client address's bucket before next runs.
func (ad admission) anonymous(next http.Handler) http.Handler {
	if ad.addrs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ad.spendAddr(w, r) {
			next.ServeHTTP(w, r)
		}
	})
}

// spendAddr spends from r's client address's bucket, or answers 429 and
// reports false.
func (ad admission) spendAddr(w http.ResponseWriter, r *http.Request) bool {
	if ad.addrs == nil {
		return true
	}
	if err := ad.addrs.allow(w, clientAddr(r.RemoteAddr)); err != nil {
		ad.ew.write(w, r, err)
		return false
	}
	return true
}

// clientAddr returns the bucket key of a request's client: the IP address
// of RemoteAddr, IPv6 addresses cut to their /64 (one subscriber's usual
// allocation, so hopping within it gains nothing).
//
// RemoteAddr is "ip:port" from net/http, and the bare source IP of the API
// Gateway event from algnhsa. X-Forwarded-For is not read: clients can write
// it. (Behind an ALB, algnhsa itself takes the first X-Forwarded-For entry.)
func clientAddr(remote string) string {
	host := remote
	switch i := strings.LastIndexByte(remote, ':'); {
	case i < 0:
		return remote // bare IPv4
	case strings.HasPrefix(remote, "["):
		end := strings.IndexByte(remote, ']')
		if end < 0 {
			return remote
		}
		host = remote[1:end]
	case strings.IndexByte(remote, ':') == i:
		return remote[:i] // IPv4:port
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return remote
	}
	if a.Is4In6() {
		return a.Unmap().String()
	}
	if a.Is4() {
		return host
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return remote
	}
	return p.String()
}
