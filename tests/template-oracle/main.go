// Command template-oracle renders Go text/template + sprig v3 cases the way
// External Secrets Operator does (missingkey=error, sprig's TxtFuncMap minus
// env/expandenv/getHostByName, plus ESO's toYaml/fromYaml). It is the reference
// side of Ampoule's differential template conformance suite.
//
// Input (stdin): a JSON array of cases {name, template, data, now, seed, left, right}.
// Output (stdout): a JSON array of results {output} or {error}, in order.
// With -bench N it renders the first case N times and prints p50/p99; with -inspect it
// parses certificates instead (inspect.go).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"text/template"
	"time"
)

type testCase struct {
	Name     string          `json:"name"`
	Template string          `json:"template"`
	Data     json.RawMessage `json:"data"`
	Now      string          `json:"now"`
	Seed     string          `json:"seed"`
	Left     string          `json:"left"`
	Right    string          `json:"right"`
	// StringData decodes data as map[string]string, the shape ESO passes to templates.
	StringData bool `json:"string_data"`
}

type result struct {
	Output *string `json:"output,omitempty"`
	Error  *string `json:"error,omitempty"`
}

func main() {
	bench := flag.Int("bench", 0, "render the first case N times and print p50/p99")
	inspectCerts := flag.Bool("inspect", false, "parse certificates with crypto/x509 (see inspect.go)")
	flag.Parse()
	if *inspectCerts {
		runInspect()
		return
	}
	// ESO runs in UTC containers; the Rust engine has no time zone database.
	time.Local = time.UTC

	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		fmt.Fprintln(os.Stderr, "decode cases:", err)
		os.Exit(2)
	}
	if *bench > 0 {
		if len(cases) == 0 {
			fmt.Fprintln(os.Stderr, "bench needs one case")
			os.Exit(2)
		}
		runBench(cases[0], *bench)
		return
	}
	results := make([]result, 0, len(cases))
	for _, c := range cases {
		results = append(results, render(c))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "encode results:", err)
		os.Exit(2)
	}
}

func render(c testCase) (res result) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprintf("panic: %v", r)
			res = result{Error: &msg}
		}
	}()
	out, err := renderCase(c)
	if err != nil {
		msg := err.Error()
		return result{Error: &msg}
	}
	return result{Output: &out}
}

func renderCase(c testCase) (string, error) {
	var data any
	if len(c.Data) > 0 {
		if c.StringData {
			m := map[string]string{}
			if err := json.Unmarshal(c.Data, &m); err != nil {
				return "", fmt.Errorf("oracle: bad data: %w", err)
			}
			data = m
		} else if err := json.Unmarshal(c.Data, &data); err != nil {
			return "", fmt.Errorf("oracle: bad data: %w", err)
		}
	}
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if c.Now != "" {
		t, err := time.Parse(time.RFC3339Nano, c.Now)
		if err != nil {
			return "", fmt.Errorf("oracle: bad now: %w", err)
		}
		now = t.UTC()
	}
	left, right := c.Left, c.Right
	if left == "" {
		left = "{{"
	}
	if right == "" {
		right = "}}"
	}
	name := c.Name
	if name == "" {
		name = "t"
	}
	t, err := template.New(name).
		Option("missingkey=error").
		Funcs(funcMap(now, newRng(c.Seed))).
		Delims(left, right).
		Parse(c.Template)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return "", err
	}
	return buf.String(), nil
}

func runBench(c testCase, n int) {
	samples := make([]time.Duration, 0, n)
	for i := 0; i < n; i++ {
		start := time.Now()
		if _, err := renderCase(c); err != nil {
			fmt.Fprintln(os.Stderr, "render:", err)
			os.Exit(1)
		}
		samples = append(samples, time.Since(start))
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	p := func(q float64) time.Duration { return samples[int(q*float64(len(samples)-1))] }
	fmt.Printf("go oracle: n=%d p50=%.2fus p99=%.2fus\n", n,
		float64(p(0.50).Nanoseconds())/1e3, float64(p(0.99).Nanoseconds())/1e3)
}
