import {
  EVENT_CATALOGUE,
  EVENT_TYPES,
  outcomeKey,
  sampleEvent,
  sampleEventBridgeEvent,
  TogetherEventType,
  validateEnvelope,
} from '../../lib/events';
import { handler as fineTuneCompleted } from '../../bin/handlers/fine-tune-completed';
import { handler as fineTuneCheckpoint } from '../../bin/handlers/fine-tune-checkpoint';

// The sample events, as handler tests use them: `sampleEvent` (the envelope) and `sampleEventBridgeEvent` (what
// a rule target receives), each with `data` put over the catalogue's examples.

describe('sampleEvent', () => {
  test('puts the given data over the examples, in catalogue order, and keeps the rest', () => {
    const sample = sampleEvent('fine_tune.completed', 'evt_1', { eval_loss: null, model_name: 'acme/x' });
    expect(sample).toEqual({
      id: 'evt_1',
      type: 'fine_tune.completed',
      created_at: '2026-11-23T12:00:00Z',
      data: { fine_tune_id: 'ft-8a7b6c5d', model_name: 'acme/x', eval_loss: null },
    });
    expect(Object.keys(sample.data)).toEqual(Object.keys(EVENT_CATALOGUE['fine_tune.completed'].fields));
    expect(sampleEvent('model.deprecated', 'evt_2', { missing_since: undefined }).data).not.toHaveProperty(
      'missing_since',
    );
  });

  test('without data it is the catalogue example, as before', () => {
    expect(sampleEvent('batch.done')).toEqual(sampleEvent('batch.done', 'sample-batch.done', {}));
    expect(sampleEvent('batch.done').id).toBe('sample-batch.done');
  });

  // How plain JavaScript (or a cast) reaches it: the types refuse both at compile time.
  test('a field the type does not have is refused, naming it and the fields there are', () => {
    const data = { modle_name: 'acme/x', eval_loss: 1 } as unknown as { eval_loss: number };
    expect(() => sampleEvent('fine_tune.completed', 'evt_3', data)).toThrow(
      "sampleEvent('fine_tune.completed'): data.modle_name is not a field of fine_tune.completed " +
        '(its fields: fine_tune_id, model_name, eval_loss)',
    );
  });

  test('an event type outside the catalogue is refused, naming the value received and the types', () => {
    const type = 'fine_tune.complete' as TogetherEventType;
    expect(() => sampleEvent(type)).toThrow(
      `sampleEvent: "fine_tune.complete" is not a catalogue event type (one of: ${EVENT_TYPES.join(', ')})`,
    );
  });

  test('data that is not an object is refused, showing what was received', () => {
    const data = 'acme/x' as unknown as { model_name: string };
    expect(() => sampleEvent('fine_tune.completed', 'evt_4', data)).toThrow(
      `sampleEvent('fine_tune.completed'): data must be an object of fields, got "acme/x"`,
    );
  });
});

describe('sampleEventBridgeEvent', () => {
  test.each(EVENT_TYPES)('%s: the EventBridge event a rule target receives, outcome_key included', (type) => {
    const event = sampleEventBridgeEvent(type);
    expect(event).toMatchObject({
      version: '0',
      'detail-type': type,
      source: 'together.ai',
      resources: [],
      detail: { ...sampleEvent(type), outcome_key: outcomeKey(sampleEvent(type)) },
    });
    expect(event.detail.outcome_key).toMatch(new RegExp(`^${type.replace('.', '\\.')}:`));
    expect(validateEnvelope(event.detail)).toMatchObject({ ok: true, known: true, problems: [] });
  });

  test('its outcome_key follows the data given', () => {
    const event = sampleEventBridgeEvent('fine_tune.checkpoint', { fine_tune_id: 'ft-9', step: 80 });
    expect(event.detail.outcome_key).toBe('fine_tune.checkpoint:ft-9:80');
    expect(event.detail.data).toEqual({ fine_tune_id: 'ft-9', step: 80, loss: 1.0831 });
  });
});

describe('unit-testing a handler with the samples (the example app)', () => {
  let out: jest.SpyInstance;
  let log: jest.SpyInstance;
  beforeEach(() => {
    out = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  test('fine_tune.completed logs the model', async () => {
    await fineTuneCompleted(sampleEventBridgeEvent('fine_tune.completed', { model_name: 'acme/m-ft' }));
    expect(JSON.parse(log.mock.calls[0][0] as string)).toEqual({
      message: 'fine-tune completed',
      fineTuneId: 'ft-8a7b6c5d',
      modelName: 'acme/m-ft',
      evalLoss: 0.4213,
    });
  });

  test('fine_tune.checkpoint writes a Loss metric, and nothing when the loss is unknown', async () => {
    await fineTuneCheckpoint(sampleEventBridgeEvent('fine_tune.checkpoint', { loss: 0.5 }));
    expect(JSON.parse(out.mock.calls[0][0] as string)).toMatchObject({ Loss: 0.5, step: 40 });
    out.mockClear();
    await fineTuneCheckpoint(sampleEventBridgeEvent('fine_tune.checkpoint', { loss: null }));
    expect(out).not.toHaveBeenCalled();
  });
});
