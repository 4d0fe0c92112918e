// The shapes of the API's JSON (docs/api.md), under the names the screens
// use. They are not written here: ./wire/ is generated from the Go types
// that make that JSON (`make wire`; TestWireTypes fails while it is stale),
// so a field the server renames, drops or makes nullable shows up here as
// a type error. Keys are snake_case, times RFC 3339 strings; an optional
// key is one the server omits when empty, and `| null` is a Go slice the
// server can send as null.

import type * as app from './wire/app';
import type * as events from './wire/events';
import type * as httpapi from './wire/httpapi';
import * as projections from './wire/projections';
import type * as runner from './wire/runner';

// --- words the Go side spells as constants (projections/states.go) ---------

/** Release states, in the workflow's order (the board's columns). */
export const RELEASE_STATES = [
  projections.StateOpen,
  projections.StateTesting,
  projections.StateTested,
  projections.StateApproved,
  projections.StateLive,
  projections.StateAccepted,
  projections.StateCompleted,
  projections.StateCancelled,
] as const;

export type ReleaseState = (typeof RELEASE_STATES)[number];

export const DEPLOY_STATES = [
  projections.DeployQueued,
  projections.DeployRunning,
  projections.DeploySucceeded,
  projections.DeployFailed,
  projections.DeployCancelled,
  projections.DeployInterrupted,
] as const;

export type DeployState = (typeof DEPLOY_STATES)[number];

// --- people ------------------------------------------------------------------

export type UserView = app.UserView;
export type Contacts = app.Contacts;
/** GET /api/v1/me: the user, and the actions of the roles table they may take per project and on none. */
export type Me = httpapi.MeResponse;
export type TokenInfo = app.TokenInfo;

// --- releases ------------------------------------------------------------------

export type Release = projections.Release;
export type ReleaseDeployment = projections.ReleaseDeployment;
export type TimelineEntry = projections.TimelineEntry;
/** One release, its timeline, and what the signed-in user may do now: "deploy:<env>", test, approve, ... */
export type ReleaseResponse = httpapi.ReleaseResponse;
export type BoardResponse = httpapi.BoardResponse;
export type DeployResult = app.DeployResult;

// --- deployments -----------------------------------------------------------------

/** A deployment as GET /api/v1/deployments/{id} gives it (with `stalled` while the log refuses writes). */
export type Deployment = httpapi.DeploymentView;
export type Plan = projections.Plan;
export type HostProgress = projections.HostProgress;
export type Step = projections.Step;

// --- projects, versions, hosts ---------------------------------------------------

export type Project = projections.Project;
export type ProjectEnvironment = projections.Environment;
export type ProjectChange = projections.ProjectChange;
export type ProjectResponse = app.ProjectView;
export type EnvVersions = projections.EnvVersions;
export type VersionEntry = projections.VersionEntry;
export type HostVersion = projections.HostVersion;
export type Host = projections.Host;
export type HostRun = projections.HostRun;
export type HostKey = projections.HostKey;
export type HostKeyInfo = app.HostKeyInfo;
/** An environment's last drift check (EnvVersions.drift) and one host's line of it. */
export type EnvDrift = projections.EnvDrift;
export type DriftLine = projections.DriftLine;
/** What breaking an environment's lock did: what it broke, and the hosts not reached. */
export type LockBreak = runner.LockBreak;
export type Commit = runner.Commit;
export type FileChange = runner.FileChange;
export type CompareResult = app.Comparison;

// --- notifications -----------------------------------------------------------------

/** One message to one channel, as its attempts left it: a release's notifications, a channel's last. */
export type Delivery = projections.Delivery;
/** A project's notification channel as its page shows it: where it goes, never a secret. */
export type ChannelView = app.ChannelView;
export type ChannelSecret = app.ChannelSecret;

// --- audit and the live feed ------------------------------------------------------

export type AuditRow = events.AuditRow;
export type AuditPage = projections.AuditPage;
export type VerifyResult = httpapi.VerifyResponse;

/** One message of the live feed (SSE or the window's Wails events). */
export type LiveMessage = httpapi.StreamMessage;

/** The SSE event names of the live feed (app/httpapi/api_stream.go's streamKind). */
export type LiveKind = 'release' | 'deployment' | 'host' | 'step' | 'output' | 'project' | 'user' | 'other';
