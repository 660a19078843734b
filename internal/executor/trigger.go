package executor

// A Source is one kind of trigger of a function version: it starts taking
// messages, hands each to the function's Runner as a pool.Job whose Finish
// is the source, and finishes each its own way once it has run: the
// subject trigger replies, the consumer-based ones ack, nak or term.
// Adding a kind of trigger is a Source and a line in kinds.
type Source interface {
	// Start begins delivering; it returns once messages reach the
	// function (the server has the subscriptions, the consumer exists).
	Start() error
	// Retire stops taking new messages; those taken are still handed on.
	Retire()
	// Stop waits until everything taken is handed to the runner.
	Stop()
}

// kind is a kind of trigger: the source it makes of a function (nil when
// the spec does not ask for it), and whether a worker with a NATS
// connection of its own runs it itself. Only the subject trigger does:
// consumers stay with the node, since a consumer delivers to a subject of
// its creator's choosing and the worker's rights must not reach them
// (docs/sandbox.md); the node relays their messages to the worker.
type kind struct {
	name     string
	inWorker bool
	source   func(f *Function) Source
}

// kinds are the kinds of trigger, in the order they start.
var kinds = []kind{
	{name: "subject", inWorker: true, source: newSubjectSource},
	{name: "stream", source: func(f *Function) Source { return newConsumerSource(f, "stream") }},
	{name: "schedule", source: func(f *Function) Source { return newConsumerSource(f, "schedule") }},
	{name: "watch", source: func(f *Function) Source { return newConsumerSource(f, "watch") }},
}

type kindFilter func(kind) bool

func allKinds(kind) bool      { return true }
func workerKinds(k kind) bool { return k.inWorker }
func nodeKinds(k kind) bool   { return !k.inWorker }
