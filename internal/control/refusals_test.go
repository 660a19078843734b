package control

import "testing"

func TestTouches(t *testing.T) {
	for subject, want := range map[string]bool{
		"$JS.API.STREAM.DELETE.KV_fn_7_default_hello":                          true,
		"$JS.API.STREAM.DELETE.OBJ_fn_7_default_hello":                         true,
		"$JS.API.STREAM.DELETE.KV_fn_5_other_hello":                            false, // another namespace's data
		"$JS.API.DIRECT.GET.OBJ_natsfn_uploads.$O.natsfn_uploads.M.abc":        true,
		"$JS.API.CONSUMER.CREATE.KV_natsfn_functions.x.$KV.natsfn_functions.>": true,
		"$KV.natsfn_functions.default.hello":                                   true,
		"$KV.fn_7_default_hello.k":                                             true,
		"$KV.fn_5_other_hello.k":                                               false,
		"$O.natsfn_bundles.M.abc":                                              true,
		"$JS.API.STREAM.INFO.KV_someone_else":                                  false,
		"orders.new":                                                           false,
	} {
		if got := touches(subject, "default"); got != want {
			t.Errorf("touches(%q, default) = %v, want %v", subject, got, want)
		}
	}
	if touches("$JS.API.STREAM.DELETE.KV_fn_7_default_hello", "") {
		t.Error("a request of no namespace touches a function's data")
	}
	if !touches("$JS.API.STREAM.INFO.KV_natsfn_namespaces", "") {
		t.Error("a request of no namespace does not touch natsfn's state")
	}
}
