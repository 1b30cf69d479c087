import type { Plugin } from 'esbuild';
import { readFileSync } from 'node:fs';

/**
 * How the CLI bundle (assets/cli/index.js) carries dynalite, so `npx together-webhooks dev` runs in a project that
 * installed only together-webhooks. Two things in dynalite 4 need help to bundle (esbuild's async API: plugins):
 * - it requires `level` at load time for an on-disk store (`--path`), whose native LevelDB binding (classic-level)
 *   cannot be bundled; `dev` keeps its table in memory (memory-level), so `level` becomes a stub that refuses;
 * - it requires each action as `require('./actions/' + action)`: esbuild bundles the folder, keyed by file name
 *   with `.js`, so the lookup without it would miss; the suffix is added.
 * A change to either line in a new dynalite fails the build here, not `dev` at run time.
 */

const LEVEL_STUB = `exports.Level = class Level {
  constructor() { throw new Error('the together-webhooks CLI bundles dynalite in memory only (no on-disk store)'); }
};`;

const DYNAMIC_REQUIRE = /require\('\.\/(actions|validations)\/' \+ action\)/g;

export const dynaliteInBundle: Plugin = {
  name: 'dynalite-in-bundle',
  setup(build) {
    build.onResolve({ filter: /^level$/ }, () => ({ path: 'level', namespace: 'level-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'level-stub' }, () => ({ contents: LEVEL_STUB, loader: 'js' }));
    build.onLoad({ filter: /[\\/]dynalite[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const found = source.match(DYNAMIC_REQUIRE)?.length ?? 0;
      if (found !== 2)
        throw new Error(
          `${args.path}: expected dynalite's 2 require('./actions/' + action) lines, found ${found}: ` +
            'see bin/cli/bundle.ts',
        );
      return { contents: source.replace(DYNAMIC_REQUIRE, "require('./$1/' + action + '.js')"), loader: 'js' };
    });
  },
};
