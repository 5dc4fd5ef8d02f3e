package main

// ESO's own template functions (runtime/template/v2 of external-secrets), restated on
// the same libraries ESO uses (go-pkcs12 v0.7, jwx v2), with PKCS#12 encoding drawing
// its salts and IVs from the case's seeded stream so outputs are reproducible.

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"
	"text/template"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"golang.org/x/crypto/bcrypt"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

type rngReader struct{ r *rng }

func (x rngReader) Read(p []byte) (int, error) {
	copy(p, x.r.bytes(len(p)))
	return len(p), nil
}

func encodePEM(kind string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}))
}

func esoParseKey(b []byte) (any, error) {
	if k, err := x509.ParsePKCS1PrivateKey(b); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(b); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b); err == nil {
		return k, nil
	}
	return nil, errors.New("unable to parse private key type")
}

type chainNode struct {
	cert     *x509.Certificate
	parent   *chainNode
	isParent bool
}

func orderChain(data []byte) ([]*x509.Certificate, error) {
	var nodes []*chainNode
	for {
		block, rest := pem.Decode(data)
		data = rest
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, &chainNode{cert: c})
	}
	for i := range nodes {
		for j := range nodes {
			if i != j && bytes.Equal(nodes[i].cert.AuthorityKeyId, nodes[j].cert.SubjectKeyId) {
				nodes[j].isParent = true
				nodes[i].parent = nodes[j]
				break
			}
		}
	}
	var leaf *chainNode
	for _, n := range nodes {
		if !n.isParent {
			if leaf != nil {
				return nil, errors.New("found multiple leaf or disjunct certificates")
			}
			leaf = n
		}
	}
	if leaf == nil {
		return nil, errors.New("no leaf certificate found")
	}
	var out []*x509.Certificate
	for n := leaf; n != nil; n = n.parent {
		if len(out) >= len(nodes) {
			return nil, errors.New("constructing chain resulted in cycle")
		}
		out = append(out, n.cert)
	}
	return out, nil
}

func parseCAs(rest []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		c, err := x509.ParseCertificate(block.Bytes) // nil block panics, as in ESO
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func isRoot(c *x509.Certificate) bool {
	return c.AuthorityKeyId == nil || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

func trimJunk(s string) string {
	if i := strings.Index(s, "-----BEGIN"); i >= 0 {
		return s[i:]
	}
	return s
}

func esoFuncs(m template.FuncMap, r *rng) {
	// ESO vendors a newer sprig whose htpasswd takes the hash algorithm ("sha" or bcrypt).
	m["htpasswd"] = func(user, password, algo string) string {
		if strings.Contains(user, ":") {
			return fmt.Sprintf("invalid username: %s", user)
		}
		if algo == "sha" {
			sum := sha1.Sum([]byte(password))
			return fmt.Sprintf("%s:{SHA}%s", user, base64.StdEncoding.EncodeToString(sum[:]))
		}
		h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
		if err != nil {
			return fmt.Sprintf("%s:failed to encrypt string with bcrypt: %s", user, err)
		}
		return fmt.Sprintf("%s:%s", user, h)
	}
	// ESO's vendored sprig (runtime/template/v2/sprig) adds hexdec, which reports a bad
	// input as the returned text, like b32dec.
	m["hexdec"] = func(v string) string {
		data, err := hex.DecodeString(v)
		if err != nil {
			return err.Error()
		}
		return string(data)
	}
	enc := gopkcs12.Modern.WithRand(rngReader{r})
	keyPass := func(pass, input string) (string, error) {
		k, _, _, err := gopkcs12.DecodeChain([]byte(input), pass)
		if err != nil {
			return "", fmt.Errorf("unable to decode pkcs12 with password: %s", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return "", err
		}
		return encodePEM("PRIVATE KEY", der), nil
	}
	certPass := func(pass, input string) (string, error) {
		_, leaf, cas, err := gopkcs12.DecodeChain([]byte(input), pass)
		if err != nil {
			return "", fmt.Errorf("unable to decode pkcs12 certificate with password: %s", err)
		}
		all := encodePEM("CERTIFICATE", leaf.Raw)
		for _, c := range cas {
			all += encodePEM("CERTIFICATE", c.Raw)
		}
		ordered, err := orderChain([]byte(all))
		if err != nil {
			return all, nil
		}
		out := ""
		for _, c := range ordered {
			out += encodePEM("CERTIFICATE", c.Raw)
		}
		return out, nil
	}
	toP12 := func(cert *x509.Certificate, key string, cas []*x509.Certificate, pass string) (string, error) {
		block, _ := pem.Decode([]byte(key))
		k, err := esoParseKey(block.Bytes)
		if err != nil {
			return "", err
		}
		pfx, err := enc.Encode(k, cert, cas, pass)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(pfx), nil
	}
	pemPass := func(cert, key, pass string) (string, error) {
		block, _ := pem.Decode([]byte(cert))
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", err
		}
		return toP12(c, key, nil, pass)
	}
	fullPass := func(cert, key, pass string) (string, error) {
		block, rest := pem.Decode([]byte(cert))
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", err
		}
		cas, err := parseCAs(rest)
		if err != nil {
			return "", err
		}
		return toP12(c, key, cas, pass)
	}
	trustPass := func(certs, pass string) (string, error) {
		cas, err := parseCAs([]byte(certs))
		if err != nil {
			return "", err
		}
		pfx, err := enc.EncodeTrustStore(cas, pass)
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(pfx), nil
	}
	m["pkcs12key"] = func(in string) (string, error) { return keyPass("", in) }
	m["pkcs12keyPass"] = keyPass
	m["pkcs12cert"] = func(in string) (string, error) { return certPass("", in) }
	m["pkcs12certPass"] = certPass
	m["pemToPkcs12"] = func(c, k string) (string, error) { return pemPass(c, k, "") }
	m["pemToPkcs12Pass"] = pemPass
	m["fullPemToPkcs12"] = func(c, k string) (string, error) { return fullPass(c, k, "") }
	m["fullPemToPkcs12Pass"] = fullPass
	m["pemTruststoreToPKCS12"] = func(c string) (string, error) { return trustPass(c, "") }
	m["pemTruststoreToPKCS12Pass"] = trustPass
	m["filterPEM"] = func(kind, input string) (string, error) {
		data := []byte(trimJunk(input))
		var out []byte
		var block *pem.Block
		var rest []byte
		for {
			block, rest = pem.Decode(data)
			data = rest
			if block == nil {
				break
			}
			if strings.EqualFold(block.Type, kind) {
				out = append(out, pem.EncodeToMemory(block)...)
			}
		}
		if len(out) == 0 && len(rest) != 0 {
			return "", errors.New("error filtering pem: found junk")
		}
		return string(out), nil
	}
	m["filterCertChain"] = func(kind, input string) (string, error) {
		ordered, err := orderChain([]byte(input))
		if err != nil {
			return "", err
		}
		switch kind {
		case "leaf":
			c := ordered[0]
			if c.AuthorityKeyId != nil && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
				return encodePEM("CERTIFICATE", c.Raw), nil
			}
		case "intermediate":
			out := ""
			for _, c := range ordered[1:] {
				if isRoot(c) {
					break
				}
				out += encodePEM("CERTIFICATE", c.Raw)
			}
			return out, nil
		case "root":
			if c := ordered[len(ordered)-1]; isRoot(c) {
				return encodePEM("CERTIFICATE", c.Raw), nil
			}
		}
		return "", nil
	}
	m["certSANs"] = func(input string) ([]string, error) {
		block, _ := pem.Decode([]byte(trimJunk(input)))
		if block == nil {
			return nil, fmt.Errorf("failed to decode PEM block")
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("failed to parse certificate: %w", err)
		}
		out := append([]string{}, c.DNSNames...)
		for _, ip := range c.IPAddresses {
			out = append(out, ip.String())
		}
		out = append(out, c.EmailAddresses...)
		for _, u := range c.URIs {
			out = append(out, u.String())
		}
		return out, nil
	}
	m["jwkPublicKeyPem"] = func(s string) (string, error) {
		k, err := jwk.ParseKey([]byte(s))
		if err != nil {
			return "", err
		}
		var raw any
		if err := k.Raw(&raw); err != nil {
			return "", err
		}
		der, err := x509.MarshalPKIXPublicKey(raw)
		if err != nil {
			return "", err
		}
		return encodePEM("PUBLIC KEY", der), nil
	}
	m["jwkPrivateKeyPem"] = func(s string) (string, error) {
		k, err := jwk.ParseKey([]byte(s))
		if err != nil {
			return "", err
		}
		var raw any
		if err := k.Raw(&raw); err != nil {
			return "", err
		}
		der, err := x509.MarshalPKCS8PrivateKey(raw)
		if err != nil {
			return "", err
		}
		return encodePEM("PRIVATE KEY", der), nil
	}
	m["rsaDecrypt"] = func(scheme, hashName, in, key string) (string, error) {
		switch scheme {
		case "None":
			return in, nil
		case "RSA-OAEP":
		default:
			return "", fmt.Errorf("decryption scheme %v is not supported", scheme)
		}
		block, _ := pem.Decode([]byte(key))
		if block == nil {
			return "", fmt.Errorf("failed to decode PEM block")
		}
		k, err := esoParseKey(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("could not parse private key: %v", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return "", fmt.Errorf("could not parse RSA private key")
		}
		var h hash.Hash
		switch hashName {
		case "SHA1":
			h = sha1.New()
		case "SHA512":
			h = sha512.New()
		default:
			h = sha256.New()
		}
		out, err := rsa.DecryptOAEP(h, nil, rk, []byte(in), nil)
		if err != nil {
			return "", fmt.Errorf("error decrypting data with RSA: %v", err)
		}
		return string(out), nil
	}
}
