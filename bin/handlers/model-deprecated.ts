import type { TogetherEventBridgeEvent } from '../../lib/events';

/** Example: a deprecated model. A real team would open a ticket or switch a config flag here. */
export async function handler(event: TogetherEventBridgeEvent<'model.deprecated'>): Promise<void> {
  const { model_id: modelId, replacement_model: replacement, sunset_date: sunsetDate } = event.detail.data;
  console.log(
    JSON.stringify({ level: 'WARN', message: 'model deprecated', modelId, replacement, sunsetDate }),
  );
}
