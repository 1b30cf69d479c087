import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { DEFAULTS } from '../../lib/contract';
import { PollerDeps } from '../../lambda/poller/core';
import { DynamoPollerStateStore } from '../../lambda/poller/state';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';
import { ApiClock } from '../../lambda/shared/together-api';

const MINUTE_MS = 60_000;

export interface BenchPoller {
  readonly client: DynamoDBClient;
  /** Claims and state, both in this table. */
  readonly table: string;
  readonly apiBaseUrl: string;
  readonly apiKey: string;
  readonly clock: ApiClock;
  readonly watchModels?: readonly string[];
}

/** The poller's core as a deployed poller runs it with the construct's defaults; the bus and the alerts no-ops. */
export function benchPollerDeps(p: BenchPoller): PollerDeps {
  return {
    config: {
      apiBaseUrl: p.apiBaseUrl,
      apiKeySecretName: 'bench',
      watchModels: p.watchModels ?? [],
      modelInfo: {},
      stallAfterMs: DEFAULTS.stallAfterMinutes * MINUTE_MS,
      modelMissingMs: DEFAULTS.modelMissingMinutes * MINUTE_MS,
      initialLookbackMs: DEFAULTS.initialLookbackMinutes * MINUTE_MS,
      retentionSeconds: DEFAULTS.retentionDays * 86400,
      metrics: { namespace: 'Bench', service: 'bench' },
    },
    store: new DynamoIdempotencyStore(p.client, p.table, outcomeClaimKeys('bench')),
    state: new DynamoPollerStateStore(p.client, p.table, 'bench'),
    publish: async () => undefined,
    getApiKey: async () => p.apiKey,
    notify: async () => undefined,
    clock: p.clock,
    log: () => undefined,
    newToken: randomUUID,
  };
}
