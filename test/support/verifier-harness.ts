import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { randomUUID } from 'node:crypto';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';
import { LogLine } from '../../lambda/shared/log';
import { putEvent } from '../../lambda/shared/publisher';
import { VerifierDeps } from '../../lambda/verifier/core';
import { SecretCache } from '../../lambda/verifier/secrets';
import { SchemeName } from '../../lambda/verifier/signature';
import { SECRET } from './signing';
import { T0 } from './together-fixtures';

export const BUS = 'together-test-bus';
/** The claim scope the verifier and poller harnesses share, as one construct's verifier and poller do. */
export const CLAIM_SCOPE = 'test-hooks';

/** Mocks every EventBridgeClient at the SDK boundary; answers PutEvents with success unless told otherwise. */
export function mockEventBridge() {
  const eb = mockClient(EventBridgeClient);
  const accept = (input: { Entries?: unknown[] }) => ({
    FailedEntryCount: 0,
    Entries: (input.Entries ?? []).map(() => ({ EventId: randomUUID() })),
  });
  const acceptAll = () => eb.on(PutEventsCommand).callsFake(accept);
  acceptAll();
  return {
    eb,
    acceptAll,
    /** The next PutEvents answers with `answer` (or throws it, if an Error); later ones succeed again. */
    nextPutEvents(answer: object | Error | (() => Promise<object>)) {
      const behaviour = eb.on(PutEventsCommand);
      const once =
        answer instanceof Error
          ? behaviour.rejectsOnce(answer)
          : typeof answer === 'function'
            ? behaviour.callsFakeOnce(answer as () => Promise<object>)
            : behaviour.resolvesOnce(answer);
      once.callsFake(accept);
    },
    /** Every entry sent to PutEvents, in order. */
    entries(): Array<Record<string, string>> {
      return eb
        .commandCalls(PutEventsCommand)
        .flatMap((call) => (call.args[0].input.Entries ?? []) as Array<Record<string, string>>);
    },
  };
}

export interface Harness {
  deps: VerifierDeps;
  logs: LogLine[];
  secretFetches: () => number;
  setSecrets(values: string[]): void;
  /** The harness's own clock (from T0, set by the test); unused when `now` was given. */
  clock: { now: number };
}

/** The verifier's real core, store and publisher; only the clock, the secret source and the SDK wire are ours. */
export function harness(opts: {
  dynamoClient: import('@aws-sdk/client-dynamodb').DynamoDBClient;
  table: string;
  scheme?: SchemeName;
  secrets?: string[];
  failSecrets?: () => Error | undefined;
  /** The construct's claim scope, as its poller's: default `CLAIM_SCOPE`. */
  claimScope?: string;
  /** The scenario's clock when another side (a poller) has one: both must read the same time. */
  now?: () => number;
}): Harness {
  const scheme = opts.scheme ?? 'together-hmac';
  let values = opts.secrets ?? [SECRET];
  let fetches = 0;
  // Fixture time, not the real clock: what a test dates from T0 agrees with the verifier on any day.
  const clock = { now: T0 };
  const logs: LogLine[] = [];
  const eventBridge = new EventBridgeClient({ region: 'us-east-1' });
  const deps: VerifierDeps = {
    config: {
      scheme,
      retentionSeconds: 7 * 86400,
      metrics: { namespace: 'TogetherWebhooks', service: 'test' },
    },
    secrets: new SecretCache(
      async () => {
        fetches++;
        const failure = opts.failSecrets?.();
        if (failure) throw failure;
        return values;
      },
      scheme,
      300_000,
      10_000,
    ),
    store: new DynamoIdempotencyStore(
      opts.dynamoClient,
      opts.table,
      outcomeClaimKeys(opts.claimScope ?? CLAIM_SCOPE),
    ),
    publish: (detailType, detail) => putEvent(eventBridge, BUS, detailType, detail),
    log: (line) => logs.push(JSON.parse(JSON.stringify(line))),
    clock: opts.now ?? (() => clock.now),
    newToken: randomUUID,
  };
  return {
    deps,
    logs,
    clock,
    secretFetches: () => fetches,
    setSecrets(next) {
      values = next;
    },
  };
}
