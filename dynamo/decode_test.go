package dynamo_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/careervp/vprstatus/dynamo"
)

// sameAsAttributeValue fails t unless DecodeItem reads item as
// attributevalue.UnmarshalMap does: the same record, or an error from both.
func sameAsAttributeValue(t *testing.T, item map[string]types.AttributeValue) {
	t.Helper()
	var want dynamo.Record
	wantErr := attributevalue.UnmarshalMap(item, &want)
	got, err := dynamo.DecodeItem(item)
	switch {
	case (err == nil) != (wantErr == nil):
		t.Fatalf("item %s:\nDecodeItem err = %v\nattributevalue err = %v", show(item), err, wantErr)
	case err == nil && !sameRecord(got, want):
		t.Fatalf("item %s:\nDecodeItem     %+v (token usage %+v)\nattributevalue %+v (token usage %+v)",
			show(item), got, got.TokenUsage, want, want.TokenUsage)
	}
}

// sameRecord is reflect.DeepEqual, but a NaN ttl equals a NaN ttl.
func sameRecord(a, b dynamo.Record) bool {
	if math.Float64bits(a.TTL) != math.Float64bits(b.TTL) {
		return false
	}
	a.TTL, b.TTL = 0, 0
	return reflect.DeepEqual(a, b)
}

func show(item map[string]types.AttributeValue) string {
	s := "{"
	for k, v := range item {
		s += fmt.Sprintf("%q: %s, ", k, showAV(v))
	}
	return s + "}"
}

func showAV(av types.AttributeValue) string {
	if m, ok := av.(*types.AttributeValueMemberM); ok {
		return "M" + show(m.Value)
	}
	return fmt.Sprintf("%T%+v", av, av)
}

func m(kv map[string]types.AttributeValue) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: kv}
}

var null = &types.AttributeValueMemberNULL{Value: true}

// fields are the attributes the store reads, and the names of another case
// that attributevalue also matches to them.
var fields = []string{"user_id", "status", "created_at", "started_at", "completed_at", "result_key", "token_usage", "error", "ttl"}

// valueKinds are values of every type a worker could write, numbers well
// and badly formed among them.
func valueKinds() []types.AttributeValue {
	vs := []types.AttributeValue{
		nil, null, &types.AttributeValueMemberNULL{},
		s(""), s("PENDING"), s("2026-11-29T12:00:00Z"), s("12"), s("ü ✓"),
		&types.AttributeValueMemberB{Value: []byte("x")},
		&types.AttributeValueMemberBOOL{Value: true},
		&types.AttributeValueMemberBS{Value: [][]byte{[]byte("x")}},
		&types.AttributeValueMemberL{Value: []types.AttributeValue{s("x")}},
		&types.AttributeValueMemberL{},
		&types.AttributeValueMemberNS{Value: []string{"1"}},
		&types.AttributeValueMemberSS{Value: []string{"x"}},
		&types.UnknownUnionMember{Tag: "X"},
		m(nil), m(map[string]types.AttributeValue{"input_tokens": n("1")}),
	}
	for _, v := range []string{"", "0", "-0", "1", "+5", "-7", "100.5", "1e3", "1E-2", "abc", " 1", "1 ",
		"0x10", "0x1p3", "1_000", "NaN", "nan", "Inf", "-Infinity", "1e400", "-1e400", "4.9e-325",
		"9007199254740993", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
		"1767326400", "1767326400.25"} {
		vs = append(vs, n(v))
	}
	return vs
}

// usageKinds are token_usage maps, well and badly formed.
func usageKinds() []types.AttributeValue {
	vs := []types.AttributeValue{
		m(nil),
		m(map[string]types.AttributeValue{"input_tokens": n("1200"), "output_tokens": n("3400")}),
		m(map[string]types.AttributeValue{"input_tokens": n("1200")}),
		m(map[string]types.AttributeValue{"Input_Tokens": n("5"), "OUTPUT_TOKENS": n("6")}),
		m(map[string]types.AttributeValue{"input_tokens": n("1"), "cache_tokens": s("x"), "other": m(nil)}),
		m(map[string]types.AttributeValue{"inputtokens": n("1")}),
	}
	for _, v := range valueKinds() {
		vs = append(vs,
			m(map[string]types.AttributeValue{"input_tokens": v}),
			m(map[string]types.AttributeValue{"output_tokens": v, "input_tokens": n("3")}))
	}
	return vs
}

// valid is a complete item; each case below changes one attribute.
func valid() map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"job_id":       s(id),
		"user_id":      s("user-1"),
		"status":       s("COMPLETED"),
		"created_at":   s("2026-01-02T03:04:05Z"),
		"started_at":   s("2026-01-02T03:04:06Z"),
		"completed_at": s("2026-01-02T03:05:00Z"),
		"result_key":   s("results/user-1/job.json"),
		"token_usage":  m(map[string]types.AttributeValue{"input_tokens": n("1200"), "output_tokens": n("3400")}),
		"error":        s(""),
		"ttl":          n("1767326400"),
	}
}

func TestDecodeItemAsAttributeValue(t *testing.T) {
	t.Run("representative", func(t *testing.T) {
		for _, item := range []map[string]types.AttributeValue{
			nil,
			{},
			valid(),
			{"user_id": s("u"), "status": s("PENDING"), "created_at": s(created)},
			{"user_id": s("u"), "status": s("PROCESSING"), "created_at": s(created), "started_at": s(created), "ttl": n("1767326400")},
			{"user_id": s("u"), "status": s("FAILED"), "created_at": s(created), "error": s("model timed out")},
			{"user_id": s("u"), "status": s("FAILED"), "created_at": s(created), "error": null, "token_usage": null, "ttl": null},
			{"user_id": s("u"), "extra": &types.AttributeValueMemberBOOL{}, "inputs": m(map[string]types.AttributeValue{"cv": s("…")})},
			{"USER_ID": s("u"), "Status": s("PENDING"), "TTL": n("5")},               // another case
			{"ſtatus": s("PENDING"), "ttl": n("1")},                                  // Unicode folding: ſ is s
			{"user_id": s("u"), "token_usage": m(map[string]types.AttributeValue{})}, // usage present, empty
			{"user_id": s("u"), "token_usage": m(map[string]types.AttributeValue{"INPUT_TOKENS": n("9")})},
		} {
			sameAsAttributeValue(t, item)
		}
	})
	t.Run("every field with every type", func(t *testing.T) {
		for _, f := range fields {
			kinds := valueKinds()
			if f == "token_usage" {
				kinds = append(kinds, usageKinds()...)
			}
			for _, v := range kinds {
				item := valid()
				item[f] = v
				sameAsAttributeValue(t, item)
				delete(item, f)
				sameAsAttributeValue(t, item)
			}
		}
	})
	t.Run("random items", func(t *testing.T) {
		r := rand.New(rand.NewPCG(14, 2026))
		kinds, usages := valueKinds(), usageKinds()
		for range 20000 {
			item := map[string]types.AttributeValue{}
			for _, f := range fields {
				if r.IntN(3) == 0 {
					continue
				}
				if f == "token_usage" && r.IntN(2) == 0 {
					item[f] = usages[r.IntN(len(usages))]
				} else {
					item[f] = kinds[r.IntN(len(kinds))]
				}
			}
			sameAsAttributeValue(t, item)
		}
	})
}

// FuzzDecodeItem changes one attribute of a valid item (name, type and text
// all fuzzed) and holds DecodeItem to attributevalue on it:
//
//	go test -fuzz FuzzDecodeItem -fuzztime 30s ./dynamo/
func FuzzDecodeItem(f *testing.F) {
	f.Add("ttl", uint8(0), "1767326400.5")
	f.Add("status", uint8(1), "PENDING")
	f.Add("token_usage", uint8(2), "12")
	f.Add("Input_Tokens", uint8(3), "-1")
	f.Fuzz(func(t *testing.T, name string, kind uint8, text string) {
		var v types.AttributeValue
		switch kind % 8 {
		case 0:
			v = n(text)
		case 1:
			v = s(text)
		case 2:
			v = m(map[string]types.AttributeValue{"input_tokens": n(text), "output_tokens": s(text)})
		case 3:
			v = m(map[string]types.AttributeValue{name: n(text)})
		case 4:
			v = null
		case 5:
			v = &types.AttributeValueMemberSS{Value: []string{text}}
		case 6:
			v = &types.AttributeValueMemberB{Value: []byte(text)}
		case 7:
			v = &types.AttributeValueMemberBOOL{Value: text != ""}
		}
		item := valid()
		// A name that folds to another field's makes attributevalue's
		// result depend on map order; replace that field instead.
		for _, f := range fields {
			if f != name && strings.EqualFold(f, name) {
				delete(item, f)
			}
		}
		item[name] = v
		sameAsAttributeValue(t, item)
	})
}
