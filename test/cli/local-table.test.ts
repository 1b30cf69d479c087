import { capture } from '../support/cli';

/** From the sources without dynalite installed (the bundle carries it): `dev` says so, with its prefix, exit 2. */

jest.mock('dynalite', () => {
  throw new Error("Cannot find module 'dynalite'\nRequire stack: ...");
});

test('dev without dynalite: exit 2, what did not load and where it comes from', async () => {
  const c = capture({ TOGETHER_WEBHOOK_SECRET: 's' });
  expect(await c.run('dev', '--port', '0')).toBe(2);
  expect(c.err).toEqual([
    "together-webhooks dev: dynalite, the local DynamoDB engine that holds the dedupe table, did not load (Cannot find module 'dynalite'): " +
      'the CLI bundle (npm run build:handlers) carries it; from the sources, npm install the devDependencies',
  ]);
  expect(c.out).toEqual([]);
});
