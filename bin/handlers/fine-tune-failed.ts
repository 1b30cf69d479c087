import type { TogetherEventBridgeEvent } from '../../lib/events';

/** Example: a failed fine-tune (the alert topic gets a readable message too). */
export async function handler(event: TogetherEventBridgeEvent<'fine_tune.failed'>): Promise<void> {
  const { fine_tune_id: fineTuneId, error_message: errorMessage, step } = event.detail.data;
  console.log(JSON.stringify({ level: 'WARN', message: 'fine-tune failed', fineTuneId, errorMessage, step }));
}
