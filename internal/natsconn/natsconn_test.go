package natsconn

import "testing"

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                        "nats://127.0.0.1:4222",
		"nats://user:secret@a:4222":                    "nats://user:xxxxx@a:4222",
		"nats://user:secret@a:4222, tls://u:p2@b:4222": "nats://user:xxxxx@a:4222,tls://u:xxxxx@b:4222",
		"nats://s3cr3t-token@a:4222":                   "nats://xxxxx@a:4222",
		"nats://us er:se%zzcret@a:4222":                "nats://xxxxx@a:4222",
		"a:4222,b:4222":                                "a:4222,b:4222",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuthValidate(t *testing.T) {
	for _, a := range []Auth{{Creds: "c", NKey: "n"}, {TLSCert: "c"}, {TLSKey: "k"}} {
		if a.Validate() == nil {
			t.Errorf("%+v: no error", a)
		}
	}
	if err := (Auth{Creds: "c", TLSCert: "c", TLSKey: "k", TLSCA: "ca"}).Validate(); err != nil {
		t.Error(err)
	}
}
