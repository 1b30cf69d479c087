import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_TYPES, outcomeKey, sampleEvent } from '../../lib/events';
import { writePythonEvents } from '../../scripts/python-events';

/**
 * The Python event shapes, generated from the catalogue, checked in a real Python: the module compiles, has a
 * TypedDict per type, and each catalogue sample event has exactly the keys its TypedDict requires or allows.
 */
test('Python TypedDicts match the catalogue: every sample event fits its shape', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pyevents-'));
  try {
    writePythonEvents(join(dir, 'together_events.py'));
    const samples = Object.fromEntries(
      EVENT_TYPES.map((type) => {
        const s = sampleEvent(type);
        return [type, { ...s, outcome_key: outcomeKey(s) }];
      }),
    );
    const check = `
import json, sys, typing
sys.path.insert(0, ${JSON.stringify(dir)})
import together_events as t
samples = json.loads(sys.stdin.read())
problems = []
for type_, detail in samples.items():
    name = ''.join(p.capitalize() for p in type_.replace('.', '_').split('_'))
    event_t = getattr(t, name + 'Event')
    detail_t = typing.get_type_hints(event_t)['detail']
    data_t = typing.get_type_hints(detail_t)['data']
    for shape, value in ((detail_t, detail), (data_t, detail['data'])):
        keys = set(value)
        missing = shape.__required_keys__ - keys
        extra = keys - shape.__required_keys__ - shape.__optional_keys__
        if missing or extra:
            problems.append(f'{type_} {shape.__name__}: missing {sorted(missing)}, unknown {sorted(extra)}')
assert set(t.EVENT_TYPES) == set(samples), t.EVENT_TYPES
print(json.dumps(problems))
`;
    const out = execFileSync('python3', ['-c', check], { input: JSON.stringify(samples), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([]);
    execFileSync('python3', ['-m', 'py_compile', join(dir, 'together_events.py')]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
