import { stdoutLogger } from '../shared/log';
import { lossLine, readCheckpoint } from './core';

const NAMESPACE = process.env.METRICS_NAMESPACE ?? 'TogetherWebhooks';

/** EventBridge target for `fine_tune.checkpoint`: one TrainingLoss sample per checkpoint with a loss. */
export async function handler(event: unknown): Promise<void> {
  const checkpoint = readCheckpoint(event);
  if ('skip' in checkpoint) {
    stdoutLogger({ message: 'no training loss to record', reason: checkpoint.skip });
    return;
  }
  stdoutLogger(lossLine(checkpoint, NAMESPACE, Date.now()));
}
