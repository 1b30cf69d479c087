import { capture } from '../support/cli';

/** `sign` and `verify`, run in-process with their output captured. */

describe('sign and verify', () => {
  const body = '{"id":"evt_1","type":"batch.done","data":{"batch_id":"b-1"}}';

  test('together-hmac: sign prints the header; verify says valid, and invalid for another body', async () => {
    const s = capture({}, body);
    expect(await s.run('sign', '--secret', 'sekret')).toBe(0);
    const [header] = s.out;
    expect(header).toMatch(/^x-together-signature: [0-9a-f]{64}$/);
    const signature = header.split(': ')[1];
    const v = capture({}, body);
    expect(await v.run('verify', '--secret', 'sekret', '--signature', signature)).toBe(0);
    expect(v.out).toEqual(['valid']);
    const bad = capture({}, body + ' ');
    expect(await bad.run('verify', '--secret', 'sekret', '--signature', signature)).toBe(1);
    expect(bad.out).toEqual(['invalid: signature does not match']);
  });

  test('standard-webhooks: id, timestamp and signature, checked by verify', async () => {
    const secret = 'whsec_' + Buffer.from('0123456789abcdef0123456789abcdef').toString('base64');
    const now = String(Math.floor(Date.now() / 1000));
    const s = capture({}, body);
    expect(
      await s.run(
        'sign',
        '--scheme',
        'standard-webhooks',
        '--secret',
        secret,
        '--id',
        'msg_1',
        '--timestamp',
        now,
      ),
    ).toBe(0);
    expect(s.out).toEqual([
      'webhook-id: msg_1',
      `webhook-timestamp: ${now}`,
      expect.stringMatching(/^webhook-signature: v1,/),
    ]);
    const v = capture({}, body);
    const signature = s.out[2].split(': ')[1];
    expect(
      await v.run(
        'verify',
        '--scheme',
        'standard-webhooks',
        '--secret',
        secret,
        '--signature',
        signature,
        '--id',
        'msg_1',
        '--timestamp',
        now,
      ),
    ).toBe(0);
  });
});
