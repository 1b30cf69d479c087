import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * Every relative link in README.md and docs/*.md reaches a file, and its `#anchor` a heading (GitHub's slugs) or an
 * `id` in that file: moving a section must not leave a link behind.
 */

const root = join(__dirname, '..', '..');
/** Written on other branches of issue 18; checked like any other file once it is here. */
const ELSEWHERE = new Set(['RELEASING.md']);

const pages = ['README.md', ...readdirSync(join(root, 'docs')).map((name) => join('docs', name))].filter(
  (page) => page.endsWith('.md'),
);

function withoutCode(markdown: string): string {
  return markdown
    .replace(/```[\s\S]*?```/g, '')
    .replace(/`[^`\n]*`/g, (code) => code.replace(/[[\]()]/g, ' '));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, 'utf8');
  const headings = [...text.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    slug(m[1]),
  );
  const ids = [...text.matchAll(/\bid="([^"]+)"/g)].map((m) => m[1].toLowerCase());
  return new Set([...headings, ...ids]);
}

test('slugs as GitHub makes them', () => {
  expect(slug('Testing a handler with `sampleEvent`')).toBe('testing-a-handler-with-sampleevent');
  expect(slug('Delivery guarantee, exactly')).toBe('delivery-guarantee-exactly');
  expect(slug('Five minutes: locally, then on AWS')).toBe('five-minutes-locally-then-on-aws');
});

test.each(pages)('every relative link in %s resolves', (page) => {
  const broken: string[] = [];
  const text = withoutCode(readFileSync(join(root, page), 'utf8'));
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
    const [path, anchor] = target.split('#');
    const file = path ? join(root, dirname(page), path) : join(root, page);
    if (!existsSync(file)) {
      if (!ELSEWHERE.has(relative(root, file))) broken.push(`${target}: no file ${relative(root, file)}`);
      continue;
    }
    if (anchor && file.endsWith('.md') && !anchors(file).has(anchor.toLowerCase()))
      broken.push(`${target}: no heading or id "${anchor}" in ${relative(root, file)}`);
  }
  expect(broken).toEqual([]);
});
