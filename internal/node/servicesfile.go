package node

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/natsfn/natsfn/api"
	"github.com/natsfn/natsfn/internal/hostsvc"
	"github.com/natsfn/natsfn/internal/hostsvc/egress"
)

// ServicesFile is the JSON an operator writes to configure every
// function's host services on a node (`natsfn up --services FILE`). Zero or
// absent fields keep the defaults (docs/host-services.md).
type ServicesFile struct {
	// Disable turns services off for every function of the node.
	Disable []string `json:"disable"`
	KV      struct {
		MaxValueSize   int32 `json:"max_value_size"`
		MaxBucketBytes int64 `json:"max_bucket_bytes"`
	} `json:"kv"`
	ObjectStore struct {
		MaxBytes      int64 `json:"max_bytes"`
		MaxObjectSize int64 `json:"max_object_size"`
	} `json:"object_store"`
	Messaging struct {
		Timeout         api.Duration `json:"timeout"`
		Stall           api.Duration `json:"stall"`
		MaxReplies      int          `json:"max_replies"`
		MaxReplyBytes   int          `json:"max_reply_bytes"`
		MaxRate         float64      `json:"max_rate"`
		MaxBurst        int          `json:"max_burst"`
		AllowedSubjects []string     `json:"allowed_subjects"`
	} `json:"messaging"`
	HTTP struct {
		Timeout          api.Duration `json:"timeout"`
		MaxResponseBytes int64        `json:"max_response_bytes"`
		MaxRedirects     int          `json:"max_redirects"`
		Allow            []string     `json:"allow"`
	} `json:"http"`
	Replicas int `json:"replicas"`
	// Namespaces configures services per namespace: the subject patterns
	// its functions may publish and request on (NATS wildcards allowed;
	// absent means messaging.allowed_subjects), and HTTP destinations opened
	// for its functions on top of http.allow.
	Namespaces map[string]struct {
		AllowedSubjects []string `json:"allowed_subjects"`
		HTTPAllow       []string `json:"http_allow"`
	} `json:"namespaces"`
}

// Services is a node's host-service configuration: one for every function,
// with messaging narrowed per namespace where the operator said so.
type Services struct {
	hostsvc.Config
	// AllowedSubjects by namespace overrides Config.Messaging.AllowedSubjects.
	AllowedSubjects map[string][]string
	// HTTPAllow by namespace adds to Config.HTTP.Allow.
	HTTPAllow map[string][]string
}

// LoadServicesFile reads and checks a ServicesFile.
func LoadServicesFile(path string) (Services, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Services{}, err
	}
	var f ServicesFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Services{}, fmt.Errorf("%s: %w", path, err)
	}
	cfg, err := f.Config()
	if err != nil {
		return Services{}, fmt.Errorf("%s: %w", path, err)
	}
	svc := Services{Config: cfg}
	for ns, n := range f.Namespaces {
		if err := api.ValidateName("namespace", ns); err != nil {
			return Services{}, fmt.Errorf("%s: namespaces: %w", path, err)
		}
		check := cfg
		check.Messaging.AllowedSubjects = n.AllowedSubjects
		if err := check.Validate(); err != nil {
			return Services{}, fmt.Errorf("%s: namespace %s: %w", path, ns, err)
		}
		for _, e := range n.HTTPAllow {
			if err := egress.ValidateEntry(e); err != nil {
				return Services{}, fmt.Errorf("%s: namespace %s: http_allow: %w", path, ns, err)
			}
		}
		// Only when given: a namespace listed for http_allow alone keeps
		// the node's subjects.
		if n.AllowedSubjects != nil {
			if svc.AllowedSubjects == nil {
				svc.AllowedSubjects = map[string][]string{}
			}
			svc.AllowedSubjects[ns] = n.AllowedSubjects
		}
		if len(n.HTTPAllow) > 0 {
			if svc.HTTPAllow == nil {
				svc.HTTPAllow = map[string][]string{}
			}
			svc.HTTPAllow[ns] = n.HTTPAllow
		}
	}
	return svc, nil
}

// Config turns the file into the host-service configuration and checks it.
func (f *ServicesFile) Config() (hostsvc.Config, error) {
	var c hostsvc.Config
	c.KV.MaxValueSize, c.KV.MaxBucketBytes = f.KV.MaxValueSize, f.KV.MaxBucketBytes
	c.Objects.MaxBytes, c.Objects.MaxObjectSize = f.ObjectStore.MaxBytes, f.ObjectStore.MaxObjectSize
	c.Messaging.Timeout, c.Messaging.Stall = f.Messaging.Timeout.D(), f.Messaging.Stall.D()
	c.Messaging.MaxReplies, c.Messaging.MaxReplyBytes = f.Messaging.MaxReplies, f.Messaging.MaxReplyBytes
	c.Messaging.MaxRate, c.Messaging.MaxBurst = f.Messaging.MaxRate, f.Messaging.MaxBurst
	c.Messaging.AllowedSubjects = f.Messaging.AllowedSubjects
	c.HTTP.Timeout, c.HTTP.MaxResponseBytes = f.HTTP.Timeout.D(), f.HTTP.MaxResponseBytes
	c.HTTP.MaxRedirects, c.HTTP.Allow = f.HTTP.MaxRedirects, f.HTTP.Allow
	c.Replicas = f.Replicas
	for _, d := range f.Disable {
		if err := api.ValidateService(d); err != nil {
			return hostsvc.Config{}, err
		}
	}
	c = servicesFor(c, api.FunctionSpec{Disable: f.Disable})
	return c, c.Validate()
}
