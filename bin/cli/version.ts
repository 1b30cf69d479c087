import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package's version, read at run time from the package.json two folders up: from assets/cli/index.js (the
 * bundle, in this repository and in an installed package) and from bin/cli/version.ts (the source, in tests) alike.
 * Node runs a bin through its real path, so `npx` and node_modules/.bin links find the same file.
 */
export function version(dir: string = __dirname): string {
  const file = join(dir, '..', '..', 'package.json');
  let pkg: { name?: unknown; version?: unknown };
  try {
    pkg = JSON.parse(readFileSync(file, 'utf8')) as typeof pkg;
  } catch (err) {
    throw new Error(`cannot read the version from ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (pkg.name !== 'together-webhooks' || typeof pkg.version !== 'string')
    throw new Error(
      `${file} is not together-webhooks' package.json (name ${JSON.stringify(pkg.name)}, version ` +
        `${JSON.stringify(pkg.version)})`,
    );
  return pkg.version;
}
