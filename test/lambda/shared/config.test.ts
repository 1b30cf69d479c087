import { EnvReader } from '../../../lambda/shared/config';

interface Env {
  readonly N?: string;
  readonly J?: string;
  readonly S?: string;
  readonly P?: string;
}
const reader = (env: Record<string, string>) => new EnvReader<Env>(env);

test('a number below its bound says the bound; one that is not a number says its kind', () => {
  expect(() => reader({ N: '0' }).number('N', 1, { min: 1, integer: true, unit: 'replicas' })).toThrow(
    'N must be a whole number of replicas (at least 1), got "0"',
  );
  expect(() => reader({ N: 'two' }).number('N', 1, { min: 1 })).toThrow('N must be a number, got "two"');
  expect(() => reader({ N: '-1' }).number('N', 1, { positive: true })).toThrow(
    'N must be a positive number, got "-1"',
  );
  expect(reader({ N: '' }).number('N', 3)).toBe(3);
  expect(() => reader({}).number('N', undefined)).toThrow('environment variable N is required');
});

test('json with no fallback is required, and its shape is checked', () => {
  const isList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  expect(() => reader({}).json('J', undefined, isList)).toThrow('environment variable J is required');
  expect(() => reader({ J: '{' }).json('J', [], isList)).toThrow('J must be JSON, got "{"');
  expect(() => reader({ J: '[1]' }).json('J', [], isList)).toThrow('J has the wrong shape, got [1]');
  expect(reader({ J: '["a"]' }).json('J', [], isList)).toEqual(['a']);
});

test('oneOf, flag and verbatim', () => {
  expect(reader({}).oneOf('S', ['a', 'b'], 'a')).toBe('a');
  expect(() => reader({ S: 'c' }).oneOf('S', ['a', 'b'], 'a')).toThrow('S must be one of a, b, got "c"');
  expect(() => reader({ P: 'yes' }).flag('P')).toThrow('P must be "true" or "false", got "yes"');
  // Empty is absent for every reader but verbatim, where it is a value (a key prefix at the bucket's root).
  expect(reader({ S: '' }).optional('S')).toBeUndefined();
  expect(reader({ S: '' }).verbatim('S')).toBe('');
  expect(reader({ N: 'x'.repeat(300) }).optional('N')).toHaveLength(300);
  expect(() => reader({ N: 'x'.repeat(300) }).number('N', 1)).toThrow(`got "${'x'.repeat(100)}"`);
});
