/**
 * What is generated from the event catalogue: the README's compact event table, and docs/events.md's full table and
 * an example event per type. `npm run docs` rewrites them (and API.md, scripts/props-reference.ts); tests keep them
 * honest (test/docs/generated.test.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EVENT_SOURCE,
  EVENT_TYPES,
  EventSpec,
  eventSpec,
  handlerProperty,
  outcomeKey,
  sampleEvent,
  TogetherEventType,
} from '../lib/events';

export const BEGIN = '<!-- events:begin (generated from lib/events.ts by `npm run docs`) -->';
export const END = '<!-- events:end -->';

/** Whether the event goes to the alert topic: `yes`, or the condition. */
function alertCell(spec: EventSpec): string {
  const when = spec.alert?.when;
  if (!spec.alert) return '';
  if (!when) return 'yes';
  return `when ${Object.entries(when)
    .map(([k, v]) => `\`${k}\` is ${v.join(' or ')}`)
    .join(', ')}`;
}

/** The type, and who produces it when not Together. */
function typeCell(type: TogetherEventType): string {
  const producer = eventSpec(type).producer;
  return `\`${type}\`${producer ? ` (${producer})` : ''}`;
}

/** docs/events.md's table: every type with its `data` fields. */
export function eventsTable(): string {
  const rows = EVENT_TYPES.map((type) => {
    const spec = eventSpec(type);
    const fields = Object.entries(spec.fields)
      .map(([name, f]) => `\`${name}\`${f.optional ? '?' : ''} (${f.kind}${f.nullable ? ' or null' : ''})`)
      .join(', ');
    return `| ${typeCell(type)} | ${spec.description} | ${fields} | ${alertCell(spec)} |`;
  });
  return [
    '| detail-type | when | `data` fields (`?`: may be absent) | alert topic |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The README's table: type, when, alert; the fields are in docs/events.md. */
export function compactEventsTable(): string {
  const rows = EVENT_TYPES.map((type) => {
    const spec = eventSpec(type);
    return `| ${typeCell(type)} | ${spec.description} | ${alertCell(spec)} |`;
  });
  return ['| detail-type | when | alert topic |', '| --- | --- | --- |', ...rows].join('\n');
}

function between(file: string, text: string, begin: string, end: string, content: string): string {
  const start = text.indexOf(begin);
  const stop = text.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`${file} needs the markers ${begin} ... ${end}`);
  return text.slice(0, start + begin.length) + '\n\n' + content + '\n\n' + text.slice(stop);
}

export const EXAMPLES_BEGIN = '<!-- examples:begin (generated from lib/events.ts by `npm run docs`) -->';
export const EXAMPLES_END = '<!-- examples:end -->';

/** What a handler subscribed to `type` receives: the EventBridge event around the catalogue's sample. */
export function exampleEvents(): string {
  return EVENT_TYPES.map((type, i) => {
    const event = {
      version: '0',
      id: `0f1e2d3c-4b5a-4697-8${String(i).padStart(3, '0')}-5a4b3c2d1e0f`,
      'detail-type': type,
      source: EVENT_SOURCE,
      account: '123456789012',
      time: '2026-11-23T12:00:01Z',
      region: 'us-east-1',
      resources: [],
      detail: (() => {
        const sample = sampleEvent(type, `evt_01J${String(i).padStart(3, '0')}EXAMPLE`);
        return { ...sample, outcome_key: outcomeKey(sample) };
      })(),
    };
    return [
      `<details><summary><code>${type}</code>: <code>TogetherEventBridgeEvent&lt;'${type}'&gt;</code>, ` +
        `handlers.${handlerProperty(type)}</summary>`,
      '',
      '```json',
      JSON.stringify(event, null, 2),
      '```',
      '',
      '</details>',
    ].join('\n');
  }).join('\n\n');
}

/** The README with its compact event table regenerated. */
export function generatedReadme(readme: string): string {
  return between('README.md', readme, BEGIN, END, compactEventsTable());
}

/** docs/events.md with its full table and example events regenerated. */
export function generatedEventsDoc(doc: string): string {
  const withTable = between('docs/events.md', doc, BEGIN, END, eventsTable());
  return between('docs/events.md', withTable, EXAMPLES_BEGIN, EXAMPLES_END, exampleEvents());
}

/** Each file this script writes, and how. */
export const GENERATED: ReadonlyArray<readonly [string, (text: string) => string]> = [
  ['README.md', generatedReadme],
  [join('docs', 'events.md'), generatedEventsDoc],
];

if (require.main === module) {
  for (const [name, generate] of GENERATED) {
    const file = join(__dirname, '..', name);
    writeFileSync(file, generate(readFileSync(file, 'utf8')));
  }
}
