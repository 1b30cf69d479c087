import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ts from 'typescript';
import {
  EVENT_CATALOGUE,
  EVENT_TYPES,
  EventCatalogue,
  sampleEvent,
  sampleEventBridgeEvent,
  TogetherEvent,
  TogetherEventBridgeEvent,
  TogetherEventData,
  TogetherEventType,
  validateEnvelope,
} from '../../lib/events';

/*
 * The typed events are exact: each type's `data` has its catalogue fields and nothing else, so a misspelt field
 * is a compile error. `tsc --noEmit -p .` (npm test) checks this file: every `@ts-expect-error` below must meet an
 * error, or tsc says "Unused '@ts-expect-error' directive". The last test compiles this file again without the
 * directives and checks that each line fails with the error its directive names (TS2339 an unknown property,
 * TS2322 a wrong kind, TS2353 an extra field in a literal; TS2551 and TS2561 are the first two with TypeScript's
 * "Did you mean" suggestion), so no directive is met by some other mistake.
 */

/** The error each kind of mistake gets, whether or not TypeScript suggests a near name ("Did you mean ..."). */
const SAME_ERROR: Readonly<Record<number, number>> = { 2551: 2339, 2561: 2353 };

type Exactly<A, B> = (<V>() => V extends A ? 1 : 2) extends <V>() => V extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;

/** Compile-time only: the data types, whole. */
export type ExactShapes = [
  Assert<
    Exactly<
      TogetherEventData<'fine_tune.completed'>,
      { readonly fine_tune_id: string; readonly model_name: string; readonly eval_loss: number | null }
    >
  >,
  Assert<Exactly<TogetherEventData<'fine_tune.cancelled'>, { readonly fine_tune_id: string }>>,
  Assert<
    Exactly<
      TogetherEventData<'model.deprecated'>,
      {
        readonly model_id: string;
        readonly replacement_model: string | null;
        readonly sunset_date: string | null;
        readonly missing_since?: string;
      }
    >
  >,
  Assert<
    Exactly<
      TogetherEventData<'batch.done'>,
      {
        readonly batch_id: string;
        readonly output_url: string | null;
        readonly total_tokens: number | null;
        readonly status?: string;
        readonly output_file_id?: string | null;
        readonly error_file_id?: string | null;
      }
    >
  >,
  // Every type: the data's keys are the catalogue's field names, no more, no fewer.
  Assert<
    Exactly<
      { [T in TogetherEventType]: keyof TogetherEventData<T> },
      { [T in TogetherEventType]: keyof EventCatalogue[T]['fields'] }
    >
  >,
  // A handler's event carries the same data type.
  Assert<
    Exactly<
      TogetherEventBridgeEvent<'fine_tune.failed'>['detail']['data'],
      TogetherEventData<'fine_tune.failed'>
    >
  >,
];

/* Reading: each function reads every field of its type with the type it has, and shows what does not compile. */

function readCompleted(event: TogetherEventBridgeEvent<'fine_tune.completed'>) {
  const d = event.detail.data;
  const fineTuneId: string = d.fine_tune_id;
  const modelName: string = d.model_name;
  const evalLoss: number | null = d.eval_loss;
  // @ts-expect-error TS2339: a misspelt field
  const typo = d.modle_name;
  // @ts-expect-error TS2322: a nullable field is not a number until checked
  const loss: number = d.eval_loss;
  // @ts-expect-error TS2322: a string field is not a number
  const asNumber: number = d.model_name;
  const key: string = event.detail.outcome_key;
  const type: 'fine_tune.completed' = event['detail-type'];
  return { fineTuneId, modelName, evalLoss, typo, loss, asNumber, key, type };
}

function readFailed(event: TogetherEventBridgeEvent<'fine_tune.failed'>) {
  const { fine_tune_id: fineTuneId, error_message: errorMessage, step } = event.detail.data;
  const atStep: number | null = step;
  // @ts-expect-error TS2339: camelCase is not the field's name
  const camel = event.detail.data.errorMessage;
  // @ts-expect-error TS2339: a field of another type (fine_tune.completed)
  const other = event.detail.data.model_name;
  return { fineTuneId, errorMessage, atStep, camel, other };
}

function readCheckpoint(event: TogetherEventBridgeEvent<'fine_tune.checkpoint'>) {
  const d = event.detail.data;
  const step: number = d.step;
  const loss: number | null = d.loss;
  // @ts-expect-error TS2322: an integer field is not a string
  const stepText: string = d.step;
  // @ts-expect-error TS2339: a misspelt field
  const steps = d.steps;
  return { id: d.fine_tune_id, step, loss, stepText, steps };
}

function readDeprecated(event: TogetherEventBridgeEvent<'model.deprecated'>) {
  const d = event.detail.data;
  const modelId: string = d.model_id;
  const replacement: string | null = d.replacement_model;
  const sunset: string | null = d.sunset_date;
  const missingSince: string | undefined = d.missing_since;
  // @ts-expect-error TS2322: an optional field may be absent
  const since: string = d.missing_since;
  // @ts-expect-error TS2322: a nullable field may be null
  const sure: string = d.replacement_model;
  // @ts-expect-error TS2339: a misspelt field
  const typo = d.sunset;
  return { modelId, replacement, sunset, missingSince, since, sure, typo };
}

function readBatchDone(event: TogetherEventBridgeEvent<'batch.done'>) {
  const d = event.detail.data;
  const fileId: string | null | undefined = d.output_file_id;
  const status: string | undefined = d.status;
  const tokens: number | null = d.total_tokens;
  // @ts-expect-error TS2322: optional and nullable: neither absent nor null is excluded
  const file: string | null = d.error_file_id;
  // @ts-expect-error TS2339: a misspelt field
  const url = d.output_uri;
  return { id: d.batch_id, out: d.output_url, fileId, status, tokens, file, url };
}

function readCollected(event: TogetherEventBridgeEvent<'batch.collected'>) {
  const d = event.detail.data;
  const counts: number[] = [
    d.lines,
    d.failed_lines,
    d.total_tokens,
    d.prompt_tokens,
    d.completion_tokens,
    d.bytes,
  ];
  const uris: (string | null)[] = [d.s3_uri, d.error_s3_uri];
  // @ts-expect-error TS2339: a misspelt field
  const typo = d.s3uri;
  return { id: d.batch_id, counts, uris, typo };
}

function readOthers(
  stalled: TogetherEventBridgeEvent<'fine_tune.stalled'>,
  evaluated: TogetherEventBridgeEvent<'evaluation.completed'>,
  evalFailed: TogetherEventBridgeEvent<'evaluation.failed'>,
  ready: TogetherEventBridgeEvent<'endpoint.ready'>,
  endpointFailed: TogetherEventBridgeEvent<'endpoint.failed'>,
) {
  const s = stalled.detail.data;
  const e = evaluated.detail.data;
  const f = evalFailed.detail.data;
  const r = ready.detail.data;
  const x = endpointFailed.detail.data;
  const strings: string[] = [s.fine_tune_id, s.status, s.since, e.workflow_id, e.summary];
  const scores: (number | null)[] = [e.pass_percentage, e.mean_score];
  const maybe: (string | null)[] = [e.evaluation_type, e.result_file_id];
  const failed: string[] = [f.workflow_id, f.status, f.error_message];
  const endpoints: string[] = [r.endpoint_id, r.endpoint_name, r.model, r.since, x.state, x.since];
  // @ts-expect-error TS2339: endpoint.ready has no state
  const state = r.state;
  // @ts-expect-error TS2339: a misspelt field
  const score = e.mean_scor;
  return { strings, scores, maybe, failed, endpoints, state, score };
}

/** Every type's events at once: a field is readable only after narrowing on the type. */
function readAny(event: TogetherEventBridgeEvent) {
  // @ts-expect-error TS2339: not every type has fine_tune_id
  const unnarrowed = event.detail.data.fine_tune_id;
  const e: TogetherEvent = event.detail;
  switch (e.type) {
    case 'fine_tune.completed':
      return { unnarrowed, model: e.data.model_name };
    case 'batch.done':
      // @ts-expect-error TS2339: batch.done has no model_name
      return { unnarrowed, model: e.data.model_name };
    default:
      return { unnarrowed, model: undefined };
  }
}

/* Creating: extra and misspelt fields in an object literal are errors (TypeScript checks literals only). */

function created(): TogetherEventData<'fine_tune.completed'>[] {
  const exact: TogetherEventData<'fine_tune.completed'> = {
    fine_tune_id: 'ft-1',
    model_name: 'acme/m',
    eval_loss: null,
  };
  const extra: TogetherEventData<'fine_tune.completed'> = {
    fine_tune_id: 'ft-1',
    model_name: 'acme/m',
    eval_loss: 0.5,
    // @ts-expect-error TS2353: a field the type does not have
    modle_name: 'acme/m',
  };
  const wrongKind: TogetherEventData<'fine_tune.checkpoint'> = {
    fine_tune_id: 'ft-1',
    // @ts-expect-error TS2322: step is an integer
    step: '40',
    loss: null,
  };
  const optionalLeftOut: TogetherEventData<'model.deprecated'> = {
    model_id: 'm',
    replacement_model: null,
    sunset_date: null,
  };
  const notNullable: TogetherEventData<'model.deprecated'> = {
    // @ts-expect-error TS2322: model_id is not nullable
    model_id: null,
    replacement_model: null,
    sunset_date: null,
  };
  // A typed function's returned literal is checked the same way.
  const toData = (id: string): TogetherEventData<'fine_tune.completed'> => ({
    fine_tune_id: id,
    model_name: 'acme/m',
    eval_loss: 0.5,
    // @ts-expect-error TS2353: camelCase is not the field name
    evalLoss: 0.5,
  });
  const event: TogetherEventBridgeEvent<'fine_tune.failed'> = {
    version: '0',
    id: 'x',
    'detail-type': 'fine_tune.failed',
    source: 'together.ai',
    account: '1',
    time: '',
    region: 'us-east-1',
    resources: [],
    detail: {
      id: 'e',
      type: 'fine_tune.failed',
      // @ts-expect-error TS2353: a field of another type, inside the event
      data: { fine_tune_id: 'f', error_message: 'boom', step: null, model_name: 'm' },
      outcome_key: 'fine_tune.failed:f',
    },
  };
  // What TypeScript cannot catch: a value that is not a literal may carry more (the verifier passes extra fields
  // a sender adds through, too). Such fields are in the JSON, not in the type.
  const wider = { ...exact, note: 'from a variable' };
  const fromVariable: TogetherEventData<'fine_tune.completed'> = wider;
  void [wrongKind, optionalLeftOut, notNullable, event];
  return [exact, extra, toData('ft-2'), fromVariable];
}

/* The samples' data: only the type's own fields, each of its kind. */

function samples() {
  const given = sampleEvent('fine_tune.completed', 'evt_1', { eval_loss: null });
  const bridgedSample: TogetherEventBridgeEvent<'model.deprecated'> = sampleEventBridgeEvent(
    'model.deprecated',
    {
      missing_since: undefined,
    },
  );
  // Each also throws at run time (for plain JavaScript), so these are functions the test calls.
  // @ts-expect-error TS2353: a misspelt field in a sample's data
  const typo = () => sampleEvent('fine_tune.completed', 'evt_2', { modle_name: 'acme/m' });
  // @ts-expect-error TS2353: a field of another type
  const other = () => sampleEventBridgeEvent('fine_tune.failed', { model_name: 'acme/m' });
  // @ts-expect-error TS2322: a wrong kind in a sample's data (run time leaves kinds to the types)
  const kind = sampleEventBridgeEvent('fine_tune.checkpoint', { step: '40' });
  // A handler for one type takes only its own type's sample.
  const forCompleted = (event: TogetherEventBridgeEvent<'fine_tune.completed'>) =>
    event.detail.data.model_name;
  // @ts-expect-error TS2345: a batch.done event is not a fine_tune.completed one
  const wrongType = forCompleted(sampleEventBridgeEvent('batch.done'));
  return { given, bridgedSample, typo, other, kind, wrongType };
}

/** Narrowing an event of several types on `detail-type` narrows its data. */
function byDetailType(event: TogetherEventBridgeEvent<'fine_tune.failed' | 'endpoint.failed'>): string {
  if (event['detail-type'] === 'fine_tune.failed') return event.detail.data.error_message;
  // @ts-expect-error TS2339: endpoint.failed has no error_message
  void event.detail.data.error_message;
  return event.detail.data.state;
}

/** An EventBridge event around `sampleEvent(type)`, as a handler receives it. */
function bridged<T extends TogetherEventType>(type: T): TogetherEventBridgeEvent<T> {
  const detail = { ...sampleEvent(type), outcome_key: `${type}:sample` };
  return {
    version: '0',
    id: 'bridge',
    'detail-type': type,
    source: 'together.ai',
    account: '111111111111',
    time: '2026-11-23T12:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  } as TogetherEventBridgeEvent<T>;
}

describe('the typed events (this file is also a compile-time test: tsc --noEmit)', () => {
  test.each(EVENT_TYPES)(
    '%s: the sample has exactly the catalogue fields, and validates cleanly',
    (type: TogetherEventType) => {
      const sample = sampleEvent(type);
      expect(Object.keys(sample.data)).toEqual(Object.keys(EVENT_CATALOGUE[type].fields));
      expect(validateEnvelope(sample)).toMatchObject({ ok: true, known: true, problems: [] });
    },
  );

  test('the reading functions read the samples with the types they declare', () => {
    expect(readCompleted(bridged('fine_tune.completed'))).toMatchObject({
      fineTuneId: 'ft-8a7b6c5d',
      modelName: 'acme/Meta-Llama-3.1-8B-Instruct-ft',
      evalLoss: 0.4213,
      typo: undefined,
      key: 'fine_tune.completed:sample',
      type: 'fine_tune.completed',
    });
    expect(readFailed(bridged('fine_tune.failed'))).toMatchObject({ atStep: 120, camel: undefined });
    expect(readCheckpoint(bridged('fine_tune.checkpoint'))).toMatchObject({ step: 40, loss: 1.0831 });
    expect(readDeprecated(bridged('model.deprecated'))).toMatchObject({
      modelId: 'meta-llama/Llama-2-70b-chat-hf',
      missingSince: '2026-11-23T11:00:00.000Z',
      typo: undefined,
    });
    expect(readBatchDone(bridged('batch.done'))).toMatchObject({ fileId: 'file-9a8b7c', file: null });
    expect(readCollected(bridged('batch.collected')).counts).toEqual([
      1200, 3, 1843200, 1228800, 614400, 5242880,
    ]);
    const others = readOthers(
      bridged('fine_tune.stalled'),
      bridged('evaluation.completed'),
      bridged('evaluation.failed'),
      bridged('endpoint.ready'),
      bridged('endpoint.failed'),
    );
    expect(others).toMatchObject({ scores: [82.5, 7.4], state: undefined, score: undefined });
    expect(readAny(bridged('fine_tune.completed')).model).toBe('acme/Meta-Llama-3.1-8B-Instruct-ft');
    expect(readAny(bridged('batch.done'))).toEqual({ unnarrowed: undefined, model: undefined });
    expect(created().map((d) => d.fine_tune_id)).toEqual(['ft-1', 'ft-1', 'ft-2', 'ft-1']);
    const made = samples();
    expect(made).toMatchObject({ given: { data: { eval_loss: null } }, wrongType: undefined });
    expect(made.bridgedSample.detail.data).not.toHaveProperty('missing_since');
    expect(made.typo).toThrow('data.modle_name is not a field of fine_tune.completed');
    expect(made.other).toThrow('data.model_name is not a field of fine_tune.failed');
    expect(made.kind.detail.data.step).toBe('40');
    expect(() => byDetailType(bridged('fine_tune.failed'))).not.toThrow();
    expect(byDetailType(bridged('fine_tune.failed'))).toBe('Training data contains invalid JSONL on line 12');
    expect(byDetailType(bridged('endpoint.failed'))).toBe('ERROR');
  });

  test("every @ts-expect-error here meets the error it names, on its line: this file's lines fail without them", () => {
    const file = join(__dirname, 'events-types.test.ts');
    const source = readFileSync(file, 'utf8');
    const expected = new Map<number, number>();
    const stripped = source
      .split('\n')
      .map((line, i) => {
        const directive = /^(\s*)\/\/ @ts-expect-error TS(\d+): /.exec(line);
        if (!directive) return line;
        expected.set(i + 1, Number(directive[2]));
        return `${directive[1]}// (directive removed)`;
      })
      .join('\n');
    // Every directive names its error (none is left out of the check), and there are some.
    expect(expected.size).toBe(source.split('\n').filter((l) => /^\s*\/\/ @ts-expect-error/.test(l)).length);
    expect(expected.size).toBeGreaterThanOrEqual(20);
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.CommonJS,
      moduleResolution: ts.ModuleResolutionKind.Node10,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      esModuleInterop: true,
      types: ['node', 'jest'],
    };
    const host = ts.createCompilerHost(options);
    const read = host.readFile;
    host.readFile = (name) => (name === file ? stripped : read(name));
    const program = ts.createProgram([file], options, host);
    const found = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName === file)
      .map((d) => ({
        line: d.file!.getLineAndCharacterOfPosition(d.start ?? 0).line,
        code: SAME_ERROR[d.code] ?? d.code,
        text: ts.flattenDiagnosticMessageText(d.messageText, ' '),
      }));
    // Each directive's next line fails with the error it names; no other line fails.
    const want = [...expected].map(([line, code]) => ({ line, code }));
    expect(found.map(({ line, code }) => ({ line, code }))).toEqual(want);
    // What a user sees: the type spelled out, and the field meant.
    // (TypeScript prints the members in the order it met them, which is not the catalogue's.)
    const typo = found.find((d) => d.text.includes("'modle_name' does not exist on type"))?.text ?? '';
    expect(typo).toMatch(/Did you mean 'model_name'\?$/);
    for (const member of [
      'readonly fine_tune_id: string;',
      'readonly model_name: string;',
      'readonly eval_loss: number | null;',
    ])
      expect(typo).toContain(member);
  }, 60_000);
});
