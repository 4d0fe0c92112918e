// Package outbox delivers a project's notifications, losing none and
// slowing nothing.
//
// It follows the event log from its own checkpointed position, apart from
// the workflow: a command never waits for a message, and a message never
// waits for a command. For each event a Planner (the app) says which
// messages are due, one Delivery per channel, each with an id stable per
// (event, channel) that receivers use to drop a duplicate. Each channel
// has its own worker and queue, so a dead channel delays only itself;
// within a channel messages go in the order of their events, at most as
// fast as the vendor allows (its rate limit), and a failed one is tried
// again with exponential backoff for up to a day.
//
// Every attempt is recorded in the log (notification.sent,
// notification.failed on notify/<project>): that record is the truth the
// outbox resumes from after a restart. The checkpoint file only says
// where to start reading: before the oldest event with a message not yet
// settled, so the attempts recorded after it bring each delivery back at
// its attempt. Delivery is at least once: a crash between a receiver's
// answer and its record sends that message again, with the same id.
package outbox
