/**
 * The benchmark's other side, in its own process so the poller's CPU time is the poller's alone: the fake Together
 * answering after a fixed latency, and dynalite for the claims and the state. Driven over IPC by bench/poller.ts.
 */
import { FakeTogether } from '../../test/support/fake-together';
import { startDynalite } from '../../test/support/dynalite';
import { fineTune, fineTuneEvent, HOUR, MINUTE, model } from '../../test/support/together-fixtures';

type Command =
  | { id: number; cmd: 'jobs'; total: number; unfinished: number; now: number }
  | { id: number; cmd: 'table' }
  | { id: number; cmd: 'requests' }
  | { id: number; cmd: 'stop' };

async function main() {
  const latencyMs = Number(process.env.LATENCY_MS ?? 50);
  const together = await new FakeTogether().start();
  together.latency = () => new Promise((resolve) => setTimeout(resolve, latencyMs));
  const dynamo = await startDynalite();
  const reply = (id: number, value: unknown) => process.send!({ id, value });

  process.on('message', async (m: Command) => {
    switch (m.cmd) {
      case 'jobs': {
        together.reset();
        together.latency = () => new Promise((resolve) => setTimeout(resolve, latencyMs));
        // Finished jobs spread over the last 30 days (nearly all before the first poll's lookback); running ones
        // with a checkpoint each.
        for (let i = 0; i < m.total; i++) {
          const id = `ft-${String(i).padStart(6, '0')}`;
          if (i < m.unfinished) {
            together.jobs.fineTunes.push(fineTune(id, 'running', m.now - 5 * MINUTE));
            together.jobs.events.set(id, [
              fineTuneEvent('training_start', m.now - 20 * MINUTE),
              fineTuneEvent('checkpoint_save', m.now - 2 * MINUTE, { step: 10 }),
            ]);
            together.jobs.metrics.set(id, [{ 'train/loss': 1.5, 'train/global_step': 10 }]);
          } else {
            together.jobs.fineTunes.push(
              fineTune(id, 'completed', m.now - ((i * 7919) % (30 * 24)) * HOUR - MINUTE),
            );
          }
        }
        together.jobs.models = [model('meta-llama/Llama-3.3-70B-Instruct-Turbo')];
        reply(m.id, { baseUrl: together.baseUrl, apiKey: together.apiKey, endpoint: dynamo.endpoint });
        return;
      }
      case 'table':
        reply(m.id, await dynamo.createTable('bench'));
        return;
      case 'requests': {
        const count = together.requests.length;
        together.requests.length = 0;
        together.answers.length = 0;
        reply(m.id, count);
        return;
      }
      case 'stop':
        await together.stop();
        await dynamo.stop();
        reply(m.id, true);
        process.exit(0);
    }
  });
  process.send!({ id: 0, value: 'ready' });
}

void main();
