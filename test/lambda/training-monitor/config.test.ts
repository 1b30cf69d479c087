import { readTrainingMonitorConfig } from '../../../lambda/training-monitor/config';

/** What the training-monitor handler reads from the environment its construct writes (lib/training-monitor.ts). */

test('METRICS_NAMESPACE names where the samples go; absent or empty, the library default', () => {
  expect(readTrainingMonitorConfig({ METRICS_NAMESPACE: 'Acme/Training' })).toEqual({
    metricsNamespace: 'Acme/Training',
  });
  expect(readTrainingMonitorConfig({}).metricsNamespace).toBe('TogetherWebhooks');
  expect(readTrainingMonitorConfig({ METRICS_NAMESPACE: '' }).metricsNamespace).toBe('TogetherWebhooks');
});
