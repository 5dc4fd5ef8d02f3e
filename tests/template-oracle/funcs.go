package main

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/Masterminds/sprig/v3"
	"golang.org/x/crypto/chacha20"
	"sigs.k8s.io/yaml"
)

// rng is the deterministic entropy source shared with the Rust engine: the
// ChaCha20 keystream (RFC 8439, zero nonce, counter 0) under a 32-byte seed.
type rng struct{ c *chacha20.Cipher }

func newRng(seedHex string) *rng {
	key := make([]byte, 32)
	if b, err := hex.DecodeString(seedHex); err == nil {
		copy(key, b)
	}
	c, err := chacha20.NewUnauthenticatedCipher(key, make([]byte, 12))
	if err != nil {
		panic(err)
	}
	return &rng{c: c}
}

func (r *rng) bytes(n int) []byte {
	buf := make([]byte, n)
	r.c.XORKeyStream(buf, buf)
	return buf
}

func (r *rng) u64() uint64 { return binary.LittleEndian.Uint64(r.bytes(8)) }

// below returns a uniform value in [0, n) by rejection sampling.
func (r *rng) below(n uint64) uint64 {
	threshold := -n % n
	for {
		v := r.u64()
		if v >= threshold {
			return v % n
		}
	}
}

func (r *rng) pick(alphabet string, count int) string {
	var b strings.Builder
	for i := 0; i < count; i++ {
		b.WriteByte(alphabet[r.below(uint64(len(alphabet)))])
	}
	return b.String()
}

const (
	upperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerLetters = "abcdefghijklmnopqrstuvwxyz"
	digits       = "0123456789"
)

func asciiAlphabet() string {
	var b strings.Builder
	for c := byte(32); c <= 126; c++ {
		b.WriteByte(c)
	}
	return b.String()
}

// funcMap is ESO's function map with the clock and entropy taken from the case.
func funcMap(now time.Time, r *rng) template.FuncMap {
	m := sprig.TxtFuncMap()
	delete(m, "env")
	delete(m, "expandenv")
	delete(m, "getHostByName")

	m["toYaml"] = func(v any) string {
		data, err := yaml.Marshal(v)
		if err != nil {
			return ""
		}
		return strings.TrimSuffix(string(data), "\n")
	}
	m["fromYaml"] = func(s string) map[string]any {
		out := map[string]any{}
		if err := yaml.Unmarshal([]byte(s), &out); err != nil {
			out["Error"] = err.Error()
		}
		return out
	}

	// Clock: every function that would read time.Now reads the case's `now`.
	orig := sprig.TxtFuncMap()
	dateInZone := orig["dateInZone"].(func(string, any, string) string)
	fixDate := func(d any) any {
		switch d.(type) {
		case time.Time, *time.Time, int64, int, int32:
			return d
		}
		return now
	}
	m["now"] = func() time.Time { return now }
	m["date"] = func(f string, d any) string { return dateInZone(f, fixDate(d), "Local") }
	zoned := func(f string, d any, zone string) string { return dateInZone(f, fixDate(d), zone) }
	m["dateInZone"], m["date_in_zone"] = zoned, zoned
	m["htmlDate"] = func(d any) string { return dateInZone("2006-01-02", fixDate(d), "Local") }
	m["htmlDateInZone"] = func(d any, zone string) string { return dateInZone("2006-01-02", fixDate(d), zone) }
	m["ago"] = func(d any) string {
		t := now
		switch d := d.(type) {
		case time.Time:
			t = d
		case int64:
			t = time.Unix(d, 0)
		case int:
			t = time.Unix(int64(d), 0)
		}
		return now.Sub(t).Round(time.Second).String()
	}
	durationRound := orig["durationRound"].(func(any) string)
	m["durationRound"] = func(d any) string {
		if t, ok := d.(time.Time); ok {
			return durationRound(int64(now.Sub(t)))
		}
		return durationRound(d)
	}

	// Entropy: every random function draws from the seeded stream.
	m["randAlphaNum"] = func(n int) string { return r.pick(upperLetters+lowerLetters+digits, n) }
	m["randAlpha"] = func(n int) string { return r.pick(upperLetters+lowerLetters, n) }
	m["randNumeric"] = func(n int) string { return r.pick(digits, n) }
	m["randAscii"] = func(n int) string { return r.pick(asciiAlphabet(), n) }
	m["randBytes"] = func(n int) (string, error) {
		if n < 0 {
			return "", fmt.Errorf("negative count")
		}
		return base64.StdEncoding.EncodeToString(r.bytes(n)), nil
	}
	m["randInt"] = func(min, max int) int {
		if max-min <= 0 {
			panic("invalid argument to Intn")
		}
		return int(r.below(uint64(max-min))) + min
	}
	m["uuidv4"] = func() string {
		b := r.bytes(16)
		b[6] = (b[6] & 0x0f) | 0x40
		b[8] = (b[8] & 0x3f) | 0x80
		h := hex.EncodeToString(b)
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	}
	m["shuffle"] = func(s string) string {
		rs := []rune(s)
		for i := len(rs) - 1; i > 0; i-- {
			j := int(r.below(uint64(i + 1)))
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs)
	}
	esoFuncs(m, r)
	return m
}
