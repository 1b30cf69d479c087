/** The README's event table, generated from the catalogue: `npm run docs` rewrites it, a test keeps it honest. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TYPES, eventSpec } from '../lib/events';

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
    return `| \`${type}\`${spec.pollerOnly ? ' (poller)' : ''} | ${spec.description} | ${fields} | ${alert} |`;
  });
  return [
    '| detail-type | when | `data` fields (`?`: may be absent) | alert topic |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

export function withTable(readme: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md needs the markers ${BEGIN} ... ${END}`);
  return readme.slice(0, start + BEGIN.length) + '\n\n' + eventsTable() + '\n\n' + readme.slice(end);
}

if (require.main === module) {
  const file = join(__dirname, '..', 'README.md');
  writeFileSync(file, withTable(readFileSync(file, 'utf8')));
}
