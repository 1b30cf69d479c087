import { matches } from '../../bin/cli/rules';

/** A rule's `source` and `detail-type` judged as EventBridge's content filters do (bin/cli/rules.ts). */

test.each([
  [['batch.done'], true],
  [['batch.failed', 'batch.done'], true],
  [['batch'], false],
  [[{ prefix: 'batch.' }], true],
  [[{ prefix: { 'equals-ignore-case': 'BATCH.' } }], true],
  [[{ suffix: '.done' }], true],
  [[{ suffix: { 'equals-ignore-case': '.DONE' } }], true],
  [[{ suffix: '.failed' }], false],
  [[{ 'equals-ignore-case': 'Batch.Done' }], true],
  [[{ 'anything-but': 'batch.done' }], false],
  [[{ 'anything-but': 'fine_tune.completed' }], true],
  [[{ 'anything-but': ['batch.done', 'fine_tune.completed'] }], false],
  [[{ 'anything-but': { prefix: 'batch.' } }], false],
  [[{ 'anything-but': { prefix: 'fine_tune.' } }], true],
  [[{ 'anything-but': { suffix: '.done' } }], false],
  [[{ wildcard: 'batch.*' }], true],
  [[{ wildcard: '*.do*e' }], true],
  [[{ wildcard: 'batch\\*' }], false],
  [[{ wildcard: 'fine_tune.*' }], false],
  [[{ exists: true }], true],
  [[{ exists: false }], false],
  [['x', { prefix: 'batch' }], true],
  [[{ numeric: ['>', 0] }], 'unknown'],
  [[{ cidr: '10.0.0.0/8' }], 'unknown'],
  [['x', { numeric: ['>', 0] }], 'unknown'],
  [[{ prefix: 'fine' }, { numeric: ['>', 0] }, 'batch.done'], true],
  ['batch.done', 'unknown'],
  [undefined, true],
])('detail-type %j takes batch.done: %s', (spec, verdict) => {
  expect(matches(spec, 'batch.done')).toBe(verdict);
});
