import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { randomUUID } from 'node:crypto';
import { poll, PollerDeps, PollWindow, pollWindow, RESERVES } from '../../lambda/poller/core';
import { EnabledSources } from '../../lambda/poller/sources';
import { DynamoPollerStateStore } from '../../lambda/poller/state';
import { DynamoTrackInbox } from '../../lambda/poller/tracked';
import { DynamoIdempotencyStore, outcomeClaimKeys } from '../../lambda/shared/idempotency';
import { LogLine } from '../../lambda/shared/log';
import { putEvent } from '../../lambda/shared/publisher';
import { ApiClock } from '../../lambda/shared/together-api';
import { LocalDynamo, startDynalite } from './dynalite';
import { FakeTogether } from './fake-together';
import { answerErrors, describedPath } from './openapi';
import { HOUR, T0 } from './together-fixtures';
import { BUS, CLAIM_SCOPE, mockEventBridge } from './verifier-harness';

export const TOPIC = 'arn:aws:sns:us-east-1:111111111111:together-alerts';
export const WATCHED = 'meta-llama/Llama-2-70b-chat-hf';

/**
 * The poller's real core, state store, claims (dynalite) and publisher against the fake Together; EventBridge and
 * SNS stubbed at the SDK boundary; a virtual clock. Registers its own jest hooks: a fresh table per test.
 */
export function pollerHarness() {
  const clock: ApiClock & { t: number } = {
    t: T0,
    now: () => clock.t,
    sleep: async (ms) => void (clock.t += ms),
    random: () => 0.5,
  };
  const h = {
    together: new FakeTogether(),
    bus: mockEventBridge(),
    sns: mockClient(SNSClient),
    clock,
    logs: [] as LogLine[],
    dynamo: undefined as unknown as LocalDynamo,
    table: '',
    /** What the API key secret holds. */
    apiKey: '',

    deps(overrides: Partial<PollerDeps> = {}, scope = 'test-scope'): PollerDeps {
      const eventBridge = new EventBridgeClient({ region: 'us-east-1' });
      const snsClient = new SNSClient({ region: 'us-east-1' });
      return {
        config: {
          apiBaseUrl: h.together.baseUrl,
          apiKeySecretName: 'together/api-key',
          watchModels: [WATCHED],
          modelInfo: { [WATCHED]: { replacementModel: 'meta-llama/Llama-3.3-70B-Instruct-Turbo' } },
          stallAfterMs: 6 * HOUR,
          modelMissingMs: HOUR,
          initialLookbackMs: HOUR,
          retentionSeconds: 7 * 86400,
          metrics: { namespace: 'TogetherWebhooks', service: 'poller-test' },
        },
        store: new DynamoIdempotencyStore(h.dynamo.client, h.table, outcomeClaimKeys(CLAIM_SCOPE)),
        state: new DynamoPollerStateStore(h.dynamo.client, h.table, scope),
        publish: (detailType, detail) => putEvent(eventBridge, BUS, detailType, detail),
        getApiKey: async () => h.apiKey,
        notify: async (subject, message) => {
          await snsClient.send(new PublishCommand({ TopicArn: TOPIC, Subject: subject, Message: message }));
        },
        clock,
        log: (line) => h.logs.push(JSON.parse(JSON.stringify(line))),
        newToken: randomUUID,
        inbox: new DynamoTrackInbox(h.dynamo.client, h.table, scope),
        ...overrides,
      };
    },

    /** The window the Lambda gives a poll: a 90 s function, the production reserves. */
    window(): PollWindow {
      return pollWindow(clock.now(), 90_000, RESERVES);
    },

    runPoll(d: PollerDeps = h.deps(), window: PollWindow = h.window()) {
      return poll(d, window);
    },

    /** The deps with these opt-in sources on (sources/index.ts keys), and `overrides`. */
    withSources(sources: EnabledSources, overrides: Partial<PollerDeps> = {}): PollerDeps {
      return h.deps({ config: { ...h.deps().config, sources }, ...overrides });
    },

    /** `d` as a Lambda killed after its work and before saving its state: `save` fails. */
    killedBeforeSave(d: PollerDeps): PollerDeps {
      const { state } = d;
      return {
        ...d,
        state: {
          acquireLease: (...a) => state.acquireLease(...a),
          releaseLease: (holder) => state.releaseLease(holder),
          load: () => state.load(),
          save: async () => Promise.reject(new Error('the function was killed')),
        },
      };
    },

    /** One poll at `ms` on the harness clock. */
    pollAt(ms: number, d: PollerDeps = h.deps()) {
      clock.t = ms;
      return h.runPoll(d);
    },

    /** Something was asked; every request is one the spec describes, every answer the fake gave validates. */
    expectFaithful(): void {
      expect(h.together.requests.length).toBeGreaterThan(0);
      for (const r of h.together.requests)
        expect([r.path, describedPath(r.method, r.path)]).toEqual([r.path, expect.any(String)]);
      const broken = h.together.answers.filter((a) => answerErrors(a.method, a.path, a.status, a.body));
      expect(broken.map((a) => `${a.method} ${a.path}`)).toEqual([]);
    },

    /** What reached the bus: detail-type and the envelope, in order. */
    published(): Array<{
      type: string;
      detail: { id: string; type: string; data: Record<string, unknown> };
    }> {
      return h.bus.entries().map((e) => ({ type: e.DetailType, detail: JSON.parse(e.Detail) }));
    },

    keys(): string[] {
      return h.published().map((p) => p.detail.id);
    },
  };

  beforeAll(async () => {
    await h.together.start();
    h.dynamo = await startDynalite();
  });
  afterAll(async () => {
    h.bus.eb.restore();
    h.sns.restore();
    await h.dynamo.stop();
    await h.together.stop();
  });
  beforeEach(async () => {
    h.together.reset();
    h.bus.eb.reset();
    h.bus.acceptAll();
    h.sns.reset();
    h.sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    h.table = await h.dynamo.createTable('poller');
    clock.t = T0;
    // What the fake creates (an endpoint's created_at) is dated by the poller's clock, not the real one.
    h.together.now = clock.now;
    h.logs.length = 0;
    h.apiKey = h.together.apiKey;
  });
  return h;
}
