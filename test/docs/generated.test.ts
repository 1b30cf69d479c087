import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TYPES } from '../../lib/events';
import {
  compactEventsTable,
  eventsTable,
  exampleEvents,
  GENERATED,
  generatedEventsDoc,
  generatedReadme,
} from '../../scripts/readme-table';

/** What scripts/readme-table.ts writes from the catalogue is what is committed (`npm run docs`). */

const root = join(__dirname, '..', '..');

/** Prettier 3 is ESM-only inside jest, so format in a child process, as `npm run docs` does. */
function prettier(text: string, file: string): string {
  return execFileSync(
    process.execPath,
    [require.resolve('prettier/bin/prettier.cjs'), '--stdin-filepath', file],
    {
      input: text,
      encoding: 'utf8',
    },
  );
}

test.each(GENERATED.map(([name, generate]) => [name, generate] as const))(
  '%s carries what is generated from the catalogue (else: npm run docs)',
  (name, generate) => {
    const file = join(root, name);
    const committed = readFileSync(file, 'utf8');
    expect(prettier(generate(committed), file)).toBe(committed);
  },
  30_000,
);

test('the README has the compact table, docs/events.md every field and a sample event per type', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const events = readFileSync(join(root, 'docs', 'events.md'), 'utf8');
  for (const type of EVENT_TYPES) {
    expect(compactEventsTable()).toContain(`\`${type}\``);
    expect(eventsTable()).toContain(`\`${type}\``);
    expect(exampleEvents()).toContain(`"detail-type": "${type}"`);
    expect(readme).toMatch(new RegExp(`^\\| \`${type.replace('.', '\\.')}\``, 'm'));
    expect(events).toContain(`"detail-type": "${type}"`);
  }
  expect(eventsTable()).toContain('`model_name` (string)');
  expect(compactEventsTable()).not.toContain('`model_name`');
  expect(readme).not.toContain('"detail-type"'); // the sample JSON lives in docs/events.md
});

test('a file without its markers is refused by name', () => {
  expect(() => generatedReadme('# no markers')).toThrow(/README\.md needs the markers <!-- events:begin/);
  expect(() => generatedEventsDoc('# no markers')).toThrow(/docs\/events\.md needs the markers/);
});
