import { lossLine, readCheckpoint, sampleTime } from '../../../lambda/training-monitor/core';
import { checkpointEvent } from '../../support/recipe-events';

/** Issue 12, recipe 4: training loss per job as a metric. */

const NOW = Date.parse('2026-11-26T12:00:00Z');

describe('the handler core', () => {
  test('a checkpoint with a loss is one TrainingLoss sample, dimension FineTuneId, dated by the checkpoint', () => {
    const c = readCheckpoint(checkpointEvent({ fine_tune_id: 'ft-1', step: 40, loss: 1.0831 }));
    expect(c).toEqual({ fine_tune_id: 'ft-1', step: 40, loss: 1.0831, created_at: '2026-11-26T11:58:00Z' });
    const line = lossLine(c as Exclude<typeof c, { skip: string }>, 'TogetherWebhooks', NOW);
    expect(line).toEqual({
      message: 'training loss',
      FineTuneId: 'ft-1',
      step: 40,
      TrainingLoss: 1.0831,
      _aws: {
        Timestamp: Date.parse('2026-11-26T11:58:00Z'),
        CloudWatchMetrics: [
          {
            Namespace: 'TogetherWebhooks',
            Dimensions: [['FineTuneId']],
            Metrics: [{ Name: 'TrainingLoss', Unit: 'None' }],
          },
        ],
      },
    });
    // The dimension's value and the metric's value are top-level members, where EMF reads them.
    const emf = line._aws as { CloudWatchMetrics: Array<{ Dimensions: string[][] }> };
    for (const d of emf.CloudWatchMetrics[0].Dimensions[0]) expect(line).toHaveProperty(d);
  });

  test('no loss (the poller may not know it) records nothing; a bad loss is skipped, not thrown', () => {
    expect(readCheckpoint(checkpointEvent({ loss: null }))).toEqual({
      skip: 'the checkpoint carries no loss',
    });
    expect(readCheckpoint(checkpointEvent({ loss: 'NaN' }))).toEqual({
      skip: 'loss is not a finite number: "NaN"',
    });
  });

  test('fine-tune ids CloudWatch refuses as a dimension value are skipped with the reason, not emitted', () => {
    // Review T3. A dimension value is 1 to 1024 ASCII characters, not all blank, no control characters.
    const skip = (id: string) => readCheckpoint(checkpointEvent({ fine_tune_id: id, step: 1, loss: 1 }));
    expect(skip('x'.repeat(1025))).toEqual({
      skip: `fine_tune_id "${'x'.repeat(60)}..." (1025 characters) cannot be a CloudWatch dimension value: at most 1024`,
    });
    expect(skip('ft-é')).toEqual({
      skip: 'fine_tune_id "ft-é" cannot be a CloudWatch dimension value: ASCII only, no control characters',
    });
    expect(skip('ft-\u0007')).toHaveProperty('skip', expect.stringContaining('no control characters'));
    expect(skip('   ')).toEqual({
      skip: 'fine_tune_id "   " cannot be a CloudWatch dimension value: it is blank',
    });
    expect(skip('x'.repeat(1024))).toHaveProperty('fine_tune_id', 'x'.repeat(1024));
    expect(skip('ft-a b')).toHaveProperty('fine_tune_id', 'ft-a b');
  });

  test('another event type, or no fine_tune_id, is an error that names it', () => {
    expect(() => readCheckpoint({ ...checkpointEvent({}), 'detail-type': 'batch.done' })).toThrow(
      'expected a fine_tune.checkpoint event, got detail-type batch.done',
    );
    expect(() => readCheckpoint(checkpointEvent({ fine_tune_id: '' }))).toThrow('without data.fine_tune_id');
  });

  test('samples CloudWatch would refuse (over two weeks old, or ahead) are dated now; seconds are read as such', () => {
    expect(sampleTime('2026-11-01T00:00:00Z', NOW)).toBe(NOW);
    expect(sampleTime('2026-11-27T12:00:00Z', NOW)).toBe(NOW);
    expect(sampleTime('not a date', NOW)).toBe(NOW);
    expect(sampleTime(undefined, NOW)).toBe(NOW);
    expect(sampleTime(NOW / 1000 - 60, NOW)).toBe(NOW - 60_000);
    expect(sampleTime(NOW - 60_000, NOW)).toBe(NOW - 60_000);
  });
});
