package catalog

import (
	"fmt"
	"reflect"
	"slices"

	"releasedesk/events"
)

// Spec is one event type of the vocabulary: its name, the schema new
// events are written with, the Go type of its data and the streams it is
// written to. An event type is a constant string, never derived from a
// Go name, so that renaming a struct can never orphan stored events.
type Spec struct {
	Type    string       // noun.past_tense, e.g. "release.approved"
	Schema  int          // the schema of new events; older ones are upcast to it on read
	Payload reflect.Type // the struct its data is
	Streams []string     // the prefixes (or whole names) of the streams it goes to
}

func spec[T any](typ string, schema int, streams ...string) Spec {
	return Spec{Type: typ, Schema: schema, Payload: reflect.TypeFor[T](), Streams: streams}
}

// specs is the vocabulary, in the order people meet it: people, projects,
// releases, then what the runner reports. Adding an event type means one
// line here, its constant and payload beside the others of its noun, and
// its summary in the audit trail (projections): the conformance tests fail
// until each is there.
var specs = []Spec{
	spec[UserCreated](TypeUserCreated, 1, UserPrefix),
	spec[UserRolesChanged](TypeUserRolesChanged, 1, UserPrefix),
	spec[UserRef](TypeUserPasswordChanged, 1, UserPrefix),
	spec[UserRef](TypeUserDisabled, 1, UserPrefix),
	spec[UserRef](TypeUserEnabled, 1, UserPrefix),
	spec[UserLanguageSet](TypeUserLanguageSet, 1, UserPrefix),
	spec[UserContactsSet](TypeUserContactsSet, 1, UserPrefix),
	spec[UserRef](TypeLoginSucceeded, 1, UserPrefix),
	spec[LoginFailed](TypeLoginFailed, 1, UserPrefix, UnknownLoginStream),
	spec[TokenEvent](TypeTokenCreated, 1, UserPrefix),
	spec[TokenEvent](TypeTokenRevoked, 1, UserPrefix),

	spec[ProjectConfigured](TypeProjectConfigured, 1, ProjectPrefix),
	spec[VersionMarkedBad](TypeVersionMarkedBad, 1, ProjectPrefix),
	spec[RollbackRequested](TypeRollbackRequested, 1, ProjectPrefix),

	spec[ReleaseOpened](TypeReleaseOpened, 1, ReleasePrefix),
	spec[ReleaseDeployRequested](TypeReleaseDeployRequested, 1, ReleasePrefix),
	spec[ReleaseDecision](TypeReleaseTestPassed, 1, ReleasePrefix),
	spec[ReleaseDecision](TypeReleaseTestFailed, 1, ReleasePrefix),
	spec[ReleaseDecision](TypeReleaseApproved, 1, ReleasePrefix),
	spec[ReleaseDecision](TypeReleaseRejected, 1, ReleasePrefix),
	spec[ReleaseDecision](TypeReleaseAccepted, 1, ReleasePrefix),
	spec[ReleaseDecision](TypeReleaseRefused, 1, ReleasePrefix),
	spec[ReleaseCompleted](TypeReleaseCompleted, 1, ReleasePrefix),
	spec[ReleaseDecision](TypeReleaseCancelled, 1, ReleasePrefix),

	spec[Request](TypeDeployRequested, 1, DeployPrefix),
	spec[Started](TypeDeployStarted, 1, DeployPrefix),
	spec[Planned](TypeDeployPlanned, 1, DeployPrefix),
	spec[StepStarted](TypeStepStarted, 1, DeployPrefix),
	spec[StepOutput](TypeStepOutput, 1, DeployPrefix),
	spec[StepFinished](TypeStepFinished, 1, DeployPrefix),
	spec[HostEvent](TypeHostObserved, 1, DeployPrefix),
	spec[HostEvent](TypeHostStaged, 1, DeployPrefix),
	spec[HostEvent](TypeHostSwitched, 1, DeployPrefix),
	spec[HostEvent](TypeHostFailed, 1, DeployPrefix),
	spec[HostEvent](TypeHostReverted, 1, DeployPrefix),
	spec[Finished](TypeDeploySucceeded, 1, DeployPrefix),
	spec[Finished](TypeDeployFailed, 1, DeployPrefix),
	spec[CancelRequested](TypeDeployCancelRequested, 1, DeployPrefix),
	spec[Finished](TypeDeployCancelled, 1, DeployPrefix),
	spec[Finished](TypeDeployInterrupted, 1, DeployPrefix),
	spec[Resumed](TypeDeployResumed, 1, DeployPrefix),
	spec[LockEvent](TypeLockAcquired, 1, LockPrefix),
	spec[LockEvent](TypeLockReleased, 1, LockPrefix),
	spec[LockEvent](TypeLockBroken, 1, LockPrefix),
	spec[HostKeyEvent](TypeHostKeyTrusted, 1, HostPrefix),
	spec[HostKeyEvent](TypeHostKeyRejected, 1, HostPrefix),
	spec[Pruned](TypeReleasePruned, 1, DeployPrefix),
	spec[DriftReport](TypeDriftChecked, 1, DriftPrefix),

	spec[Notification](TypeNotificationSent, 1, NotifyPrefix),
	spec[Notification](TypeNotificationFailed, 1, NotifyPrefix),
}

var specOf = func() map[string]Spec {
	m := make(map[string]Spec, len(specs))
	for _, s := range specs {
		if _, dup := m[s.Type]; dup {
			panic("catalog: event type " + s.Type + " listed twice")
		}
		m[s.Type] = s
	}
	return m
}()

// Specs returns every event type of the vocabulary, in its order.
func Specs() []Spec { return slices.Clone(specs) }

// Types returns every event type name, in the vocabulary's order.
func Types() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Type
	}
	return out
}

// SpecOf returns the spec of an event type.
func SpecOf(typ string) (Spec, bool) {
	s, ok := specOf[typ]
	return s, ok
}

// NewEvent makes an event of type typ by actor, with data encoded at the
// type's current schema. It refuses a type the vocabulary does not have,
// and data of another Go type than the type's payload (a pointer to it is
// taken too): the one place where a producer's event meets the contract
// the read models fold.
func NewEvent(typ, actor string, data any) (events.Event, error) {
	s, ok := specOf[typ]
	if !ok {
		return events.Event{}, &events.InvalidEventError{Field: "type", Reason: fmt.Sprintf("%q is not an event type of the vocabulary", typ)}
	}
	got := reflect.TypeOf(data)
	if got != nil && got.Kind() == reflect.Pointer {
		got = got.Elem()
	}
	if got != s.Payload {
		return events.Event{}, &events.InvalidEventError{Field: "data",
			Reason: fmt.Sprintf("%s takes a %s, not a %v", typ, s.Payload.Name(), got)}
	}
	e, err := events.NewEvent(typ, actor, data)
	e.Schema = s.Schema
	return e, err
}

// upcasts are the schema steps of the vocabulary: each lifts one type's
// data from one schema to the next. None yet: every type is at schema 1.
// A step is added with the new schema, beside the type it lifts, e.g.
//
//	{TypeReleaseOpened, 1, func(d json.RawMessage) (json.RawMessage, error) {...}},
var upcasts []struct {
	typ  string
	from int
	step events.Upcaster
}

// Upcasters returns a registry of the vocabulary's schema steps, for
// events.Options and events.OpenArchive: old shapes are lifted on read,
// stored events never rewritten. With no step yet it is nil, which the
// store reads as "nothing to lift" without a lookup per event.
func Upcasters() *events.Upcasters {
	if len(upcasts) == 0 {
		return nil
	}
	u := events.NewUpcasters()
	for _, s := range upcasts {
		if err := u.Register(s.typ, s.from, s.step); err != nil {
			panic(err) // the list above is wrong: a programming error
		}
	}
	return u
}
