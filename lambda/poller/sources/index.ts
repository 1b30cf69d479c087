import { DEFAULTS, PollerSourceFlags } from '../../../lib/contract';
import type { PollerConfig, PollerLimits } from '../core';
import type { InboxReader } from '../tracked';
import type { JobSource, ListedJob } from '../tracker';
import { BatchSource } from './batches';
import { ClusterSource } from './clusters';
import { DeploymentSource } from './deployments';
import { EndpointSource } from './endpoints';
import { EvaluationSource } from './evaluations';
import { FineTuneSource } from './fine-tunes';
import { JobsSource } from './jobs';
import { QueueJobSource } from './queue-jobs';
import { RlSessionSource } from './rl-sessions';
import { v2BaseUrl, VideoSource } from './videos';

/**
 * Every source of jobs the poller lists and follows (lambda/poller/tracker.ts), one row each, in the order they are
 * polled and summarized. Everything that names the sources iterates this table: the poll (core.ts), its summary,
 * the state's items (state.ts), the environment's flags (config.ts) and `listen`'s switches (bin/cli/listen.ts).
 * Watched models are not a job source (nothing to follow): sources/models.ts, a step of its own.
 *
 * Adding a source: CONTRIBUTING.md, "Add a job source".
 */
export interface JobSourceRow {
  /** Names its part of the state and its counts in the poll's summary (`checked`, `followed`): `fineTunes`. */
  readonly key: string;
  /** Its state item (`poller#<scope>#<item>`), its `listen` switch when opt-in, and its noun in `listen`'s line. */
  readonly item: string;
  /** Off unless this variable is 'true' (lib/contract.ts `PollerSourceFlags`); always on without one. */
  readonly optIn?: keyof PollerSourceFlags;
  /** False: not re-checked by fast follow (lambda/poller/follow.ts): its news is progress, not a terminal state. */
  readonly fastFollow?: false;
  /** The source, for one poll; `inbox`: the tracking inbox, for a source whose jobs are handed in (tracked.ts). */
  readonly make: (config: PollerConfig, limits: PollerLimits, inbox: InboxReader) => JobSource<ListedJob>;
}

const DAY_MS = DEFAULTS.trackingExpiryMinutes * 60_000;

const TABLE = [
  {
    key: 'fineTunes',
    item: 'fine-tunes',
    make: (config, limits) =>
      new FineTuneSource({
        stallAfterMs: config.stallAfterMs,
        publishWithoutEventsAfter: limits.publishWithoutEventsAfter,
      }),
  },
  { key: 'batches', item: 'batches', make: (config) => new BatchSource(config.apiBaseUrl) },
  { key: 'evaluations', item: 'evaluations', optIn: 'EVALUATIONS', make: () => new EvaluationSource() },
  { key: 'endpoints', item: 'endpoints', optIn: 'ENDPOINTS', make: () => new EndpointSource() },
  { key: 'jobs', item: 'jobs', optIn: 'JOBS', make: () => new JobsSource() },
  // Deployments and clusters are followed for as long as they exist: their transitions are progress, at the tick.
  {
    key: 'deployments',
    item: 'deployments',
    optIn: 'DEPLOYMENTS',
    fastFollow: false,
    make: () => new DeploymentSource(),
  },
  {
    key: 'clusters',
    item: 'clusters',
    optIn: 'CLUSTERS',
    fastFollow: false,
    make: () => new ClusterSource(),
  },
  { key: 'rlSessions', item: 'rl-sessions', optIn: 'RL_SESSIONS', make: () => new RlSessionSource() },
  // Tracked operations: one flag for both, their ids from the inbox (lib/track.ts), no listing.
  {
    key: 'videos',
    item: 'videos',
    optIn: 'TRACKING',
    make: (config, _limits, inbox) =>
      new VideoSource(v2BaseUrl(config.apiBaseUrl), inbox, config.trackingExpiryMs ?? DAY_MS),
  },
  {
    key: 'queueJobs',
    item: 'queue-jobs',
    optIn: 'TRACKING',
    make: (config, _limits, inbox) => new QueueJobSource(inbox, config.trackingExpiryMs ?? DAY_MS),
  },
] as const satisfies readonly JobSourceRow[];

export type JobSourceKey = (typeof TABLE)[number]['key'];

/** A row of the table, its key typed as one of the table's. */
export type JobSourceSpec = JobSourceRow & { readonly key: JobSourceKey };

export const JOB_SOURCES: readonly JobSourceSpec[] = TABLE;

/** A count per job source, in the table's order (JSON keeps it: the log line's `checked` and `followed`). */
export type PerSource<T> = Record<JobSourceKey, T>;

/** The opt-in sources turned on, by key; a key absent or false is off. Always-on sources need no entry. */
export type EnabledSources = Readonly<Partial<Record<JobSourceKey, boolean>>>;

export function isEnabled(row: JobSourceSpec, enabled: EnabledSources | undefined): boolean {
  return row.optIn === undefined || enabled?.[row.key] === true;
}

/** `{ fineTunes: f(row), batches: ..., ... }` in the table's order. */
export function perSource<T>(f: (row: JobSourceSpec) => T): PerSource<T> {
  return Object.fromEntries(JOB_SOURCES.map((row) => [row.key, f(row)])) as PerSource<T>;
}
