import { Construct } from 'constructs';
import * as library from '../../lib';
import { fixture, PLAIN_JS_CASES, PlainJsCase } from '../support/plain-js-cases';

// Issue 18, "every language gets our messages": props as plain JavaScript (and Python, through jsii) pass them,
// with nothing checking them before the constructor does. Missing or of the wrong kind, each must be refused with
// an Error naming the construct, the prop and the kind expected, and showing the value received: never a TypeError
// from inside CDK (`Cannot read properties of undefined (reading 'secretArn')`).

/** What `call` threw (or `undefined`). */
function thrown(c: PlainJsCase): unknown {
  try {
    c.call(fixture());
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each([...new Set(PLAIN_JS_CASES.map((c) => c.construct))])(
  '%s from plain JavaScript',
  (construct) => {
    test.each(PLAIN_JS_CASES.filter((c) => c.construct === construct).map((c) => [c.input, c] as const))(
      '%s',
      (_input, c) => {
        const error = thrown(c);
        expect(error).toBeInstanceOf(Error);
        // Not a TypeError or RangeError from inside CDK: one of ours.
        expect((error as Error).constructor).toBe(Error);
        expect((error as Error).message).toBe(c.message);
      },
    );
  },
);

test('every construct the package exports is called without its props, and with a wrong kind', () => {
  const constructs = Object.entries(library)
    .filter(([, value]) => typeof value === 'function' && value.prototype instanceof Construct)
    .map(([name]) => name)
    .sort();
  expect(constructs).toEqual([
    'TogetherAutoDeploy',
    'TogetherBatchResults',
    'TogetherFineTuneRetry',
    'TogetherJobPoller',
    'TogetherModelAliases',
    'TogetherTrainingMonitor',
    'TogetherWebhookRegistration',
    'TogetherWebhooks',
  ]);
  for (const name of constructs) {
    const cases = PLAIN_JS_CASES.filter((c) => c.construct === name);
    expect(`${name}: ${cases.some((c) => /is required/.test(c.message))}`).toBe(`${name}: true`);
    expect(`${name}: ${cases.some((c) => /must be/.test(c.message))}`).toBe(`${name}: true`);
  }
});
