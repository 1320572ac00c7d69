package tunnel

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestKeys(t *testing.T) {
	k, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k[0]&7 != 0 || k[31]&128 != 0 || k[31]&64 == 0 {
		t.Fatalf("private key not clamped: %x", k)
	}
	k2, err := GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	if k == k2 {
		t.Fatal("two generated keys are equal")
	}
	pub := k.PublicKey()
	for _, s := range []string{pub.String(), pub.Hex()} {
		p, err := ParsePublicKey(s)
		if err != nil || p != pub {
			t.Fatalf("ParsePublicKey(%q) = %v, %v", s, p, err)
		}
	}
	for _, s := range []string{k.Base64(), k.Hex()} {
		p, err := ParsePrivateKey(s)
		if err != nil || p != k {
			t.Fatalf("ParsePrivateKey round trip failed: %v", err)
		}
	}
	b, err := json.Marshal(struct{ K PublicKey }{pub})
	if err != nil {
		t.Fatal(err)
	}
	var back struct{ K PublicKey }
	if err := json.Unmarshal(b, &back); err != nil || back.K != pub {
		t.Fatalf("JSON round trip: %s, %v", b, err)
	}
}

// TestPublicKeyVector checks key derivation against the RFC 7748 §6.1
// test vector (Alice's key pair).
func TestPublicKeyVector(t *testing.T) {
	priv, err := ParsePrivateKey("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := priv.PublicKey().Hex(), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"; got != want {
		t.Fatalf("public key %s, want %s", got, want)
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, s := range []string{
		"",
		"abcd",
		strings.Repeat("0", 64),       // all-zero
		strings.Repeat("z", 64),       // not hex
		strings.Repeat("A", 43) + "=", // all-zero base64
		strings.Repeat("!", 44),       // not base64
		strings.Repeat("ab", 33),      // 33 bytes
	} {
		if _, err := ParsePublicKey(s); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParsePublicKey(%q) err = %v, want ErrInvalidKey", s, err)
		}
	}
}
