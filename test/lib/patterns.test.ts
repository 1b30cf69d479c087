import { alertPattern, matchesPattern, routePattern } from '../../lib/patterns';

/** The local bus routes with the construct's own patterns; the matcher must agree with EventBridge on them. */

const event = (type: string, data: Record<string, unknown> = {}) => ({
  version: '0',
  source: 'together.ai',
  'detail-type': type,
  detail: { id: 'e', type, data },
});

test('a route matches its type from our source, nothing else', () => {
  const p = routePattern('fine_tune.completed');
  expect(p).toEqual({ source: ['together.ai'], 'detail-type': ['fine_tune.completed'] });
  expect(matchesPattern(p, event('fine_tune.completed'))).toBe(true);
  expect(matchesPattern(p, event('fine_tune.failed'))).toBe(false);
  expect(matchesPattern(p, { ...event('fine_tune.completed'), source: 'aws.s3' })).toBe(false);
  expect(matchesPattern(p, { 'detail-type': 'fine_tune.completed' })).toBe(false);
});

test('alert filters: batch.done alerts only when EXPIRED; types without an alert have none', () => {
  const p = alertPattern('batch.done')!;
  expect(p).toEqual({
    source: ['together.ai'],
    'detail-type': ['batch.done'],
    detail: { data: { status: ['EXPIRED'] } },
  });
  expect(matchesPattern(p, event('batch.done', { status: 'EXPIRED' }))).toBe(true);
  expect(matchesPattern(p, event('batch.done', { status: 'COMPLETED' }))).toBe(false);
  // A missing field never matches a value list (EventBridge: the field must exist).
  expect(matchesPattern(p, event('batch.done', {}))).toBe(false);
  expect(matchesPattern(alertPattern('fine_tune.failed')!, event('fine_tune.failed'))).toBe(true);
  expect(alertPattern('fine_tune.completed')).toBeUndefined();
});

test('a list in the event matches when any element does; objects never match a value list', () => {
  expect(matchesPattern({ tags: ['a'] }, { tags: ['x', 'a'] })).toBe(true);
  expect(matchesPattern({ tags: ['a'] }, { tags: ['x'] })).toBe(false);
  expect(matchesPattern({ n: [5] }, { n: 5 })).toBe(true);
  expect(matchesPattern({ n: [5] }, { n: '5' })).toBe(false);
  expect(matchesPattern({ d: { x: ['1'] } }, { d: '1' })).toBe(false);
  expect(matchesPattern({ d: ['1'] }, null)).toBe(false);
});
