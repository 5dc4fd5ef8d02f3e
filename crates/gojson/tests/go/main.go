// Regenerates ../go_vectors.jsonl: cd crates/gojson/tests/go && go run main.go > ../go_vectors.jsonl
// (Go 1.22 or later; stdlib only). Each line: [input JSON, json.Marshal, an Encoder with
// SetEscapeHTML(false) (no trailing newline), ESO's GetByteValue].
// Writes Go's encoding/json and strconv output for the inputs ampoule-gojson must match.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strconv"
)

func byteValue(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	docs := []string{
		`{"b":1,"a":"<x&y>","c":[1.5,true,null],"d":{"z":1e21,"y":1e-7}}`,
		`"a\u0008b\u000cc\n\r\t\u0001\u001f\u007f\"\\/ \u2028\u2029é😀"`,
		`{"é":1,"e":2,"E":3,"":4,"z\u0000":5,"<":6}`,
		`[0,-0,0.000001,0.0000009999999999999999,999999999999999999999,1e21,1e20,123456789012345678,9007199254740993,18446744073709551615,-9223372036854775808]`,
		`[5e-324,1.7976931348623157e308,2.2250738585072014e-308,0.1,0.30000000000000004,100,1e100,1.5e-10,123e-20,4.35,0.3,2.675]`,
		`3.141592653589793`, `1e-7`, `1e21`, `true`, `null`, `"plain"`, `-0.0`, `12345678.9`,
		`{"k":{"n":[{"x":"<"}],"m":{}},"l":[]}`,
	}
	rng := rand.New(rand.NewSource(18))
	for i := 0; i < 200; i++ {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		docs = append(docs, strconv.FormatFloat(f, 'g', -1, 64))
	}
	for i := 0; i < 300; i++ {
		f := rng.NormFloat64() * math.Pow(10, float64(rng.Intn(50)-25))
		docs = append(docs, strconv.FormatFloat(f, 'g', rng.Intn(17)+1, 64))
	}
	for _, d := range docs {
		var v any
		if err := json.Unmarshal([]byte(d), &v); err != nil {
			fmt.Fprintln(os.Stderr, d, err)
			os.Exit(1)
		}
		html, _ := json.Marshal(v)
		var raw bytes.Buffer
		enc := json.NewEncoder(&raw)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		line, _ := json.Marshal([]string{d, string(html), string(bytes.TrimSuffix(raw.Bytes(), []byte("\n"))), byteValue(v)})
		out.Write(line)
		out.WriteString("\n")
	}
}
