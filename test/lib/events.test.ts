import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import {
  DELIVERY_KEY_PREFIX,
  EVENT_CATALOGUE,
  EVENT_TYPES,
  isCatalogueType,
  TogetherEvent,
  TogetherEventBridgeEvent,
  outcomeKey,
  validateEnvelope,
  WEBHOOK_EVENT_TYPES,
} from '../../lib/events';
import { eventsTable, exampleEvents, generatedReadme } from '../../scripts/readme-table';

describe('the event catalogue', () => {
  test('clusters and RL sessions: published by the poller; a cluster transition keyed by its since, a session by its id', () => {
    for (const type of [
      'cluster.ready',
      'cluster.degraded',
      'rl_session.stopped',
      'rl_session.failed',
    ] as const) {
      expect(WEBHOOK_EVENT_TYPES).not.toContain(type);
      expect(EVENT_CATALOGUE[type].producer).toBe('poller');
    }
    const transition = (since: string) =>
      outcomeKey({
        id: 'x',
        type: 'cluster.degraded',
        created_at: '2026-11-23T12:00:00Z',
        data: { cluster_id: 'c-1', since },
      });
    // Ready -> Degraded -> Ready -> Degraded: each transition its own outcome.
    expect(transition('2026-11-23T12:00:00.000Z')).toBe('cluster.degraded:c-1:2026-11-23T12:00:00.000Z');
    expect(transition('2026-11-23T12:00:00.000Z')).not.toBe(transition('2026-11-23T14:00:00.000Z'));
    const session = { id: 'y', type: 'rl_session.failed', created_at: '2026-11-23T12:00:00Z' };
    expect(outcomeKey({ ...session, data: { session_id: 's-1', status: 'ERROR' } })).toBe(
      'rl_session.failed:s-1',
    );
    // A person should know of a degraded cluster and a failed session; not of the good news.
    expect(
      Object.keys(EVENT_CATALOGUE).filter(
        (t) => t.match(/^(cluster|rl_session)\./) && 'alert' in EVENT_CATALOGUE[t as 'cluster.ready'],
      ),
    ).toEqual(['cluster.degraded', 'rl_session.failed']);
    expect(
      validateEnvelope({
        ...session,
        type: 'cluster.ready',
        data: {
          cluster_id: 'c',
          cluster_name: 'n',
          cluster_type: 'SLURM',
          gpu_type: 'H100_SXM',
          region: 'r',
          num_gpus: null,
          since: 's',
        },
      }),
    ).toMatchObject({ ok: true });
  });

  test('holds the five designed types, plus those the poller and the recipes produce, with their data fields', () => {
    expect(EVENT_TYPES).toEqual([
      'fine_tune.completed',
      'fine_tune.failed',
      'fine_tune.retried',
      'fine_tune.checkpoint',
      'fine_tune.cancelled',
      'fine_tune.stalled',
      'model.deprecated',
      'batch.done',
      'evaluation.completed',
      'evaluation.failed',
      'endpoint.ready',
      'endpoint.failed',
      'job.completed',
      'job.failed',
      'deployment.ready',
      'deployment.failed',
      'batch.collected',
      'cluster.ready',
      'cluster.degraded',
      'rl_session.stopped',
      'rl_session.failed',
      'video.completed',
      'video.failed',
      'queue_job.done',
      'queue_job.failed',
    ]);
    // Together sends no webhook for tracked operations: registration must not ask for them.
    expect(WEBHOOK_EVENT_TYPES).not.toContain('video.completed');
    expect(WEBHOOK_EVENT_TYPES).not.toContain('queue_job.failed');
    expect(WEBHOOK_EVENT_TYPES).not.toContain('fine_tune.stalled');
    // Together has no webhook for evaluations: registration must not ask for them.
    expect(WEBHOOK_EVENT_TYPES).not.toContain('evaluation.completed');
    expect(WEBHOOK_EVENT_TYPES).not.toContain('batch.collected');
    expect(WEBHOOK_EVENT_TYPES).not.toContain('fine_tune.retried');
    expect(WEBHOOK_EVENT_TYPES).not.toContain('job.completed');
    expect(WEBHOOK_EVENT_TYPES).not.toContain('deployment.ready');
    expect(Object.keys(EVENT_CATALOGUE['fine_tune.failed'].fields)).toEqual([
      'fine_tune_id',
      'error_message',
      'step',
    ]);
    expect(Object.keys(EVENT_CATALOGUE['batch.done'].fields)).toEqual(
      expect.arrayContaining(['batch_id', 'output_url', 'total_tokens']),
    );
  });

  test('isCatalogueType is exact, not prototype-fooled', () => {
    expect(isCatalogueType('batch.done')).toBe(true);
    expect(isCatalogueType('toString')).toBe(false);
    expect(isCatalogueType('batch.Done')).toBe(false);
  });

  test('the discriminated union narrows on type (compile-time check that also runs)', () => {
    const describe = (e: TogetherEvent): string => {
      switch (e.type) {
        case 'fine_tune.completed':
          return `${e.data.model_name} loss=${e.data.eval_loss ?? 'n/a'}`;
        case 'batch.done':
          return `${e.data.batch_id} tokens=${e.data.total_tokens ?? 'n/a'}`;
        default:
          return e.type;
      }
    };
    expect(
      describe({
        id: '1',
        type: 'fine_tune.completed',
        data: { fine_tune_id: 'f', model_name: 'm', eval_loss: null },
      }),
    ).toBe('m loss=n/a');
    const ev: TogetherEventBridgeEvent<'batch.done'> = {
      version: '0',
      id: 'x',
      'detail-type': 'batch.done',
      source: 'together.ai',
      account: '1',
      time: '',
      region: 'us-east-1',
      resources: [],
      detail: {
        id: 'e',
        type: 'batch.done',
        data: { batch_id: 'b', output_url: null, total_tokens: 3 },
        outcome_key: 'batch.done:b',
      },
    };
    expect(describe(ev.detail)).toBe('b tokens=3');
  });
});

describe('outcomeKey', () => {
  test('names the outcome, not the delivery: type plus the outcome fields', () => {
    const data = { fine_tune_id: 'ft-1', step: 40, loss: 1 };
    expect(outcomeKey({ id: 'evt_a', type: 'fine_tune.checkpoint', data })).toBe(
      'fine_tune.checkpoint:ft-1:40',
    );
    expect(outcomeKey({ id: 'evt_b', type: 'fine_tune.checkpoint', data })).toBe(
      'fine_tune.checkpoint:ft-1:40',
    );
    expect(outcomeKey({ id: 'x', type: 'batch.done', data: { batch_id: 'b-9' } })).toBe('batch.done:b-9');
  });

  test('falls back to the delivery id for unknown types and missing outcome fields', () => {
    expect(outcomeKey({ id: 'evt_c', type: 'fine_tune.paused', data: { fine_tune_id: 'ft-1' } })).toBe(
      'delivery:evt_c',
    );
    expect(outcomeKey({ id: 'evt_d', type: 'fine_tune.checkpoint', data: { fine_tune_id: 'ft-1' } })).toBe(
      'delivery:evt_d',
    );
    expect(outcomeKey({ id: 'evt_e', type: 'batch.done', data: { batch_id: '' } })).toBe('delivery:evt_e');
  });

  test("an envelope of another type cannot name a real outcome's key with its id", () => {
    const real = outcomeKey({ id: 'x', type: 'batch.collected', data: { batch_id: 'b-1' } });
    expect(outcomeKey({ id: real, type: 'custom.event', data: {} })).not.toBe(real);
    // No catalogue type is the fallback's first part, so no fallback key has a catalogue outcome's form.
    expect(EVENT_TYPES.map((t) => `${t}:`)).not.toContain(DELIVERY_KEY_PREFIX);
    expect(isCatalogueType(DELIVERY_KEY_PREFIX.slice(0, -1))).toBe(false);
  });

  test('an optional outcome field names the episode when present and is left out when absent', () => {
    const model = 'meta-llama/Llama-2-70b-chat-hf';
    const data = { model_id: model, replacement_model: null, sunset_date: null };
    expect(outcomeKey({ id: 'evt_w', type: 'model.deprecated', data })).toBe(`model.deprecated:${model}`);
    expect(
      outcomeKey({
        id: 'poll',
        type: 'model.deprecated',
        data: { ...data, missing_since: '2026-11-23T11:00:00.000Z' },
      }),
    ).toBe(`model.deprecated:${model}:2026-11-23T11:00:00.000Z`);
    // A required outcome field that is missing still falls back to the delivery id.
    expect(outcomeKey({ id: 'evt_x', type: 'model.deprecated', data: { missing_since: 'x' } })).toBe(
      'delivery:evt_x',
    );
  });

  test('over-long keys are shortened stably', () => {
    const long = { model_id: 'm'.repeat(600) };
    const key = outcomeKey({ id: 'x', type: 'model.deprecated', data: long });
    expect(key).toMatch(/^model\.deprecated:#[0-9a-f]{16}$/);
    expect(outcomeKey({ id: 'y', type: 'model.deprecated', data: long })).toBe(key);
  });
});

describe('validateEnvelope', () => {
  test('a complete known event has no problems', () => {
    const result = validateEnvelope({
      id: 'e',
      type: 'fine_tune.checkpoint',
      data: { fine_tune_id: 'ft', step: 10, loss: null },
    });
    expect(result).toMatchObject({ ok: true, known: true, problems: [] });
  });

  test('wrong field kinds are listed as problems, not refusals', () => {
    const result = validateEnvelope({
      id: 'e',
      type: 'fine_tune.checkpoint',
      data: { fine_tune_id: 5, step: 1.5, loss: 'high' },
    });
    expect(result).toMatchObject({
      ok: true,
      problems: [
        'data.fine_tune_id should be string',
        'data.step should be integer',
        'data.loss should be number or null',
      ],
    });
  });

  test('null where the catalogue does not allow it is a problem', () => {
    const result = validateEnvelope({
      id: 'e',
      type: 'batch.done',
      data: { batch_id: null, output_url: null, total_tokens: null },
    });
    expect(result).toMatchObject({ ok: true, problems: ['data.batch_id is null'] });
  });

  test.each([
    [null, 'body must be a JSON object'],
    ['str', 'body must be a JSON object'],
    [{ id: 'e', type: 'a\nb', data: {} }, 'type must be at most 128 printable characters (got 3)'],
    [{ id: 'e', type: 'x'.repeat(129), data: {} }, 'type must be at most 128 printable characters (got 129)'],
    [{ id: 'e', type: 'x', data: [] }, 'data must be a JSON object'],
  ])('%j is refused: %s', (value, reason) => {
    expect(validateEnvelope(value)).toEqual({ ok: false, reason });
  });
});

test('README.md carries what is generated from the catalogue and the doc comments (npm run docs)', () => {
  const file = join(__dirname, '..', '..', 'README.md');
  const readme = readFileSync(file, 'utf8');
  // Prettier 3 is ESM-only inside jest, so format in a child process, as `npm run docs` does.
  const formatted = execFileSync(
    process.execPath,
    [require.resolve('prettier/bin/prettier.cjs'), '--stdin-filepath', file],
    {
      input: generatedReadme(readme),
      encoding: 'utf8',
    },
  );
  expect(formatted).toBe(readme);
  for (const type of EVENT_TYPES) {
    expect(eventsTable()).toContain(`\`${type}\``);
    expect(exampleEvents()).toContain(`"detail-type": "${type}"`);
  }
  expect(readme).toContain('[API.md](API.md)'); // the props reference moved to API.md (test/docs/api-md.test.ts)
}, 30_000);
