import type { TogetherEventBridgeEvent } from '../../lib/events';

/** Example: training progress as a CloudWatch metric (embedded metric format, no API call). */
export async function handler(event: TogetherEventBridgeEvent<'fine_tune.checkpoint'>): Promise<void> {
  const { fine_tune_id: fineTuneId, step, loss } = event.detail.data;
  if (loss === null) return;
  process.stdout.write(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [
          {
            Namespace: 'TogetherFineTunes',
            Dimensions: [['FineTuneId']],
            Metrics: [{ Name: 'Loss', Unit: 'None' }],
          },
        ],
      },
      FineTuneId: fineTuneId,
      Loss: loss,
      step,
    }) + '\n',
  );
}
