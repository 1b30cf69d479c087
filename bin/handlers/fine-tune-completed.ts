import type { TogetherEventBridgeEvent } from '../../lib/events';

/** Example: a finished fine-tune. A real team would promote the model or kick off evals here. */
export async function handler(event: TogetherEventBridgeEvent<'fine_tune.completed'>): Promise<void> {
  const { fine_tune_id: fineTuneId, model_name: modelName, eval_loss: evalLoss } = event.detail.data;
  console.log(JSON.stringify({ message: 'fine-tune completed', fineTuneId, modelName, evalLoss }));
}
