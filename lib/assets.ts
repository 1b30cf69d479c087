import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Where a pre-built handler bundle lives: `assets/<name>` at the package root, one level above `lib/` in this
 * repository and two above `dist/lib/` in the published package.
 */
export function handlerAsset(name: string): string {
  const candidates = [join(__dirname, '..', 'assets', name), join(__dirname, '..', '..', 'assets', name)];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.js')));
  if (!found) {
    throw new Error(
      `together-webhooks: the bundled ${name} handler is missing (looked in ${candidates.join(', ')}). ` +
        'In a checkout of this repository run `npm run build:handlers`.',
    );
  }
  return found;
}
