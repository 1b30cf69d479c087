import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { BatchResultsDeps, collectBatchResults } from '../../lambda/batch-results/core';
import { togetherFileOpener } from '../../lambda/batch-results/download';
import { s3Operations } from '../../lambda/batch-results/index';
import { openHttpStream } from '../../lambda/shared/http';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';
import { LogLine } from '../../lambda/shared/log';
import { putEvent } from '../../lambda/shared/publisher';
import { outcomeClaimId } from '../../lib/claim-keys';
import { TogetherEventBridgeEvent } from '../../lib/events';
import { fakeS3 } from './batch-results-fixtures';
import { LocalDynamo, startDynalite } from './dynalite';
import { FakeTogether } from './fake-together';
import { answerErrors, describedPath } from './openapi';
import { BUS, mockEventBridge } from './verifier-harness';

/**
 * The batch results recipe's handler tests: Together's file streamed into S3 (stubbed at the SDK boundary, with
 * S3's multipart rules), counted, and announced once per batch through real claims on dynalite.
 */

/** The receiver's claim scope: batch.collected is one of its outcomes. */
export const SCOPE = 'c8bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';
export const MiB = 1024 * 1024;
export const BUCKET = 'acme-batch-results';
export const PREFIX = 'together/';
export const REMAINING_MS = 15 * 60_000;
export { BUS };

export function batchDone(
  batchId: string,
  data: Record<string, unknown>,
): TogetherEventBridgeEvent<'batch.done'> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'batch.done',
    source: 'together.ai',
    account: '111111111111',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail: {
      id: `batch.done:${batchId}`,
      type: 'batch.done',
      data: { batch_id: batchId, output_url: null, total_tokens: null, status: 'COMPLETED', ...data },
      outcome_key: `batch.done:${batchId}`,
    },
  } as TogetherEventBridgeEvent<'batch.done'>;
}

/**
 * Registers the hooks of one test file (Together, dynalite, S3 and EventBridge stubbed; a fresh table and clean
 * stubs for every test; after each, every request checked against Together's spec) and returns what its tests use.
 */
export function batchResultsHarness() {
  const world: World = {
    together: new FakeTogether(),
    s3: fakeS3(),
    bus: mockEventBridge(),
    logs: [],
    state: { table: '' },
  };
  registerHooks(world);
  const { together, s3, bus, logs, state } = world;
  return {
    together,
    s3,
    bus,
    logs,
    /** dynalite, once the file's tests started. */
    get dynamo(): LocalDynamo {
      return dynamoOf(world);
    },
    /** This test's table. */
    get table(): string {
      return state.table;
    },
    ...collecting(world),
    ...probes(world),
  };
}

interface World {
  readonly together: FakeTogether;
  readonly s3: ReturnType<typeof fakeS3>;
  readonly bus: ReturnType<typeof mockEventBridge>;
  readonly logs: LogLine[];
  readonly state: { dynamo?: LocalDynamo; table: string };
}

const dynamoOf = (w: World): LocalDynamo => w.state.dynamo!;

function registerHooks(w: World): void {
  const { together, s3, bus, logs, state } = w;
  beforeAll(async () => {
    await together.start();
    state.dynamo = await startDynalite();
  });
  afterAll(async () => {
    s3.mock.restore();
    bus.eb.restore();
    await state.dynamo?.stop();
    await together.stop();
  });
  beforeEach(async () => {
    together.reset();
    s3.reset();
    bus.eb.reset();
    bus.acceptAll();
    logs.length = 0;
    state.table = await dynamoOf(w).createTable('batch-results');
  });
  afterEach(() => {
    // Every request ours, to a path Together describes, with the key; every error answer in Together's shape.
    for (const r of together.requests) {
      expect(`${r.method} ${describedPath(r.method, r.path)}`).toBe('GET /files/{id}/content');
      expect(r.headers.authorization).toBe(`Bearer ${together.apiKey}`);
    }
    const broken = together.answers
      .filter((a) => a.status >= 400 && answerErrors(a.method, a.path, a.status, a.body))
      .map((a) => `${a.method} ${a.path} ${a.status}: ${answerErrors(a.method, a.path, a.status, a.body)}`);
    expect(broken).toEqual([]);
  });
}

/** The real core, store and publisher on the stubs: `deps` (with overrides) and `run` (15 minutes left). */
function collecting(w: World) {
  const { together, logs, state } = w;
  function deps(overrides: Partial<BatchResultsDeps> = {}): BatchResultsDeps {
    const eventBridge = new EventBridgeClient({ region: 'us-east-1' });
    return {
      config: {
        bucket: BUCKET,
        keyPrefix: PREFIX,
        apiBaseUrl: together.baseUrl,
        retentionSeconds: 7 * 86400,
        metrics: { namespace: 'TogetherWebhooks', service: 'batch-results-test' },
      },
      openFile: togetherFileOpener({
        baseUrl: together.baseUrl,
        apiKey: async () => together.apiKey,
        stream: openHttpStream,
        now: Date.now,
      }),
      s3: s3Operations(new S3Client({ region: 'us-east-1' })),
      store: new DynamoIdempotencyStore(dynamoOf(w).client, state.table, outcomeClaimKeys(SCOPE)),
      publish: (detailType, detail) => putEvent(eventBridge, BUS, detailType, detail),
      log: (line) => logs.push(JSON.parse(JSON.stringify(line))),
      now: Date.now,
      newToken: randomUUID,
      ...overrides,
    };
  }
  const run = (event: unknown, d: BatchResultsDeps = deps()) => collectBatchResults(d, event, REMAINING_MS);
  return { deps, run };
}

/** What a test looks at: objects and S3 calls, events published, the claim, Together's file requests. */
function probes(w: World) {
  const { together, s3, bus, state } = w;
  const key = (batchId: string, name: string) => `${PREFIX}${batchId}/${name}`;
  const object = (k: string) => s3.objects.get(`${BUCKET}/${k}`);
  const sameBytes = (k: string, text: string) => object(k)?.body.equals(Buffer.from(text, 'utf8')) ?? false;
  const inputs = <T extends object>(command: new (input: T) => unknown) =>
    s3.mock.commandCalls(command as never).map((c) => c.args[0].input as T & Record<string, unknown>);

  function published(): Array<{
    Source: string;
    DetailType: string;
    EventBusName: string;
    detail: { id: string; type: string; outcome_key: string; data: Record<string, unknown> };
  }> {
    return bus.entries().map((e) => ({
      Source: e.Source,
      DetailType: e.DetailType,
      EventBusName: e.EventBusName,
      detail: JSON.parse(e.Detail),
    }));
  }

  async function claim(batchId: string) {
    const got = await dynamoOf(w).client.send(
      new GetItemCommand({
        TableName: state.table,
        Key: { id: { S: outcomeClaimId(SCOPE, `batch.collected:${batchId}`) } },
        ConsistentRead: true,
      }),
    );
    return got.Item?.status?.S;
  }

  const fileRequests = () => together.requests.filter((r) => r.path.startsWith('/v1/files/'));
  return { key, object, sameBytes, inputs, published, claim, fileRequests };
}
