package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"unicode/utf8"
)

// maxInput bounds what jobcheck reads. A DynamoDB item is at most 400 KB;
// its JSON, base64 and syntax included, stays well below this.
const maxInput = 4 << 20

// maxDepth is DynamoDB's limit on nested attributes.
const maxDepth = 32

// errNoInput: there is nothing to check.
var errNoInput = errors.New("no item in the input: `aws dynamodb get-item` prints nothing when no item has the key")

// readInput reads at most maxInput bytes of r, and fails when there are more.
func readInput(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("the input is over %d MiB: a DynamoDB item is at most 400 KB", maxInput>>20)
	}
	return b, nil
}

// item is one item in DynamoDB JSON: each attribute's value as the input
// spells it, to be handed to the SDK as DynamoDB would send it.
type item struct {
	attrs map[string]json.RawMessage
	names []string // in the input's order
}

// parseItem reads an item in DynamoDB JSON, bare or in the {"Item": …}
// envelope that `aws dynamodb get-item --output json` prints.
//
// The SDK is what turns the JSON into attribute values, as in the service;
// this only makes sure that the input is an item DynamoDB could hold and
// send. The SDK reads some other JSON without a word (an empty value {}, an
// unknown type, a second member, a duplicate name, one more level than
// DynamoDB allows), which would make a verdict on an item that cannot
// exist. The rules are those of the schema's AttributeValue
// (dynamo/job-item.schema.json; the tests hold the two together).
func parseItem(b []byte) (*item, error) {
	if !utf8.Valid(b) {
		return nil, errors.New("the input is not UTF-8")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errNoInput
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fmt.Errorf("the input is not JSON (at byte %d: %v); jobcheck reads `aws dynamodb get-item --output json`", syntax.Offset, err)
		}
		return nil, errors.New("the input is not a JSON object: jobcheck reads one item in DynamoDB JSON")
	}
	if isEnvelope(top) {
		b = top["Item"]
	}
	p := &parser{dec: json.NewDecoder(bytes.NewReader(b))}
	p.dec.UseNumber()
	it := &item{attrs: map[string]json.RawMessage{}}
	err := p.object("", 1, func(name string) error {
		it.names = append(it.names, name)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("not an item in DynamoDB JSON: %w", err)
	}
	if len(it.names) == 0 {
		return nil, errNoInput
	}
	if err := json.Unmarshal(b, &it.attrs); err != nil {
		return nil, err // cannot happen: the parser has read it all
	}
	return it, nil
}

// isEnvelope: top is get-item's answer, {"Item": {…}}, perhaps with the
// ConsumedCapacity that --return-consumed-capacity adds. An item whose only
// attributes were called Item and ConsumedCapacity would read as one; no
// job item is.
func isEnvelope(top map[string]json.RawMessage) bool {
	raw, ok := top["Item"]
	if !ok || len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{' {
		return false
	}
	for k := range top {
		if k != "Item" && k != "ConsumedCapacity" {
			return false
		}
	}
	return true
}

// parser walks DynamoDB JSON token by token.
type parser struct{ dec *json.Decoder }

var (
	numberText = regexp.MustCompile(`^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)
	base64Text = regexp.MustCompile(`^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`)
)

// object reads a map of attribute values at path (the item itself when
// path is ""), calling seen with each name.
func (p *parser) object(path string, depth int, seen func(name string) error) error {
	if err := p.delim('{', path, "an object of attributes"); err != nil {
		return err
	}
	names := map[string]bool{}
	for p.dec.More() {
		name, err := p.key()
		if err != nil {
			return err
		}
		at := join(path, name)
		switch {
		case name == "":
			return fmt.Errorf("%s: an attribute name is empty", orItem(path))
		case names[name]:
			return fmt.Errorf("%s: the name appears twice", at)
		}
		names[name] = true
		if err := p.value(at, depth); err != nil {
			return err
		}
		if seen != nil {
			if err := seen(name); err != nil {
				return err
			}
		}
	}
	_, err := p.dec.Token() // '}'
	if err != nil {
		return err
	}
	if path == "" {
		if _, err := p.dec.Token(); err != io.EOF {
			return errors.New("more JSON follows the item")
		}
	}
	return nil
}

// value reads one attribute value: an object with one member, its type.
func (p *parser) value(path string, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("%s: nested deeper than DynamoDB's %d levels", path, maxDepth)
	}
	if err := p.delim('{', path, `an attribute value such as {"S": "…"}`); err != nil {
		return err
	}
	if !p.dec.More() {
		return fmt.Errorf(`%s: an empty attribute value {}; want one such as {"S": "…"}`, path)
	}
	typ, err := p.key()
	if err != nil {
		return err
	}
	switch typ {
	case "S":
		_, err = p.text(path, typ, nil)
	case "N":
		_, err = p.text(path, typ, numberText)
	case "B":
		_, err = p.text(path, typ, base64Text)
	case "BOOL", "NULL":
		var t json.Token
		if t, err = p.dec.Token(); err == nil {
			b, ok := t.(bool)
			switch {
			case !ok:
				err = fmt.Errorf("%s: %s wants true or false, got %s", path, typ, describe(t))
			case typ == "NULL" && !b:
				err = fmt.Errorf("%s: NULL is always true", path)
			}
		}
	case "M":
		err = p.object(path, depth+1, nil)
	case "L":
		if err = p.delim('[', path, "a list"); err == nil {
			for i := 0; p.dec.More() && err == nil; i++ {
				err = p.value(fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
			if err == nil {
				_, err = p.dec.Token()
			}
		}
	case "SS", "NS", "BS":
		err = p.set(path, typ)
	default:
		return fmt.Errorf("%s: %q is not a DynamoDB type (S, N, B, BOOL, NULL, M, L, SS, NS, BS)", path, typ)
	}
	if err != nil {
		return err
	}
	if p.dec.More() {
		second, _ := p.key()
		return fmt.Errorf("%s: more than one type (%s and %q)", path, typ, second)
	}
	_, err = p.dec.Token() // '}'
	return err
}

// set reads a string, number or binary set: not empty, no duplicates.
func (p *parser) set(path, typ string) error {
	if err := p.delim('[', path, "a set (a list of "+map[string]string{"SS": "strings", "NS": "numbers", "BS": "binaries"}[typ]+")"); err != nil {
		return err
	}
	pattern := map[string]*regexp.Regexp{"NS": numberText, "BS": base64Text}[typ]
	members := map[string]bool{}
	for p.dec.More() {
		m, err := p.text(path, typ, pattern)
		if err != nil {
			return err
		}
		if members[m] {
			return fmt.Errorf("%s: %s holds %q twice", path, typ, m)
		}
		members[m] = true
	}
	if len(members) == 0 {
		return fmt.Errorf("%s: an empty %s (DynamoDB has no empty sets)", path, typ)
	}
	_, err := p.dec.Token() // ']'
	return err
}

// text reads a JSON string, which must match pattern if there is one.
func (p *parser) text(path, typ string, pattern *regexp.Regexp) (string, error) {
	t, err := p.dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := t.(string)
	if !ok {
		return "", fmt.Errorf("%s: %s wants a JSON string, got %s", path, typ, describe(t))
	}
	if pattern != nil && !pattern.MatchString(s) {
		what := map[string]string{"N": "a number", "NS": "a number", "B": "base64", "BS": "base64"}[typ]
		return "", fmt.Errorf("%s: %s %q is not %s", path, typ, s, what)
	}
	return s, nil
}

func (p *parser) key() (string, error) {
	t, err := p.dec.Token()
	if err != nil {
		return "", err
	}
	s, _ := t.(string) // json.Decoder gives object keys as strings
	return s, nil
}

func (p *parser) delim(want json.Delim, path, what string) error {
	t, err := p.dec.Token()
	if err != nil {
		return err
	}
	if t != want {
		return fmt.Errorf("%s: want %s, got %s", orItem(path), what, describe(t))
	}
	return nil
}

// describe names a JSON token for an error.
func describe(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		return map[json.Delim]string{'{': "an object", '[': "a list", '}': "the end of an object", ']': "the end of a list"}[v]
	case string:
		return fmt.Sprintf("the string %q", v)
	case json.Number:
		return "the number " + v.String()
	case bool:
		return fmt.Sprintf("%v", v)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", t)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orItem(path string) string {
	if path == "" {
		return "the item"
	}
	return path
}
