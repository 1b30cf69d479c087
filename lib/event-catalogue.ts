/**
 * The event catalogue's data: one entry per event type, with its fields, its outcome key and its alert.
 * lib/events.ts derives everything from it (types, validation, samples) and is what code imports; the README,
 * docs/events.md, the rules and the Python TypedDicts are generated from it. Add a type here and all follow.
 *
 * This module imports only lib/event-catalogue-operations.ts (its entries for the opt-in operations), which imports
 * nothing at run time: the Lambda handlers bundle both.
 */

import {
  CLUSTER_AND_RL_SESSION_EVENTS,
  JOB_AND_DEPLOYMENT_EVENTS,
  TRACKED_EVENTS,
} from './event-catalogue-operations';

export type FieldKind = 'string' | 'number' | 'integer';

export interface FieldSpec {
  readonly kind: FieldKind;
  /** null is a legal value: the source may not know it (e.g. a poller that cannot read the loss). */
  readonly nullable?: boolean;
  /** The field may be absent (only some sources send it). */
  readonly optional?: boolean;
  readonly description: string;
  /** A realistic value: sample events, docs and the local demo are built from it. */
  readonly example: string | number | null;
}

export interface EventSpec {
  readonly description: string;
  /**
   * The construct sends it to the alert topic as readable text with this advice; with `when`, only events whose
   * `data` fields hold one of the listed values.
   */
  readonly alert?: { readonly advice: string; readonly when?: Readonly<Record<string, readonly string[]>> };
  /**
   * The data fields that name the outcome. The dedupe claim is `<type>:<values>`, so the webhook and the poller
   * agree on one key for one job outcome, whatever delivery id each carries. An optional field that is absent is
   * left out of the key.
   */
  readonly outcomeKey: readonly string[];
  /**
   * Published by this library, not sent by Together (so registration does not ask for it): `poller`, or the
   * recipe construct that publishes it.
   */
  readonly producer?: string;
  readonly fields: Readonly<Record<string, FieldSpec>>;
}

// Fields several types share. `as const` keeps each literal `kind`, which the data types are built from (typed
// `FieldSpec`, a shared field's kind widened to every kind, and the field to `string | number`).
const FINE_TUNE_ID = {
  kind: 'string',
  example: 'ft-8a7b6c5d',
  description: 'The fine-tune job id (ft-...).',
} as const satisfies FieldSpec;

const ENDPOINT_ID = {
  kind: 'string',
  example: 'endpoint-d23901de-ef8f-44bf-b3e7-de9c1ca8f2d7',
  description: 'The dedicated endpoint id.',
} as const satisfies FieldSpec;
const ENDPOINT_NAME = {
  kind: 'string',
  example: 'acme/Meta-Llama-3.1-8B-Instruct-ft-a32b82a1',
  description: "The endpoint's system name: what inference requests pass as `model`.",
} as const satisfies FieldSpec;
const ENDPOINT_MODEL = {
  kind: 'string',
  example: 'acme/Meta-Llama-3.1-8B-Instruct-ft',
  description: 'The model the endpoint serves.',
} as const satisfies FieldSpec;

export const EVENT_CATALOGUE = {
  'fine_tune.completed': {
    description: 'A fine-tuning job finished and its model is ready.',
    outcomeKey: ['fine_tune_id'],
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      model_name: {
        kind: 'string',
        example: 'acme/Meta-Llama-3.1-8B-Instruct-ft',
        description: 'Name of the output model.',
      },
      eval_loss: {
        kind: 'number',
        nullable: true,
        example: 0.4213,
        description: 'Final evaluation loss, null if unknown.',
      },
    },
  },
  'fine_tune.failed': {
    description: 'A fine-tuning job stopped with an error.',
    alert: {
      advice:
        'Check the error message. If it names the training data (a line, a field, the format), check the file with ' +
        'npx together-webhooks check-data FILE, fix and upload it again, then resubmit the job.',
    },
    outcomeKey: ['fine_tune_id'],
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      error_message: {
        kind: 'string',
        example: 'Training data contains invalid JSONL on line 12',
        description: 'What Together reported.',
      },
      step: {
        kind: 'integer',
        nullable: true,
        example: 120,
        description: 'Training step at failure, null if unknown.',
      },
    },
  },
  'fine_tune.retried': {
    description: 'A failed fine-tune was resubmitted by a retry rule.',
    outcomeKey: ['failed_fine_tune_id'],
    producer: 'TogetherFineTuneRetry',
    fields: {
      failed_fine_tune_id: { ...FINE_TUNE_ID, description: 'The job that failed.' },
      new_fine_tune_id: {
        ...FINE_TUNE_ID,
        example: 'ft-9b8c7d6e',
        description: 'The job submitted in its place.',
      },
      original_fine_tune_id: {
        ...FINE_TUNE_ID,
        example: 'ft-7a6b5c4d',
        description: 'The first job of the lineage (the failed one itself on a first retry).',
      },
      attempt: { kind: 'integer', example: 1, description: 'Which retry of the original this is, from 1.' },
      adjustment: {
        kind: 'string',
        example: 'batch_size 16 -> 8',
        description: "What the rule changed, or 'same parameters'.",
      },
    },
  },
  'fine_tune.checkpoint': {
    description: 'A fine-tuning job saved a checkpoint.',
    outcomeKey: ['fine_tune_id', 'step'],
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      step: { kind: 'integer', example: 40, description: 'Training step of the checkpoint.' },
      loss: {
        kind: 'number',
        nullable: true,
        example: 1.0831,
        description: 'Training loss at the checkpoint, null if unknown.',
      },
    },
  },
  'fine_tune.cancelled': {
    description: 'A fine-tuning job was cancelled.',
    outcomeKey: ['fine_tune_id'],
    fields: { fine_tune_id: FINE_TUNE_ID },
  },
  'fine_tune.stalled': {
    description: 'A fine-tuning job has shown no progress for hours.',
    alert: {
      advice:
        'A stall is usually the training data: check the file with npx together-webhooks check-data FILE. ' +
        'Cancel and resubmit if it stays stuck.',
    },
    outcomeKey: ['fine_tune_id', 'since'],
    producer: 'poller',
    fields: {
      fine_tune_id: FINE_TUNE_ID,
      status: { kind: 'string', example: 'running', description: 'The job status that has not changed.' },
      since: {
        kind: 'string',
        example: '2026-11-23T06:00:00.000Z',
        description: 'Time of the last change seen.',
      },
    },
  },
  'model.deprecated': {
    description: 'A model you use is deprecated and will be removed.',
    alert: { advice: 'Move your traffic to the replacement model before the sunset date.' },
    // The poller names the episode (when the model went missing), so a model that returns and goes again is a
    // new outcome; a webhook without that field keys on the model alone.
    outcomeKey: ['model_id', 'missing_since'],
    fields: {
      model_id: {
        kind: 'string',
        example: 'meta-llama/Llama-2-70b-chat-hf',
        description: 'The deprecated model.',
      },
      replacement_model: {
        kind: 'string',
        nullable: true,
        example: 'meta-llama/Llama-3.3-70B-Instruct-Turbo',
        description: 'Suggested replacement, if any.',
      },
      sunset_date: {
        kind: 'string',
        nullable: true,
        example: '2027-01-31',
        description: 'ISO date after which it stops serving.',
      },
      missing_since: {
        kind: 'string',
        optional: true,
        example: '2026-11-23T11:00:00.000Z',
        description: 'Poller: when the model was first missing from the model list.',
      },
    },
  },
  'batch.done': {
    description: 'A batch job reached a terminal state.',
    alert: {
      advice: 'The batch expired before it finished: split it into smaller batches and submit them again.',
      when: { status: ['EXPIRED'] },
    },
    outcomeKey: ['batch_id'],
    fields: {
      batch_id: { kind: 'string', example: 'batch-1f2e3d4c', description: 'The batch job id.' },
      output_url: {
        kind: 'string',
        nullable: true,
        example: 'https://api.together.xyz/v1/files/file-9a8b7c/content',
        description: 'Where to download the output, if any.',
      },
      total_tokens: {
        kind: 'integer',
        nullable: true,
        example: 182345,
        description: 'Tokens processed, null if unknown.',
      },
      status: {
        kind: 'string',
        optional: true,
        example: 'COMPLETED',
        description: 'COMPLETED, FAILED, EXPIRED or CANCELLED.',
      },
      output_file_id: {
        kind: 'string',
        nullable: true,
        optional: true,
        example: 'file-9a8b7c',
        description: 'The output file.',
      },
      error_file_id: {
        kind: 'string',
        nullable: true,
        optional: true,
        example: null,
        description: 'The error file, if any.',
      },
    },
  },
  'evaluation.completed': {
    description: 'An evaluation job finished with results.',
    outcomeKey: ['workflow_id'],
    producer: 'poller',
    fields: {
      workflow_id: { kind: 'string', example: 'eval-1234aedf', description: 'The evaluation job id.' },
      evaluation_type: {
        kind: 'string',
        nullable: true,
        example: 'score',
        description: 'classify, score or compare.',
      },
      pass_percentage: {
        kind: 'number',
        nullable: true,
        example: 82.5,
        description: 'Share of samples that passed (classify, score), null if not reported.',
      },
      mean_score: {
        kind: 'number',
        nullable: true,
        example: 7.4,
        description: 'Mean judge score (score), null otherwise.',
      },
      result_file_id: {
        kind: 'string',
        nullable: true,
        example: 'file-1234-aefd',
        description: 'The file with every sample result, if any.',
      },
      summary: {
        kind: 'string',
        example: 'score: mean 7.4, 82.5% passed',
        description: 'The results in one line.',
      },
    },
  },
  'evaluation.failed': {
    description: 'An evaluation job stopped with an error.',
    alert: { advice: "Check the evaluation's parameters, model and input file, then run it again." },
    outcomeKey: ['workflow_id'],
    producer: 'poller',
    fields: {
      workflow_id: { kind: 'string', example: 'eval-1234aedf', description: 'The evaluation job id.' },
      status: { kind: 'string', example: 'error', description: 'error or user_error.' },
      error_message: {
        kind: 'string',
        example: 'input file has no "prompt" column',
        description: 'What Together reported.',
      },
    },
  },
  'endpoint.ready': {
    description: 'A dedicated endpoint finished starting and serves its model.',
    outcomeKey: ['endpoint_id', 'since'],
    producer: 'poller',
    fields: {
      endpoint_id: ENDPOINT_ID,
      endpoint_name: ENDPOINT_NAME,
      model: ENDPOINT_MODEL,
      since: {
        kind: 'string',
        example: '2026-11-23T11:52:00Z',
        description: 'When this start began (the endpoint created, or seen starting): names the episode.',
      },
    },
  },
  'endpoint.failed': {
    description: 'A dedicated endpoint failed to start.',
    alert: {
      advice:
        "Check the endpoint's hardware and model in Together's console; delete it if it stays in ERROR.",
    },
    outcomeKey: ['endpoint_id', 'since'],
    producer: 'poller',
    fields: {
      endpoint_id: ENDPOINT_ID,
      endpoint_name: ENDPOINT_NAME,
      model: ENDPOINT_MODEL,
      state: { kind: 'string', example: 'ERROR', description: 'The state Together reports.' },
      since: {
        kind: 'string',
        example: '2026-11-23T11:52:00Z',
        description: 'When this start began (the endpoint created, or seen starting): names the episode.',
      },
    },
  },
  ...JOB_AND_DEPLOYMENT_EVENTS,
  'batch.collected': {
    description: "A finished batch's output was copied to S3 and its tokens counted.",
    outcomeKey: ['batch_id'],
    producer: 'TogetherBatchResults',
    fields: {
      batch_id: {
        kind: 'string',
        example: '0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b',
        description: 'The batch job id.',
      },
      s3_uri: {
        kind: 'string',
        nullable: true,
        example: 's3://acme-batch-results/together/0b7c3a52-1d2e-4f60-8a9b-0c1d2e3f4a5b/output.jsonl',
        description: 'Where the output file now is, null if the batch had none.',
      },
      error_s3_uri: {
        kind: 'string',
        nullable: true,
        example: null,
        description: 'Where the error file now is, null if the batch had none.',
      },
      lines: { kind: 'integer', example: 1200, description: 'Result lines in the output file.' },
      failed_lines: {
        kind: 'integer',
        example: 3,
        description:
          'Requests that failed: error lines, and output lines with an error or an HTTP error status.',
      },
      total_tokens: {
        kind: 'integer',
        example: 1843200,
        description: "Sum of each output line's usage.total_tokens.",
      },
      prompt_tokens: { kind: 'integer', example: 1228800, description: 'Sum of usage.prompt_tokens.' },
      completion_tokens: {
        kind: 'integer',
        example: 614400,
        description: 'Sum of usage.completion_tokens.',
      },
      bytes: { kind: 'integer', example: 5242880, description: 'Size of the output file.' },
    },
  },
  ...CLUSTER_AND_RL_SESSION_EVENTS,
  ...TRACKED_EVENTS,
} as const satisfies Record<string, EventSpec>;
