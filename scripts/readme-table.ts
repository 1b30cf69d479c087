/**
 * The README's generated parts: the event table and an example event per type from the catalogue, and the props
 * reference from the doc comments. `npm run docs` rewrites them; tests keep them honest.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  EVENT_SOURCE,
  EVENT_TYPES,
  eventSpec,
  handlerProperty,
  outcomeKey,
  sampleEvent,
} from '../lib/events';
import { withProps } from './props-reference';

export const BEGIN = '<!-- events:begin (generated from lib/events.ts by `npm run docs`) -->';
export const END = '<!-- events:end -->';

export function eventsTable(): string {
  const rows = EVENT_TYPES.map((type) => {
    const spec = eventSpec(type);
    const fields = Object.entries(spec.fields)
      .map(([name, f]) => `\`${name}\`${f.optional ? '?' : ''} (${f.kind}${f.nullable ? ' or null' : ''})`)
      .join(', ');
    const when = spec.alert?.when;
    const alert = !spec.alert
      ? ''
      : when
        ? `when ${Object.entries(when)
            .map(([k, v]) => `\`${k}\` is ${v.join(' or ')}`)
            .join(', ')}`
        : 'yes';
    return `| \`${type}\`${spec.producer ? ` (${spec.producer})` : ''} | ${spec.description} | ${fields} | ${alert} |`;
  });
  return [
    '| detail-type | when | `data` fields (`?`: may be absent) | alert topic |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

function between(readme: string, begin: string, end: string, content: string): string {
  const start = readme.indexOf(begin);
  const stop = readme.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`README.md needs the markers ${begin} ... ${end}`);
  return readme.slice(0, start + begin.length) + '\n\n' + content + '\n\n' + readme.slice(stop);
}

export function withTable(readme: string): string {
  return between(readme, BEGIN, END, eventsTable());
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

export function withExamples(readme: string): string {
  return between(readme, EXAMPLES_BEGIN, EXAMPLES_END, exampleEvents());
}

/** Every generated part of the README, from the sources. */
export function generatedReadme(readme: string): string {
  return withProps(withExamples(withTable(readme)));
}

if (require.main === module) {
  const file = join(__dirname, '..', 'README.md');
  writeFileSync(file, generatedReadme(readFileSync(file, 'utf8')));
}
