import { stdoutLogger } from '../shared/log';
import { readTrainingMonitorConfig } from './config';
import { lossLine, readCheckpoint } from './core';

const config = readTrainingMonitorConfig(process.env);

/** EventBridge target for `fine_tune.checkpoint`: one TrainingLoss sample per checkpoint with a loss. */
export async function handler(event: unknown): Promise<void> {
  const checkpoint = readCheckpoint(event);
  if ('skip' in checkpoint) {
    stdoutLogger({ message: 'no training loss to record', reason: checkpoint.skip });
    return;
  }
  stdoutLogger(lossLine(checkpoint, config.metricsNamespace, Date.now()));
}
