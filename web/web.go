// Package web holds the browser side of the status API: vprpoll.js, the
// polling module for web pages (types in vprpoll.d.ts, tests run with
// node --test web/), and the demo page that cmd/local serves at "/".
//
// The files are embedded, so a binary serving them needs nothing else.
package web

import (
	"embed"
	"io/fs"
)

// files are what a browser loads. The tests and the types stay out.
//
//go:embed index.html demo.js demo.css vprpoll.js
var files embed.FS

// FS returns the served files, by the names they have at the root of a
// site: "index.html" (the demo page), "demo.js", "demo.css" and "vprpoll.js"
// (the module).
func FS() fs.FS { return files }
