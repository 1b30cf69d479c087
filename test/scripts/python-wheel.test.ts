import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingTools, missingToolsMessage, WHEEL_TOOLS } from '../../scripts/python-wheel';

/** build:python:wheel on a machine without the Python build tools stops at once and names them. */
test('a Python that lacks a tool: each missing one named, with the pip line that installs them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'python-wheel-'));
  try {
    // A python3 stand-in that can import setuptools only.
    const fake = join(dir, 'python3');
    writeFileSync(fake, '#!/bin/sh\ncase "$2" in *\'"setuptools"\'*) exit 0;; esac; exit 1\n');
    chmodSync(fake, 0o755);
    expect(missingTools(fake)).toEqual(['build', 'wheel']);
    expect(missingToolsMessage(['build', 'wheel'])).toBe(
      "build:python:wheel needs the Python packages 'build', 'wheel' (python3 cannot import them): " +
        'python3 -m pip install build wheel  (where pip refuses a system Python: python3 -m venv .venv && ' +
        '. .venv/bin/activate, then the same)',
    );
    expect(missingToolsMessage(['build'])).toMatch(
      /^build:python:wheel needs the Python package 'build' \(python3 cannot import it\): python3 -m pip install build /,
    );
    // The real python3, asked from a folder holding a build/ directory (as the repository does): the folder does not
    // count as the 'build' package; the answer is an isolated python3's in an empty folder.
    mkdirSync(join(dir, 'build'));
    const isolated = WHEEL_TOOLS.filter(
      (t) =>
        spawnSync('python3', ['-I', '-c', `import ${t}`], { cwd: mkdtempSync(join(dir, 'empty-')) })
          .status !== 0,
    );
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      expect(missingTools()).toEqual(isolated);
    } finally {
      process.chdir(cwd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the check runs before the Python build, and its exit code stops the script', () => {
  const scripts = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')).scripts;
  expect(scripts['build:python:wheel']).toMatch(
    /^node --import tsx scripts\/python-wheel\.ts check && npm run build:python && node --import tsx scripts\/python-wheel\.ts build$/,
  );
  const script = join(__dirname, '..', '..', 'scripts', 'python-wheel.ts');
  const lacking = missingTools();
  const run = () =>
    execFileSync('node', ['--import', 'tsx', script, 'check'], { encoding: 'utf8', stdio: 'pipe' });
  if (lacking.length > 0) expect(run).toThrow(missingToolsMessage(lacking));
  else expect(run()).toBe('');
});
