// The shapes of the API's JSON (docs/api.md), as the server emits them:
// snake_case keys, times as RFC 3339 strings. Optional keys are the ones the
// server omits when empty.

export type ReleaseState =
  | 'open'
  | 'testing'
  | 'tested'
  | 'approved'
  | 'live'
  | 'accepted'
  | 'completed'
  | 'cancelled';

export const RELEASE_STATES: readonly ReleaseState[] = [
  'open',
  'testing',
  'tested',
  'approved',
  'live',
  'accepted',
  'completed',
  'cancelled',
];

export type DeployState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';

export interface UserView {
  name: string;
  admin: boolean;
  roles: Record<string, string[]>;
  disabled: boolean;
  created?: string;
  created_by?: string;
  password_changed?: string;
  last_login?: string;
  failed_logins?: number;
  locked_until?: string;
}

export interface Me {
  user: UserView;
  /** project -> actions of the roles table the user may take there. */
  permissions: Record<string, string[]>;
  /** Actions on no project (user.manage, host.trust, ...). */
  global: string[] | null;
  read_only?: string;
  offline: boolean;
  public_key?: string;
}

export interface TokenInfo {
  id: string;
  user: string;
  kind: 'session' | 'personal';
  name?: string;
  created: string;
  expires_at?: string;
}

export interface ReleaseDeployment {
  environment: string;
  deployment: string;
  commit: string;
  version: string;
  state: DeployState;
  requested: string;
  finished?: string;
}

export interface Release {
  id: string;
  project: string;
  branch: string;
  title: string;
  note?: string;
  state: ReleaseState;
  pinned_commit?: string;
  pinned_env?: string;
  tested_commit?: string;
  tested_env?: string;
  approved_commit?: string;
  requester: string;
  tester?: string;
  approver?: string;
  manager?: string;
  tag?: string;
  created: string;
  updated: string;
  deployments: ReleaseDeployment[] | null;
  position: number;
}

export interface TimelineEntry {
  position: number;
  time: string;
  actor: string;
  action: string;
  note?: string;
  commit?: string;
  environment?: string;
  deployment?: string;
  state: ReleaseState;
}

export interface ReleaseResponse {
  release: Release;
  timeline: TimelineEntry[] | null;
  /** What the signed-in user may do now: "deploy:<env>", test, approve, ... */
  actions: string[];
}

export interface BoardResponse {
  total: number;
  offset: number;
  limit: number;
  releases: Release[];
  counts: Record<string, number>;
}

export interface DeployResult {
  deployment: string;
  release?: string;
  project: string;
  environment: string;
  commit: string;
  version: string;
  kind: 'deploy' | 'rollback';
}

export interface Plan {
  batches: string[][] | null;
  parallel: number;
  on_failure: string;
  manifest_hash?: string;
  files: number;
  bytes: number;
  skipped?: string[];
}

export interface HostProgress {
  host: string;
  state: string;
  step?: string;
  version?: string;
  commit?: string;
  previous?: string;
  error?: string;
  failed_step?: string;
  staged?: string;
  switched?: string;
  updated?: string;
}

export interface Step {
  id: string;
  name: string;
  host?: string;
  command?: string[];
  started: string;
  finished?: string;
  exit_code: number;
  duration_ms: number;
  error?: string;
  output?: string;
  truncated?: boolean;
}

export interface Deployment {
  id: string;
  kind: 'deploy' | 'rollback';
  project: string;
  environment: string;
  commit: string;
  version: string;
  release?: string;
  requested_by: string;
  reason?: string;
  only_hosts?: string[];
  state: DeployState;
  runner?: string;
  runs: number;
  cancel_requested?: boolean;
  cancel_requested_by?: string;
  cancel_reason?: string;
  /** Why a queued or running deployment is not moving: the log refuses writes (a full data disk). */
  stalled?: string;
  plan: Plan;
  hosts: HostProgress[];
  steps: Step[] | null;
  error?: string;
  switched?: string[];
  failed?: string[];
  reverted?: string[];
  requested: string;
  started?: string;
  finished?: string;
  duration_ms: number;
  position: number;
}

export interface VersionEntry {
  version: string;
  commit: string;
  release?: string;
  deployment: string;
  by: string;
  kind: 'deploy' | 'rollback';
  at: string;
  position: number;
  outcome: string;
  hosts?: string[];
  current?: boolean;
  kept?: string[];
  instant?: boolean;
  bad?: boolean;
  bad_by?: string;
  bad_at?: string;
  reason?: string;
}

export interface HostVersion {
  host: string;
  version: string;
  commit: string;
  deployment: string;
  since: string;
}

export interface EnvVersions {
  project: string;
  environment: string;
  current?: string;
  current_deployment?: string;
  hosts: HostVersion[];
  mixed?: boolean;
  timeline: VersionEntry[];
}

export interface ProjectEnvironment {
  name: string;
  path: string;
  approval?: boolean;
  hosts?: string[];
}

export interface Project {
  id: string;
  title?: string;
  repo: string;
  branch: string;
  strategy: string;
  keep_releases: number;
  environments: ProjectEnvironment[];
  config: unknown;
  created: string;
  created_by: string;
  updated: string;
  updated_by: string;
  position: number;
}

export interface ProjectChange {
  position: number;
  time: string;
  actor: string;
  diff?: string[];
}

export interface ProjectResponse {
  project: Project;
  yaml: string;
  history: ProjectChange[];
  environments: EnvVersions[];
}

export interface HostKey {
  state?: string;
  key_type?: string;
  fingerprint?: string;
  trusted_by?: string;
  trusted?: string;
  offered_type?: string;
  offered_fingerprint?: string;
  offered_key?: string;
  refused?: string;
  deployment?: string;
}

export interface HostRun {
  project: string;
  environment: string;
  version: string;
  commit: string;
  deployment: string;
  since: string;
  via: string;
  error?: string;
}

export interface Host {
  addr: string;
  host_port: string;
  runs: HostRun[] | null;
  key?: HostKey;
}

export interface HostKeyInfo {
  addr: string;
  key_type: string;
  fingerprint: string;
  key: string;
  state: 'trusted' | 'unknown' | 'changed';
  trusted_by?: string;
  trusted_fingerprint?: string;
}

export interface AuditRow {
  position: number;
  time: string;
  actor: string;
  action: string;
  project?: string;
  environment?: string;
  release?: string;
  version?: string;
  commit?: string;
  host?: string;
  summary: string;
}

export interface AuditPage {
  total: number;
  offset: number;
  limit: number;
  rows: AuditRow[];
}

export interface VerifyResult {
  ok: boolean;
  count: number;
  head: { position: number; hash: string };
  message?: string;
}

export interface Commit {
  sha: string;
  author: string;
  email: string;
  time: string;
  subject: string;
}

export interface FileChange {
  path: string;
  action: 'added' | 'modified' | 'deleted';
}

export interface CompareResult {
  from: string;
  to: string;
  commits: Commit[];
  files: FileChange[];
}

/** One message of the live feed (SSE or the window's Wails events). */
export interface LiveMessage {
  position: number;
  type: string;
  time: string;
  actor: string;
  stream: string;
  project?: string;
  environment?: string;
  release?: string;
  deployment?: string;
  host?: string;
  step?: string;
  /** step.output only: the chunk to append. */
  text?: string;
  truncated?: boolean;
}

export type LiveKind = 'release' | 'deployment' | 'host' | 'step' | 'output' | 'project' | 'user' | 'other';
