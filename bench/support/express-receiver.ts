/**
 * The reference for the end-to-end benchmark: a webhook receiver written the way the seed shows it. Express, the raw
 * body, an HMAC check, JSON.parse, and an in-memory Set of ids for dedupe. No durable store, no bus: it forgets
 * everything on restart and dedupes nothing across instances, which is what our pipeline pays to avoid.
 */
import express from 'express';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { AddressInfo } from 'node:net';

const secret = process.env.SECRET!;
const seen = new Set<string>();
const app = express();
app.post('/webhooks/together', express.raw({ type: '*/*', limit: '256kb' }), (req, res) => {
  const given = Buffer.from(String(req.headers['x-together-signature'] ?? ''), 'hex');
  const expected = createHmac('sha256', secret)
    .update(req.body as Buffer)
    .digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    res.status(401).json({ error: 'bad signature' });
    return;
  }
  const event = JSON.parse((req.body as Buffer).toString('utf8')) as { id: string };
  if (seen.has(event.id)) {
    res.json({ received: true, duplicate: true });
    return;
  }
  seen.add(event.id);
  res.json({ received: true });
});
const server = app.listen(0, '127.0.0.1', () =>
  process.stdout.write(
    `listening on http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/together\n`,
  ),
);
