package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Defaults and bounds of the per-function limits (DESIGN.md section 5).
const (
	DefaultTimeout   = 5 * time.Second
	MaxTimeout       = 15 * time.Minute
	DefaultHeapBytes = 128 << 20
	MinHeapBytes     = 16 << 20
	MaxHeapBytes     = 4 << 30
	MaxBundleBytes   = 10 << 20
	MaxConcurrency   = 1024
)

// FunctionSpec is what a deploy asks for. The node stores it, with the
// bundle's digest and size, as the function's desired state.
type FunctionSpec struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Triggers are core NATS subjects, served in a queue group: the
	// function's return is the reply.
	Triggers []string `json:"triggers"`
	// Stream, Schedule and Watch are the consumer-based triggers
	// (docs/triggers.md).
	Stream   *StreamTrigger    `json:"stream,omitempty"`
	Schedule *ScheduleTrigger  `json:"schedule,omitempty"`
	Watch    *WatchTrigger     `json:"watch,omitempty"`
	Env      map[string]string `json:"env,omitempty"`
	// Timeout is the wall time of one invocation; zero means DefaultTimeout.
	Timeout Duration `json:"timeout,omitempty"`
	// HeapBytes caps the V8 heap of each isolate; zero means DefaultHeapBytes.
	HeapBytes int64 `json:"heap_bytes,omitempty"`
	// Concurrency caps the isolates per node; zero means the number of CPUs.
	Concurrency int `json:"concurrency,omitempty"`
	// HTTPAllow lists hosts or networks (CIDR) the function's HTTP client may
	// reach even though the egress policy would refuse them.
	HTTPAllow []string `json:"http_allow,omitempty"`
	// Disable lists host services this function may not use (Services
	// names them); a call then throws an Error with code DISABLED.
	Disable []string `json:"disable,omitempty"`
	// Source is the file name the bundle was built from, for display.
	Source string `json:"source,omitempty"`
}

// Validate checks every field and fills nothing in.
func (s *FunctionSpec) Validate() error {
	if err := ValidateName("namespace", s.Namespace); err != nil {
		return err
	}
	if err := ValidateName("name", s.Name); err != nil {
		return err
	}
	if len(s.TriggerKinds()) == 0 {
		return fmt.Errorf("function %q needs at least one trigger (a subject, --consume, --schedule or --watch)", s.Name)
	}
	if s.Stream != nil {
		if err := s.Stream.Validate(); err != nil {
			return err
		}
	}
	if s.Schedule != nil {
		if err := s.Schedule.Validate(); err != nil {
			return err
		}
	}
	if s.Watch != nil {
		if err := s.Watch.Validate(); err != nil {
			return err
		}
	}
	seen := map[string]bool{}
	for _, t := range s.Triggers {
		if err := ValidateTrigger(t); err != nil {
			return err
		}
		if seen[t] {
			return fmt.Errorf("trigger %q is given twice", t)
		}
		seen[t] = true
	}
	for k := range s.Env {
		if k == "" {
			return fmt.Errorf("env names must not be empty")
		}
	}
	if s.Timeout < 0 || s.Timeout.D() > MaxTimeout {
		return fmt.Errorf("timeout must be between 0 and %s", MaxTimeout)
	}
	if s.HeapBytes != 0 && (s.HeapBytes < MinHeapBytes || s.HeapBytes > MaxHeapBytes) {
		return fmt.Errorf("memory must be between %d MiB and %d MiB", MinHeapBytes>>20, MaxHeapBytes>>20)
	}
	if s.Concurrency < 0 || s.Concurrency > MaxConcurrency {
		return fmt.Errorf("concurrency must be between 1 and %d", MaxConcurrency)
	}
	for _, d := range s.Disable {
		if err := ValidateService(d); err != nil {
			return err
		}
	}
	return nil
}

// Services are the host services by the names hostServices gives them.
var Services = []string{"http", "kv", "objectStore", "messaging"}

// ValidateService checks a host service name.
func ValidateService(name string) error {
	for _, s := range Services {
		if name == s {
			return nil
		}
	}
	return fmt.Errorf("unknown host service %q (want one of %s)", name, strings.Join(Services, ", "))
}

// EffectiveTimeout returns the timeout with the default applied.
func (s *FunctionSpec) EffectiveTimeout() time.Duration {
	if s.Timeout == 0 {
		return DefaultTimeout
	}
	return s.Timeout.D()
}

// EffectiveHeapBytes returns the heap limit with the default applied.
func (s *FunctionSpec) EffectiveHeapBytes() int64 {
	if s.HeapBytes == 0 {
		return DefaultHeapBytes
	}
	return s.HeapBytes
}

// Key is the function's key in the desired-state bucket.
func (s *FunctionSpec) Key() string { return FunctionKey(s.Namespace, s.Name) }

// FunctionKey is the desired-state key of a function. Names hold no '.', so
// the key is unambiguous.
func FunctionKey(namespace, name string) string { return namespace + "." + name }

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"5s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
