import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventSchema, eventSchemas, schemaName } from '../../lib/event-schemas';
import { EVENT_TYPES, eventSpec, sampleEventBridgeEvent, TogetherEventType } from '../../lib/events';
import { handleWebhook } from '../../lambda/verifier/core';
import { pascal } from '../../lib/patterns';
import { schemaFiles } from '../../scripts/event-schemas';
import { LocalDynamo, startDynalite } from '../support/dynalite';
import { envelope, signedRequest } from '../support/signing';
import { harness, mockEventBridge } from '../support/verifier-harness';
import { template } from '../support/webhooks-stack';

/** One schema per catalogue type (lib/event-schemas.ts): what the opt-in registry holds and the package ships. */

// OpenAPI 3.0 documents: `nullable` is Ajv's own OpenAPI keyword; `example` and `x-amazon-*` are annotations.
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
const validators = new Map(
  EVENT_TYPES.map((type) => {
    const doc = eventSchema(type) as { components: Record<string, unknown> };
    return [type, ajv.compile({ $ref: '#/components/schemas/AWSEvent', components: doc.components })];
  }),
);
const errorsOf = (type: TogetherEventType, event: unknown) => {
  const validate = validators.get(type)!;
  return validate(event) ? [] : validate.errors!.map((e) => `${e.instancePath} ${e.message}`);
};
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

test.each(EVENT_TYPES)('%s: its sample EventBridge event validates against its schema', (type) => {
  expect(errorsOf(type, sampleEventBridgeEvent(type))).toEqual([]);
});

test.each(EVENT_TYPES)(
  '%s: a field of the wrong kind and another type are refused; a missing field Together always sends is not (the verifier publishes it)',
  (type) => {
    const [name, field] = Object.entries(eventSpec(type).fields).find(([, f]) => !f.optional)!;
    const wrong = clone(sampleEventBridgeEvent(type)) as { detail: { data: Record<string, unknown> } };
    wrong.detail.data[name] = field.kind === 'string' ? 12 : 'twelve';
    expect(errorsOf(type, wrong)).toEqual([`/detail/data/${name} must be ${field.kind}`]);
    const missing = clone(sampleEventBridgeEvent(type)) as { detail: { data: Record<string, unknown> } };
    delete missing.detail.data[name];
    expect(errorsOf(type, missing)).toEqual([]);
    const data = (eventSchema(type) as { components: { schemas: Record<string, Record<string, unknown>> } })
      .components.schemas[`${pascal(type)}Data`];
    expect(data.required).toBeUndefined();
    expect((data.properties as Record<string, { description: string }>)[name].description).toMatch(
      /Together always sends it/,
    );
    const other = EVENT_TYPES.find((t) => t !== type)!;
    expect(errorsOf(type, sampleEventBridgeEvent(other))).toContain(
      '/detail-type must be equal to one of the allowed values',
    );
  },
);

test('a nullable field takes null, a field that is not nullable does not', () => {
  const nulls = clone(sampleEventBridgeEvent('fine_tune.completed', { eval_loss: null }));
  expect(errorsOf('fine_tune.completed', nulls)).toEqual([]);
  const notNull = clone(sampleEventBridgeEvent('fine_tune.completed')) as {
    detail: { data: Record<string, unknown> };
  };
  notNull.detail.data.fine_tune_id = null;
  expect(errorsOf('fine_tune.completed', notNull)).toEqual(['/detail/data/fine_tune_id must be string']);
});

test('named as EventBridge discovery names them, each with its detail-type and source', () => {
  expect(schemaName('fine_tune.completed')).toBe('together.ai@FineTuneCompleted');
  for (const { type, name, content } of eventSchemas()) {
    expect(name).toMatch(/^[a-zA-Z0-9\-_.@]{1,385}$/); // the SchemaName pattern
    const event = (content as { components: { schemas: { AWSEvent: Record<string, unknown> } } }).components
      .schemas.AWSEvent;
    expect([event['x-amazon-events-detail-type'], event['x-amazon-events-source']]).toEqual([
      type,
      'together.ai',
    ]);
  }
});

test('the package ships them: schemas/ holds one file per type, as generated (else: npm run docs)', () => {
  const dir = join(__dirname, '..', '..', 'schemas');
  const files = schemaFiles();
  expect(readdirSync(dir).sort()).toEqual(files.map((f) => f.file).sort());
  for (const { file } of files)
    expect(JSON.parse(readFileSync(join(dir, file), 'utf8'))).toEqual(
      eventSchema(file.replace(/\.json$/, '') as TogetherEventType),
    );
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'));
  expect(pkg.files).toContain('schemas');
  expect(pkg.exports['./schemas/*']).toBe('./schemas/*');
});

describe('the opt-in registry', () => {
  test('off by default: no registry, no schema', () => {
    const t = template();
    t.resourceCountIs('AWS::EventSchemas::Registry', 0);
    t.resourceCountIs('AWS::EventSchemas::Schema', 0);
  });

  test('schemas: true creates one registry and one OpenApi3 schema per type in it, the content generated', () => {
    const t = template({ schemas: true });
    t.resourceCountIs('AWS::EventSchemas::Registry', 1);
    const schemas = Object.values(t.findResources('AWS::EventSchemas::Schema')).map(
      (r) => r.Properties as { SchemaName: string; Type: string; Content: string; RegistryName: unknown },
    );
    expect(schemas.map((s) => s.SchemaName).sort()).toEqual(EVENT_TYPES.map(schemaName).sort());
    const registryId = Object.keys(t.findResources('AWS::EventSchemas::Registry'))[0];
    for (const s of schemas) {
      expect(s.Type).toBe('OpenApi3');
      expect(s.RegistryName).toEqual({ 'Fn::GetAtt': [registryId, 'RegistryName'] });
      const type = EVENT_TYPES.find((t) => schemaName(t) === s.SchemaName)!;
      expect(JSON.parse(s.Content)).toEqual(eventSchema(type));
    }
  });

  test('a plain-JS caller passing schemas: "yes" is told what it gave', () => {
    expect(() => template({ schemas: 'yes' as unknown as boolean })).toThrow(/schemas.*"yes"|schemas.*yes/);
  });
});

describe('what the verifier publishes', () => {
  let dynamo: LocalDynamo;
  const bus = mockEventBridge();
  beforeAll(async () => {
    dynamo = await startDynalite();
  });
  afterAll(async () => {
    bus.eb.restore();
    await dynamo.stop();
  });

  test('a fine_tune.completed webhook whose data lacks fields Together always sends: published, and its schema accepts it as EventBridge delivers it', async () => {
    const h = harness({ dynamoClient: dynamo.client, table: await dynamo.createTable(`s${Date.now()}`) });
    // The verifier passes a known type whose data is incomplete ("a missed event is worse than a loose one").
    const body = envelope(
      'wh-1',
      'fine_tune.completed',
      { fine_tune_id: 'ft-1', model_name: 'acme/m' },
      new Date(h.clock.now).toISOString(),
    );
    const res = await handleWebhook(signedRequest(body), h.deps, 10_000);
    expect(res.statusCode).toBe(200);
    const entry = bus.entries().find((e) => e.Detail.includes('"wh-1"'))!;
    expect(entry).toBeDefined();
    const delivered = {
      version: '0',
      id: '6f1d2c3b-4a59-4e68-9d7c-0b1a2f3e4d5c',
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: '111111111111',
      time: '2026-11-23T10:00:00Z',
      region: 'us-east-1',
      resources: [],
      detail: JSON.parse(entry.Detail) as unknown,
    };
    expect(errorsOf('fine_tune.completed', delivered)).toEqual([]);
  });
});
