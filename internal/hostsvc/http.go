package hostsvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/natsfn/natsfn/internal/hostsvc/egress"
)

var httpMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true,
	http.MethodPut: true, http.MethodPatch: true, http.MethodDelete: true,
}

const maxURLLen = 8 << 10

var errTooManyRedirects = errors.New("hostsvc: too many redirects")

// manualRedirects marks a request's context when the function asked for
// opts.redirect "manual": its 3xx answer is returned, not followed.
type manualRedirects struct{}

// newHTTPClient builds the function's own client. Each function gets its own
// Transport, hence its own connection pool: a kept-alive connection opened
// under one function's allow list must never serve another function, which
// a shared pool would allow without any new dial (and so without a check).
func newHTTPClient(cfg HTTPConfig) (*http.Client, error) {
	policy, err := egress.NewPolicy(cfg.Allow, cfg.AllowPrivate)
	if err != nil {
		return nil, fmt.Errorf("hostsvc: %w", err)
	}
	dialer := &egress.Dialer{Policy: policy, Resolver: cfg.Resolver, Connect: cfg.connect}
	transport := &http.Transport{
		// Never a proxy from the environment: the policy would then check
		// the proxy's address instead of the destination's.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
	}
	maxRedirects := cfg.MaxRedirects
	return &http.Client{
		Transport: transport,
		// Redirect targets are dialled through the same Dialer, so they pass
		// the same policy; this only bounds how many are followed.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if maxRedirects < 0 || req.Context().Value(manualRedirects{}) != nil {
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return errTooManyRedirects
			}
			return nil
		},
	}, nil
}

type httpResult struct {
	Status     int                 `json:"status"`
	StatusText string              `json:"status_text,omitempty"` // the reason phrase, e.g. "Not Found"
	Headers    map[string][]string `json:"headers"`               // lower-case names, as fetch shows them
	// URL is the URL of the answer when redirects were followed to it.
	URL string `json:"url,omitempty"`
}

func httpRequest(s *Services, ctx context.Context, a args, body []byte) (any, []byte, error) {
	req, cancel, e := s.newHTTPRequest(ctx, a, body)
	if e != nil {
		return nil, nil, e
	}
	defer cancel()
	host := req.URL.Host
	resp, err := s.http.Do(req)
	if err != nil {
		return nil, nil, httpError(host, err, s.cfg.HTTP.MaxRedirects)
	}
	defer resp.Body.Close()
	max := s.cfg.HTTP.MaxResponseBytes
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, nil, httpError(host, err, s.cfg.HTTP.MaxRedirects)
	}
	if int64(len(data)) > max {
		return nil, nil, newError(CodeTooLarge, nil, "http: response from %s is larger than %d bytes", host, max)
	}
	h := make(map[string][]string, len(resp.Header))
	for k, vs := range resp.Header {
		lk := strings.ToLower(k)
		h[lk] = append(h[lk], vs...)
	}
	res := httpResult{Status: resp.StatusCode, Headers: h}
	res.StatusText = strings.TrimSpace(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)))
	if resp.Request != nil && resp.Request != req {
		res.URL = resp.Request.URL.String()
	}
	return res, data, nil
}

// newHTTPRequest decodes ["METHOD", "url", opts] into a request bound to a
// context with the request's timeout: opts.timeout_ms, bounded by the
// configured timeout (zero or absent means the configured one) and by ctx.
// The caller must call cancel when done with the response.
func (s *Services) newHTTPRequest(ctx context.Context, a args, body []byte) (req *http.Request, cancel context.CancelFunc, _ *Error) {
	fail := func(e *Error) (*http.Request, context.CancelFunc, *Error) {
		return nil, nil, e
	}
	method, e := a.str(0, "method")
	if e != nil {
		return fail(e)
	}
	method = strings.ToUpper(method)
	if !httpMethods[method] {
		return fail(typeError(CodeInvalidArgument, "method must be one of GET, HEAD, POST, PUT, PATCH, DELETE"))
	}
	rawURL, e := a.str(1, "url")
	if e != nil {
		return fail(e)
	}
	u, err := url.Parse(rawURL)
	if len(rawURL) > maxURLLen || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return fail(typeError(CodeInvalidArgument, "url must be an absolute http or https URL of at most %d bytes", maxURLLen))
	}
	opts, e := a.options(2, "opts")
	if e != nil {
		return fail(e)
	}
	h, e := opts.headers("headers")
	if e != nil {
		return fail(e)
	}
	if e := checkHeaders(h, "opts.headers"); e != nil {
		return fail(e)
	}
	timeout, ok, e := opts.millis("timeout_ms")
	if e != nil {
		return fail(e)
	}
	if !ok || timeout == 0 || timeout > s.cfg.HTTP.Timeout {
		timeout = s.cfg.HTTP.Timeout
	}
	redirect := "follow"
	if v, ok := opts.get("redirect"); ok {
		if json.Unmarshal(v, &redirect) != nil || (redirect != "follow" && redirect != "manual") {
			return fail(opts.errorf("redirect", `must be "follow" or "manual"`))
		}
	}

	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	if redirect == "manual" {
		ctx = context.WithValue(ctx, manualRedirects{}, true)
	}
	ctx, cancel = context.WithTimeout(ctx, timeout)
	req, err = http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		cancel()
		return fail(typeError(CodeInvalidArgument, "url is not a valid request target"))
	}
	for k, vs := range h {
		if strings.EqualFold(k, "Host") && len(vs) > 0 {
			req.Host = vs[0]
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "natsfn")
	}
	return req, cancel, nil
}

// httpError says what went wrong without what a host name resolved to: the
// function learns that a destination is refused, not where it points.
func httpError(host string, err error, maxRedirects int) *Error {
	var denied *egress.DeniedError
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &denied):
		return newError(CodeEgressDenied, err, "http: egress to %s is not allowed (loopback, private, link-local and metadata addresses are refused unless allowed)", quoteShort(denied.Host))
	case errors.Is(err, errTooManyRedirects):
		return newError(CodeHTTPError, err, "http: stopped after %d redirects", maxRedirects)
	case errors.Is(err, context.DeadlineExceeded):
		return newError(CodeTimeout, err, "http: request to %s timed out", quoteShort(host))
	case errors.Is(err, context.Canceled):
		return newError(CodeCancelled, err, "http: request to %s was cancelled", quoteShort(host))
	case errors.As(err, &dnsErr):
		return newError(CodeHTTPError, err, "http: cannot resolve %s", quoteShort(dnsErr.Name))
	}
	return newError(CodeHTTPError, err, "http: request to %s failed", quoteShort(host))
}
