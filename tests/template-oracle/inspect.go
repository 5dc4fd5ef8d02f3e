package main

// -inspect: parses certificates with Go's crypto/x509 and reports what the Rust engine's
// certificate generators must get right (the template conformance cases cannot compare
// random certificates byte for byte).
//
// Input (stdin): a JSON array of {cert, parent} PEM texts (parent empty: self-signed).
// Output (stdout): a JSON array of the parsed fields, or {error}.

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

type inspectInput struct {
	Cert   string `json:"cert"`
	Parent string `json:"parent"`
}

type inspectOutput struct {
	Error        string   `json:"error,omitempty"`
	Subject      string   `json:"subject"`
	Issuer       string   `json:"issuer"`
	DNSNames     []string `json:"dns_names"`
	IPs          []string `json:"ips"`
	NotBefore    string   `json:"not_before"`
	NotAfter     string   `json:"not_after"`
	IsCA         bool     `json:"is_ca"`
	BasicValid   bool     `json:"basic_constraints_valid"`
	KeyUsage     int      `json:"key_usage"`
	ExtKeyUsage  []int    `json:"ext_key_usage"`
	SerialBits   int      `json:"serial_bits"`
	SubjectKeyID string   `json:"subject_key_id"`
	AuthKeyID    string   `json:"authority_key_id"`
	SigAlg       string   `json:"signature_algorithm"`
	PublicKeyAlg string   `json:"public_key_algorithm"`
	Verified     bool     `json:"signature_verified"`
	VerifyError  string   `json:"verify_error,omitempty"`
}

func parsePEMCert(text string) (*x509.Certificate, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("no CERTIFICATE block")
	}
	return x509.ParseCertificate(block.Bytes)
}

func inspect(in inspectInput) inspectOutput {
	c, err := parsePEMCert(in.Cert)
	if err != nil {
		return inspectOutput{Error: err.Error()}
	}
	parent := c
	if in.Parent != "" {
		if parent, err = parsePEMCert(in.Parent); err != nil {
			return inspectOutput{Error: "parent: " + err.Error()}
		}
	}
	out := inspectOutput{
		Subject:      c.Subject.String(),
		Issuer:       c.Issuer.String(),
		DNSNames:     append([]string{}, c.DNSNames...),
		IPs:          []string{},
		NotBefore:    c.NotBefore.UTC().Format(time.RFC3339),
		NotAfter:     c.NotAfter.UTC().Format(time.RFC3339),
		IsCA:         c.IsCA,
		BasicValid:   c.BasicConstraintsValid,
		KeyUsage:     int(c.KeyUsage),
		ExtKeyUsage:  []int{},
		SerialBits:   c.SerialNumber.BitLen(),
		SubjectKeyID: hex.EncodeToString(c.SubjectKeyId),
		AuthKeyID:    hex.EncodeToString(c.AuthorityKeyId),
		SigAlg:       c.SignatureAlgorithm.String(),
		PublicKeyAlg: c.PublicKeyAlgorithm.String(),
	}
	for _, ip := range c.IPAddresses {
		out.IPs = append(out.IPs, ip.String())
	}
	for _, u := range c.ExtKeyUsage {
		out.ExtKeyUsage = append(out.ExtKeyUsage, int(u))
	}
	// The signature under the parent's public key (the certificate's own when self-signed).
	if err := parent.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		out.VerifyError = err.Error()
	} else {
		out.Verified = true
	}
	return out
}

func runInspect() {
	var inputs []inspectInput
	if err := json.NewDecoder(os.Stdin).Decode(&inputs); err != nil {
		fmt.Fprintln(os.Stderr, "decode inspect input:", err)
		os.Exit(2)
	}
	outs := make([]inspectOutput, 0, len(inputs))
	for _, in := range inputs {
		outs = append(outs, inspect(in))
	}
	if err := json.NewEncoder(os.Stdout).Encode(outs); err != nil {
		fmt.Fprintln(os.Stderr, "encode inspect output:", err)
		os.Exit(2)
	}
}
