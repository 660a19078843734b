package engine

import (
	"strings"

	whatwg "github.com/nlnwa/whatwg-url/url"
	v8 "github.com/tommie/v8go"
)

// URL parsing for web/15_url.js: the WHATWG URL standard as the whatwg-url
// module implements it. The JS URL object keeps only its href; each parse or
// setter comes here and answers with every component at once, joined by NUL
// (which no serialised component contains: the parser percent-encodes it or
// fails), in the order of urlFields in 15_url.js.

func init() {
	// urlParse(input[, base]) -> fields, or undefined on failure.
	registerNative("urlParse", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		var u *whatwg.Url
		var err error
		if len(args) > 1 {
			var base *whatwg.Url
			if base, err = whatwg.Parse(strArg(args, 1)); err == nil {
				u, err = base.Parse(strArg(args, 0))
			}
		} else {
			u, err = whatwg.Parse(strArg(args, 0))
		}
		if err != nil {
			return nil, nil
		}
		return v8.NewValue(i.iso, urlFields(u))
	})
	// urlSet(href, setter, value) -> fields after the setter ran.
	registerNative("urlSet", func(i *Isolate, info *v8.FunctionCallbackInfo) (*v8.Value, error) {
		args := info.Args()
		u, err := whatwg.Parse(strArg(args, 0))
		if err != nil {
			return nil, nil
		}
		v := strArg(args, 2)
		switch strArg(args, 1) {
		case "protocol":
			u.SetProtocol(v)
		case "username":
			u.SetUsername(v)
		case "password":
			u.SetPassword(v)
		case "host":
			u.SetHost(v)
		case "hostname":
			u.SetHostname(v)
		case "port":
			u.SetPort(v)
		case "pathname":
			u.SetPathname(v)
		case "search":
			u.SetSearch(v)
		case "hash":
			u.SetHash(v)
		default:
			return nil, nil
		}
		return v8.NewValue(i.iso, urlFields(u))
	})
}

func urlFields(u *whatwg.Url) string {
	return strings.Join([]string{
		u.Href(false), urlOrigin(u), u.Protocol(), u.Username(), u.Password(),
		u.Host(), u.Hostname(), u.Port(), u.Pathname(), u.Search(), u.Hash(),
	}, "\x00")
}

// urlOrigin serialises the URL's origin: a tuple for the special schemes
// with a host, the origin of the inner URL for blob:, else "null".
func urlOrigin(u *whatwg.Url) string {
	switch u.Scheme() {
	case "http", "https", "ws", "wss", "ftp":
		return u.Protocol() + "//" + u.Host()
	case "blob":
		inner, err := whatwg.Parse(u.Pathname())
		if err == nil && (inner.Scheme() == "http" || inner.Scheme() == "https") {
			return urlOrigin(inner)
		}
	}
	return "null"
}
