package hostsvc

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc/egress"
)

// Defaults applied to zero fields of Config.
const (
	DefaultKVMaxValueSize   = 1 << 20
	DefaultKVMaxBucketBytes = 64 << 20
	DefaultObjMaxBytes      = 256 << 20
	DefaultObjMaxObjectSize = 32 << 20
	DefaultMsgTimeout       = 5 * time.Second
	DefaultMsgStall         = 250 * time.Millisecond
	DefaultMsgMaxReplies    = 1000
	DefaultMsgMaxReplyBytes = 16 << 20
	DefaultMsgMaxRate       = 1000
	DefaultMsgMaxBurst      = 1000
	DefaultHTTPTimeout      = 30 * time.Second
	DefaultHTTPMaxResponse  = 10 << 20
	DefaultHTTPMaxRedirects = 5
)

// Config holds the per-service switches and limits. Zero fields take the
// defaults above; a service is on unless Disabled. Config is a plain struct
// so a node can fill it from flags or a file; call Validate before use (New
// does).
type Config struct {
	KV        KVConfig
	Objects   ObjectsConfig
	Messaging MessagingConfig
	HTTP      HTTPConfig
	// Replicas the function's bucket and store are made with, and raised
	// to, never lowered; zero means 1. The node sets the NATS system's
	// setting here.
	Replicas int
}

// KVConfig limits the function's KV bucket (history is always 1).
type KVConfig struct {
	Disabled       bool
	MaxValueSize   int32 // largest value; default 1 MiB, and never more than the server's max_payload
	MaxBucketBytes int64 // size of the whole bucket; default 64 MiB
}

// ObjectsConfig limits the function's object store.
type ObjectsConfig struct {
	Disabled      bool
	MaxBytes      int64 // size of the whole store; default 256 MiB
	MaxObjectSize int64 // largest single object; default 32 MiB
}

// MessagingConfig limits publish, request and requestMany.
type MessagingConfig struct {
	Disabled bool
	// Timeout is the default and the upper bound of a request's timeout;
	// the invocation's deadline bounds it too. Default 5s.
	Timeout time.Duration
	// Stall is requestMany's default quiet gap: gathering ends when no
	// reply came for this long after the first. Default 250ms.
	Stall time.Duration
	// MaxReplies caps requestMany's replies (a larger opts.max is lowered to
	// it). Default 1000.
	MaxReplies int
	// MaxReplyBytes caps the total payload requestMany gathers. Default 16 MiB.
	MaxReplyBytes int
	// MaxRate is how many messages per second (publish, request and
	// requestMany each count one) a function may send from one node, and
	// MaxBurst how many at once; past them a call throws RATE_LIMITED.
	// Defaults 1000 and 1000.
	MaxRate  float64
	MaxBurst int
	// AllowedSubjects, when not empty, are the subject patterns (NATS
	// wildcards allowed, e.g. "acme.>") the namespace may publish and
	// request on. Reserved subjects stay refused whatever is listed.
	AllowedSubjects []string
}

// HTTPConfig limits the HTTP client and sets its egress policy.
type HTTPConfig struct {
	Disabled bool
	// Timeout is the default and the upper bound of a request's timeout;
	// the invocation's deadline bounds it too. Default 30s.
	Timeout time.Duration
	// MaxResponseBytes caps a response body. Default 10 MiB.
	MaxResponseBytes int64
	// MaxRedirects caps redirects followed; zero means 5, negative means
	// none are followed and the 3xx response is returned as is.
	MaxRedirects int
	// Allow lists host names and networks (CIDR or single address) that may
	// be reached although the default policy refuses them: the node-wide
	// entries followed by the function's api.FunctionSpec.HTTPAllow.
	Allow []string
	// AllowPrivate lifts the address policy entirely. For natsfn dev and
	// tests only: functions then reach loopback, private and metadata
	// addresses.
	AllowPrivate bool
	// Resolver looks up host names; nil means net.DefaultResolver.
	Resolver *net.Resolver
	// connect replaces the final dial in tests that must stay off the
	// network; the policy still runs before it.
	connect func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Validate reports the first invalid field. Zero fields are valid (they
// mean the default).
func (c *Config) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("hostsvc: "+format, args...))
		}
	}
	check(c.KV.MaxValueSize >= 0, "KV.MaxValueSize must not be negative")
	check(c.KV.MaxBucketBytes >= 0, "KV.MaxBucketBytes must not be negative")
	check(c.Objects.MaxBytes >= 0, "Objects.MaxBytes must not be negative")
	check(c.Objects.MaxObjectSize >= 0, "Objects.MaxObjectSize must not be negative")
	check(c.Messaging.Timeout >= 0, "Messaging.Timeout must not be negative")
	check(c.Messaging.Stall >= 0, "Messaging.Stall must not be negative")
	check(c.Messaging.MaxReplies >= 0, "Messaging.MaxReplies must not be negative")
	check(c.Messaging.MaxReplyBytes >= 0, "Messaging.MaxReplyBytes must not be negative")
	check(c.Messaging.MaxRate >= 0 && !math.IsInf(c.Messaging.MaxRate, 1), "Messaging.MaxRate must be a number of messages per second, not negative")
	check(c.Messaging.MaxBurst >= 0, "Messaging.MaxBurst must not be negative")
	for _, p := range c.Messaging.AllowedSubjects {
		if err := api.ValidateSubject(p, true); err != nil {
			errs = append(errs, fmt.Errorf("hostsvc: Messaging.AllowedSubjects: %w", err))
		}
	}
	check(c.HTTP.Timeout >= 0, "HTTP.Timeout must not be negative")
	check(c.HTTP.MaxResponseBytes >= 0, "HTTP.MaxResponseBytes must not be negative")
	for _, e := range c.HTTP.Allow {
		if err := egress.ValidateEntry(e); err != nil {
			errs = append(errs, fmt.Errorf("hostsvc: HTTP.Allow: %w", err))
		}
	}
	check(c.Replicas >= 0 && c.Replicas <= 5, "Replicas must be between 1 and 5")
	return errors.Join(errs...)
}

// withDefaults returns c with every zero limit replaced by its default.
func (c Config) withDefaults() Config {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	if c.KV.MaxValueSize == 0 {
		c.KV.MaxValueSize = DefaultKVMaxValueSize
	}
	def(&c.KV.MaxBucketBytes, DefaultKVMaxBucketBytes)
	def(&c.Objects.MaxBytes, DefaultObjMaxBytes)
	def(&c.Objects.MaxObjectSize, DefaultObjMaxObjectSize)
	def(&c.HTTP.MaxResponseBytes, DefaultHTTPMaxResponse)
	if c.Messaging.Timeout == 0 {
		c.Messaging.Timeout = DefaultMsgTimeout
	}
	if c.Messaging.Stall == 0 {
		c.Messaging.Stall = DefaultMsgStall
	}
	if c.Messaging.MaxReplies == 0 {
		c.Messaging.MaxReplies = DefaultMsgMaxReplies
	}
	if c.Messaging.MaxReplyBytes == 0 {
		c.Messaging.MaxReplyBytes = DefaultMsgMaxReplyBytes
	}
	if c.Messaging.MaxRate == 0 {
		c.Messaging.MaxRate = DefaultMsgMaxRate
	}
	if c.Messaging.MaxBurst == 0 {
		c.Messaging.MaxBurst = DefaultMsgMaxBurst
	}
	if c.HTTP.Timeout == 0 {
		c.HTTP.Timeout = DefaultHTTPTimeout
	}
	if c.HTTP.MaxRedirects == 0 {
		c.HTTP.MaxRedirects = DefaultHTTPMaxRedirects
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	return c
}
