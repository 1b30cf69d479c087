import { isObject, nonEmptyString } from '../shared/guards';
import { checkFileId, fileIdFromUrl } from './download';

/** Reading the `batch.done` that asks for a collection: which batch, which files, which model. */

/** What a `batch.done` asks to collect. */
export interface BatchDone {
  readonly batchId: string;
  readonly outputFileId?: string;
  readonly errorFileId?: string;
  /** A model the event names, for lines that name none. */
  readonly model?: string;
}

/** An `output_url` that is not the configured API's file content URL: following it could hand the key to anyone. */
export class RefusedUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedUrlError';
  }
}

/** Reads and checks the EventBridge event; throws on anything that is not a usable `batch.done`. */
export function readBatchDone(event: unknown, apiBaseUrl: string): BatchDone {
  const e = isObject(event) ? event : {};
  if (e['detail-type'] !== 'batch.done') {
    throw new Error(`expected a batch.done event, got detail-type ${String(e['detail-type']).slice(0, 80)}`);
  }
  const data = isObject(e.detail) && isObject(e.detail.data) ? e.detail.data : undefined;
  const batchId = nonEmptyString(data?.batch_id);
  if (!data || !batchId) throw new Error('batch.done without a non-empty string data.batch_id');
  // eslint-disable-next-line no-control-regex
  if (batchId.length > 256 || /[\u0000-\u001f\u007f]/.test(batchId)) {
    throw new Error(`batch.done with an unusable batch_id: ${JSON.stringify(batchId.slice(0, 80))}`);
  }
  let outputFileId = nonEmptyString(data.output_file_id);
  const outputUrl = nonEmptyString(data.output_url);
  if (outputFileId === undefined && outputUrl !== undefined) {
    outputFileId = fileIdFromUrl(outputUrl, apiBaseUrl);
    if (outputFileId === undefined) {
      throw new RefusedUrlError(
        `batch ${batchId}: refusing output_url ${JSON.stringify(outputUrl.slice(0, 200))}: only ` +
          `${apiBaseUrl.replace(/\/+$/, '')}/files/<id>/content is followed, so the API key never goes to another host`,
      );
    }
  }
  const errorFileId = nonEmptyString(data.error_file_id);
  return {
    batchId,
    outputFileId: outputFileId === undefined ? undefined : checkFileId(outputFileId, 'output_file_id'),
    errorFileId: errorFileId === undefined ? undefined : checkFileId(errorFileId, 'error_file_id'),
    model: nonEmptyString(data.model),
  };
}
