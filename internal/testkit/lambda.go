package testkit

import (
	"bytes"
	"embed"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"text/template"
)

// Event is a real-shaped Lambda event, rendered from events/<Kind>.json.tmpl:
// the one source of the event shapes for cmd/lambda's tests and for the
// emulator's.
type Event struct {
	Kind     string // apigw-v2, apigw-v1, function-url
	Method   string // GET when empty
	Path     string // the resource path, without any stage
	Stage    string // apigw-v2: "" is $default; apigw-v1: "" is prod
	Domain   string // a custom domain; the API's default endpoint when empty
	SourceIP string // 203.0.113.7 when empty
	Headers  map[string]string
	Claims   map[string]string // authorizer claims, if any
}

//go:embed events/*.json.tmpl
var eventFiles embed.FS

var eventTemplates = sync.OnceValues(func() (*template.Template, error) {
	return template.New("").Funcs(template.FuncMap{
		"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
	}).ParseFS(eventFiles, "events/*.json.tmpl")
})

// Render returns the event's JSON.
func (e Event) Render(tb testing.TB) []byte {
	tb.Helper()
	tmpls, err := eventTemplates()
	if err != nil {
		tb.Fatal(err)
	}
	if e.Method == "" {
		e.Method = "GET"
	}
	if e.SourceIP == "" {
		e.SourceIP = "203.0.113.7"
	}
	headers := map[string]string{"host": "api.careervp.test"}
	for k, v := range e.Headers {
		headers[strings.ToLower(k)] = v
	}
	multi := map[string][]string{}
	for k, v := range headers {
		multi[k] = []string{v}
	}
	path, stage := e.Path, e.Stage
	switch e.Kind {
	case "apigw-v2":
		if stage == "" {
			stage = "$default"
		}
		if stage != "$default" && e.Domain == "" {
			path = "/" + stage + e.Path // on the default endpoint, HTTP APIs put named stages in rawPath
		}
	case "apigw-v1":
		if stage == "" {
			stage = "prod"
		}
	}
	data := map[string]any{
		"Method": e.Method, "Path": path, "Stage": stage, "Domain": e.Domain, "SourceIP": e.SourceIP,
		"Headers": headers, "MultiHeaders": multi, "Claims": e.Claims,
		"JobID": e.Path[strings.LastIndex(e.Path, "/")+1:], "StagePath": "/" + stage + e.Path,
	}
	var b bytes.Buffer
	if err := tmpls.ExecuteTemplate(&b, e.Kind+".json.tmpl", data); err != nil {
		tb.Fatal(err)
	}
	if !json.Valid(b.Bytes()) {
		tb.Fatalf("%s event is not JSON:\n%s", e.Kind, b.String())
	}
	return b.Bytes()
}

// ProxyResponse is the answer API Gateway (or the function URL) reads.
type ProxyResponse struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// Header returns the value of header k, whatever its case.
func (p ProxyResponse) Header(k string) string {
	for hk, v := range p.Headers {
		if strings.EqualFold(hk, k) {
			return v
		}
	}
	for hk, v := range p.MultiValueHeaders {
		if strings.EqualFold(hk, k) && len(v) > 0 {
			return strings.Join(v, ",")
		}
	}
	return ""
}
