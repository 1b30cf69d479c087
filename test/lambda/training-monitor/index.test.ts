import { checkpointEvent } from '../../support/recipe-events';

/** Issue 12, recipe 4, the adapter: what the handler logs as Lambda runs it. */

describe('the adapter', () => {
  test('the handler logs why it records nothing', async () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { handler } = require('../../../lambda/training-monitor/index') as {
        handler: (e: unknown) => Promise<void>;
      };
      await handler(checkpointEvent({ fine_tune_id: 'ft-é', step: 1, loss: 1 }));
    } finally {
      spy.mockRestore();
    }
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      {
        message: 'no training loss to record',
        reason:
          'fine_tune_id "ft-é" cannot be a CloudWatch dimension value: ASCII only, no control characters',
      },
    ]);
  });
});
