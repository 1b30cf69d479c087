import { type TrainingMonitorEnvironment } from '../../lib/contract';
import { Environment, EnvReader } from '../shared/config';

/** Everything the training-monitor handler reads from its environment. */
export interface TrainingMonitorConfig {
  /** Where the TrainingLoss samples go. */
  readonly metricsNamespace: string;
}

export function readTrainingMonitorConfig(env: Environment): TrainingMonitorConfig {
  const read = new EnvReader<TrainingMonitorEnvironment>(env);
  return { metricsNamespace: read.metricsNamespace() };
}
