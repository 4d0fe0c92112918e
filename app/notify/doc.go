// Package notify is about notifications: telling the people of a project,
// in their chat or mailbox and in their language, what happened and what
// waits for them.
//
// For now it holds the vocabulary and the rules of the channels a
// project's configuration lists under notify (DESIGN.md section 5): the
// kinds of channel, the triggers, the fields a message template may use,
// and one check per rule, which app/projectconfig calls with the field's
// path. Delivery comes in a later change.
package notify
