/**
 * `npm run build:python:wheel`: the Python package jsii-pacmak generated (dist/jsii/python) built into a wheel in
 * dist/wheel/ with `python3 -m build --no-isolation` (jsii-pacmak's own build pins a setuptools the package index
 * may lack). `check` runs first, before the minutes of `npm run build:python`: it names the Python packages the
 * build needs that python3 cannot import, and the one command that installs them.
 *   node --import tsx scripts/python-wheel.ts check|build
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

/** What `python3 -m build --wheel --no-isolation` imports from the running Python. */
export const WHEEL_TOOLS = ['build', 'setuptools', 'wheel'] as const;

/**
 * The tools `python` cannot find. Looked up without the current directory on the path: run from the repository,
 * `import build` would find its build/ folder (the example handlers' bundles) and answer yes.
 */
export function missingTools(python = 'python3', tools: readonly string[] = WHEEL_TOOLS): string[] {
  const find = (tool: string) =>
    'import importlib.util, sys; sys.path = [p for p in sys.path if p not in ("", ".")]; ' +
    `sys.exit(0 if importlib.util.find_spec(${JSON.stringify(tool)}) else 1)`;
  return tools.filter((tool) => spawnSync(python, ['-c', find(tool)], { stdio: 'ignore' }).status !== 0);
}

export function missingToolsMessage(missing: readonly string[], python = 'python3'): string {
  const names = missing.map((m) => `'${m}'`).join(', ');
  return (
    `build:python:wheel needs the Python package${missing.length > 1 ? 's' : ''} ${names} (${python} cannot import ` +
    `${missing.length > 1 ? 'them' : 'it'}): ${python} -m pip install ${missing.join(' ')}  ` +
    `(where pip refuses a system Python: ${python} -m venv .venv && . .venv/bin/activate, then the same)`
  );
}

function build(root: string, python: string): number {
  const dir = join(root, 'dist', 'jsii', 'python');
  const args = [
    '-m',
    'build',
    '--wheel',
    '--no-isolation',
    '--skip-dependency-check',
    '--outdir',
    '../../wheel',
    '.',
  ];
  const result = spawnSync(python, args, { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  if (result.status !== 0) return result.status ?? 1;
  const wheels = readdirSync(join(root, 'dist', 'wheel')).filter((f) => f.endsWith('.whl'));
  console.error(`built ${wheels.map((w) => `dist/wheel/${w}`).join(', ')}`);
  return 0;
}

if (require.main === module) {
  const python = 'python3';
  const command = process.argv[2];
  const missing = missingTools(python);
  if (missing.length > 0) {
    console.error(missingToolsMessage(missing, python));
    process.exit(1);
  }
  if (command === 'build') process.exit(build(join(__dirname, '..'), python));
  else if (command !== 'check') {
    console.error(`usage: python-wheel.ts check|build (received ${JSON.stringify(command)})`);
    process.exit(2);
  }
}
