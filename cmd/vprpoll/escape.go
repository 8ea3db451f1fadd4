package main

// Everything vprpoll prints that a server chose (a FAILED job's error,
// problem details, a redirect's Location, the status and result JSON) is
// escaped here, and only here: text a terminal would obey (ESC sequences
// that clear the screen or retitle the window, a CR that forges a line)
// comes out as inert escapes.

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// escapeControls returns s with every control character written as an
// escape: C0 (newline, CR and tab included: a line of s stays one line),
// DEL and C1 as \n, \r, \t, \xNN or \u00NN, U+2028 and U+2029 as \uNNNN,
// and each byte that is not UTF-8 as \xNN (a lone 0x9B is CSI to an 8-bit
// terminal).
func escapeControls(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return isControl(r) || r == utf8.RuneError })
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && isControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case isControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// isControl: C0, DEL, C1, or a line or paragraph separator.
func isControl(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f || r == '\u2028' || r == '\u2029'
}

// escapeJSON returns the valid JSON b with what a terminal could obey
// escaped: inside strings U+007F–U+009F (DEL and C1) and U+2028/U+2029 as
// \uXXXX, bytes that are not UTF-8 as \ufffd; outside them CR, which only
// valid JSON's whitespace can hold there, is dropped (whitespace only ever
// sits beside a structural character, so no two tokens merge). The value is
// the same JSON value: decoders read \u009b as they read the raw character.
// Valid JSON has no raw C0 inside strings; anything else is copied.
//
// It is always applied, a terminal or not: the output is equal JSON either
// way, one code path is the one tested, and a file or pipe is often shown
// on a terminal later (cat, less, tee).
func escapeJSON(b []byte) []byte {
	out := make([]byte, 0, len(b)+16)
	inString, escaped := false, false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case !inString:
			if c == '"' {
				inString = true
			}
			if c != '\r' {
				out = append(out, c)
			}
			i++
			continue
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			inString = false
		}
		if c < utf8.RuneSelf && c != 0x7f {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			out = append(out, `\ufffd`...)
		case r >= 0x7f && r <= 0x9f, r == '\u2028', r == '\u2029':
			out = fmt.Appendf(out, `\u%04x`, r)
		default:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}

// writeJSON writes the valid JSON b to w, escaped, on a line of its own.
func writeJSON(w io.Writer, b []byte) error {
	b = escapeJSON(b)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	_, err := w.Write(b)
	return err
}

// console writes lines to stderr with their text escaped: every line
// vprpoll writes there, the error that ends it included, goes through one.
type console struct{ w io.Writer }

// line writes text, escaped, and a newline.
func (c console) line(text string) {
	_, _ = io.WriteString(c.w, escapeControls(text)+"\n")
}

// redraw replaces the terminal's current line with text, escaped.
func (c console) redraw(text string) {
	_, _ = io.WriteString(c.w, "\r\x1b[K"+escapeControls(text))
}

// endLine ends the line redraw last wrote.
func (c console) endLine() {
	_, _ = io.WriteString(c.w, "\n")
}

// printError is how main reports what run returned.
func printError(stderr io.Writer, err error) {
	console{stderr}.line("vprpoll: " + err.Error())
}
