/**
 * Writes the package's `schemas/`: one OpenAPI 3.0 document per event type (lib/event-schemas.ts, the same the
 * construct's opt-in schema registry holds), named `<type>.json`. `npm run docs` runs it; test/docs/generated.test.ts
 * keeps the committed files current.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventSchemas } from '../lib/event-schemas';

export const SCHEMAS_DIR = join(__dirname, '..', 'schemas');

/** Each file's name and text, as written. */
export function schemaFiles(): Array<{ file: string; text: string }> {
  return eventSchemas().map(({ type, content }) => ({
    file: `${type}.json`,
    text: `${JSON.stringify(content, null, 2)}\n`,
  }));
}

if (require.main === module) {
  mkdirSync(SCHEMAS_DIR, { recursive: true });
  const files = schemaFiles();
  // A type removed from the catalogue takes its file with it.
  for (const stale of readdirSync(SCHEMAS_DIR).filter((f) => !files.some((s) => s.file === f)))
    rmSync(join(SCHEMAS_DIR, stale));
  for (const { file, text } of files) writeFileSync(join(SCHEMAS_DIR, file), text);
  console.log(`schemas/: ${files.length} event schemas`);
}
