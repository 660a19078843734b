package hostsvc

import (
	"context"
	"slices"
	"strings"

	"github.com/natsfn/natsfn/internal/natsperm"
)

// watchRefusals makes ctx end at once when the server refuses one of the
// call's messages, one that match accepts, or anything on the
// connection's inbox, where every reply comes.
func (s *Services) watchRefusals(ctx context.Context, match func(subject string) bool) (context.Context, func()) {
	if s.refusals == nil {
		return ctx, func() {}
	}
	return s.refusals.Watch(ctx, func(e *natsperm.Error) bool {
		return strings.HasPrefix(e.Subject, "_INBOX.") || e.Op == natsperm.Publish && match(e.Subject)
	})
}

// refusedError is the PERMISSION_DENIED error of a call whose ctx, from
// watchRefusals, ended by a refusal; nil otherwise.
func refusedError(ctx context.Context, what string) *Error {
	r := natsperm.Refusal(ctx)
	if r == nil {
		return nil
	}
	return newError(CodePermission, r, "%s: the node's NATS permissions refuse it", what)
}

// ownsBucketSubject says whether subject is one of the JetStream subjects
// of the function's bucket or store: the API on its stream, or its
// messages.
func (s *Services) ownsBucketSubject(subject string) bool {
	bucket := bucketName(s.fn.Namespace, s.fn.Name)
	if strings.HasPrefix(subject, "$KV."+bucket+".") || strings.HasPrefix(subject, "$O."+bucket+".") {
		return true
	}
	tokens := strings.Split(subject, ".")
	return slices.Contains(tokens, "KV_"+bucket) || slices.Contains(tokens, "OBJ_"+bucket)
}
