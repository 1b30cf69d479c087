/**
 * The catalogue's entries for Together's other asynchronous operations, followed by the poller's opt-in sources:
 * jobs (model uploads, ...), container deployments, GPU clusters and RL training sessions. lib/event-catalogue.ts
 * spreads them into EVENT_CATALOGUE at their place in its order.
 *
 * This module imports only types: the Lambda handlers bundle it.
 */
import type { EventSpec, FieldSpec } from './event-catalogue';

const JOB_ID = {
  kind: 'string',
  example: 'job-a15dad11-8d8e-4007-97c5-a211304de284',
  description: 'The job id.',
} as const satisfies FieldSpec;
const JOB_TYPE = {
  kind: 'string',
  example: 'model_upload',
  description: "The job's type, as Together names it.",
} as const satisfies FieldSpec;
const JOB_MODEL = {
  kind: 'string',
  nullable: true,
  example: 'acme/Qwen2.5-72B-Instruct',
  description: "The model named in the job's arguments (`args.modelName`), null when it names none.",
} as const satisfies FieldSpec;
const DEPLOYMENT_FIELDS = {
  deployment_id: { kind: 'string', example: 'dep-0123abcd', description: 'The deployment id.' },
  deployment_name: { kind: 'string', example: 'my-deployment', description: "The deployment's name." },
  image: {
    kind: 'string',
    nullable: true,
    example: 'registry.together.ai/acme/server:1.2',
    description: 'The container image, null when Together does not say.',
  },
  ready_replicas: {
    kind: 'integer',
    nullable: true,
    example: 2,
    description: 'Replicas ready when the poller saw it, null when Together does not say.',
  },
  desired_replicas: {
    kind: 'integer',
    nullable: true,
    example: 2,
    description: 'Replicas the orchestrator targets, null when Together does not say.',
  },
  since: {
    kind: 'string',
    example: '2026-11-23T11:52:00Z',
    description:
      'Names the transition into Ready or Failed, one event each: when the poller first saw the deployment ' +
      'Updating or Scaling, or, for one that changed state or definition (image, resources) between two polls, ' +
      'its updated_at. Ready -> Updating -> Ready seen by the poller is two events; a stay in Ready with the ' +
      'same definition, whatever its replicas do, none.',
  },
} as const satisfies Record<string, FieldSpec>;
const CLUSTER_ID = {
  kind: 'string',
  example: '3f0c6d1e-7a2b-4c5d-9e8f-0a1b2c3d4e5f',
  description: 'The GPU cluster id.',
} as const satisfies FieldSpec;
const CLUSTER_NAME = {
  kind: 'string',
  example: 'training-h100',
  description: "The cluster's name.",
} as const satisfies FieldSpec;
const CLUSTER_TYPE = {
  kind: 'string',
  example: 'KUBERNETES',
  description: 'KUBERNETES or SLURM.',
} as const satisfies FieldSpec;
const CLUSTER_GPU_TYPE = {
  kind: 'string',
  example: 'H100_SXM',
  description: 'The GPU type.',
} as const satisfies FieldSpec;
const CLUSTER_REGION = {
  kind: 'string',
  example: 'us-central-8',
  description: 'The region.',
} as const satisfies FieldSpec;
const CLUSTER_NUM_GPUS = {
  kind: 'integer',
  nullable: true,
  example: 64,
  description: 'GPUs in the cluster; null when Together gave none.',
} as const satisfies FieldSpec;
const CLUSTER_SINCE = {
  kind: 'string',
  example: '2026-11-23T11:52:00.000Z',
  description:
    'The last poll that looked at the cluster before this transition (when first seen, for a new one): names it.',
} as const satisfies FieldSpec;
/** What both cluster events carry. */
const CLUSTER_FIELDS = {
  cluster_id: CLUSTER_ID,
  cluster_name: CLUSTER_NAME,
  cluster_type: CLUSTER_TYPE,
  gpu_type: CLUSTER_GPU_TYPE,
  region: CLUSTER_REGION,
  num_gpus: CLUSTER_NUM_GPUS,
  since: CLUSTER_SINCE,
} as const satisfies Record<string, FieldSpec>;

const RL_SESSION_ID = {
  kind: 'string',
  example: '123e4567-e89b-12d3-a456-426614174000',
  description: 'The RL training session id.',
} as const satisfies FieldSpec;
const RL_BASE_MODEL = {
  kind: 'string',
  example: 'meta-llama/Meta-Llama-3-8B-Instruct',
  description: "The session's base model.",
} as const satisfies FieldSpec;

/** `jobs: true` and `deployments: true`. */
export const JOB_AND_DEPLOYMENT_EVENTS = {
  'job.completed': {
    description: 'A Together job (a model upload, ...) completed.',
    outcomeKey: ['job_id'],
    producer: 'poller',
    fields: { job_id: JOB_ID, job_type: JOB_TYPE, model_name: JOB_MODEL },
  },
  'job.failed': {
    description: 'A Together job (a model upload, ...) failed.',
    alert: {
      advice:
        "Check the job's source (a model upload's URL or repository) and its access, then run it again.",
    },
    outcomeKey: ['job_id'],
    producer: 'poller',
    fields: {
      job_id: JOB_ID,
      job_type: JOB_TYPE,
      model_name: JOB_MODEL,
      error_message: {
        kind: 'string',
        example: 'model source could not be downloaded',
        description: "Together's last status message.",
      },
    },
  },
  'deployment.ready': {
    description: 'A container deployment became Ready (once per transition).',
    outcomeKey: ['deployment_id', 'since'],
    producer: 'poller',
    fields: DEPLOYMENT_FIELDS,
  },
  'deployment.failed': {
    description: 'A container deployment became Failed (once per transition).',
    alert: {
      advice: "Read the deployment's logs (GET /deployments/{id}/logs): its image, command and health check.",
    },
    outcomeKey: ['deployment_id', 'since'],
    producer: 'poller',
    fields: DEPLOYMENT_FIELDS,
  },
} as const satisfies Record<string, EventSpec>;

/** `clusters: true` and `rlSessions: true`. */
export const CLUSTER_AND_RL_SESSION_EVENTS = {
  'cluster.ready': {
    description: 'A GPU cluster entered Ready: one event per transition into it, not per poll.',
    outcomeKey: ['cluster_id', 'since'],
    producer: 'poller',
    fields: CLUSTER_FIELDS,
  },
  'cluster.degraded': {
    description: 'A GPU cluster entered Degraded: one event per transition into it, not per poll.',
    alert: {
      advice:
        "Check the cluster's worker nodes in Together's console; a cluster.ready follows when it is Ready again.",
    },
    outcomeKey: ['cluster_id', 'since'],
    producer: 'poller',
    fields: CLUSTER_FIELDS,
  },
  'rl_session.stopped': {
    description: 'An RL training session stopped (TRAINING_SESSION_STATUS_STOPPED).',
    outcomeKey: ['session_id'],
    producer: 'poller',
    fields: { session_id: RL_SESSION_ID, base_model: RL_BASE_MODEL },
  },
  'rl_session.failed': {
    description: 'An RL training session ended in ERROR or EXPIRED.',
    alert: {
      advice:
        "Check the session in Together's console; start a new one, resuming from its last training checkpoint.",
    },
    outcomeKey: ['session_id'],
    producer: 'poller',
    fields: {
      session_id: RL_SESSION_ID,
      base_model: RL_BASE_MODEL,
      status: {
        kind: 'string',
        example: 'ERROR',
        description: 'ERROR or EXPIRED (without the status prefix).',
      },
    },
  },
} as const satisfies Record<string, EventSpec>;

const VIDEO_ID = {
  kind: 'string',
  example: '019a0068-794a-7213-90f6-4ffb0d1d2e1a',
  description: 'The video generation id (as tracked).',
} as const satisfies FieldSpec;
const VIDEO_MODEL = {
  kind: 'string',
  example: 'google/veo-3.0',
  description: 'The video model.',
} as const satisfies FieldSpec;
const QUEUE_REQUEST_ID = {
  kind: 'string',
  example: 'req_0123456789abcdef',
  description: "The queued job's request id (as tracked).",
} as const satisfies FieldSpec;
const QUEUE_MODEL = {
  kind: 'string',
  example: 'acme/flux-batch',
  description: 'The model the job was submitted to (as tracked).',
} as const satisfies FieldSpec;

/** `tracking: true`: operations Together cannot list, followed from the ids handed in (lib/track.ts). */
export const TRACKED_EVENTS = {
  'video.completed': {
    description: 'A tracked video generation completed.',
    outcomeKey: ['video_id'],
    producer: 'poller',
    fields: {
      video_id: VIDEO_ID,
      model: VIDEO_MODEL,
      video_url: {
        kind: 'string',
        nullable: true,
        example: 'https://api.together.ai/shrt/DwlaBdSakNRFlBxN',
        description: 'Where the video is hosted (`outputs.video_url`), null when Together gave none.',
      },
      cost: {
        kind: 'integer',
        nullable: true,
        example: 1,
        description: 'What Together charged (`outputs.cost`), null when it gave none.',
      },
    },
  },
  'video.failed': {
    description: 'A tracked video generation failed.',
    alert: { advice: "Read the error; check the prompt and the model's limits, then submit it again." },
    outcomeKey: ['video_id'],
    producer: 'poller',
    fields: {
      video_id: VIDEO_ID,
      model: VIDEO_MODEL,
      error_message: {
        kind: 'string',
        example: 'content policy violation',
        description: "Together's error message (`error.message`).",
      },
    },
  },
  'queue_job.done': {
    description: 'A tracked queued inference job is done.',
    outcomeKey: ['model', 'request_id'],
    producer: 'poller',
    fields: { request_id: QUEUE_REQUEST_ID, model: QUEUE_MODEL },
  },
  'queue_job.failed': {
    description: 'A tracked queued inference job failed or was canceled.',
    alert: { advice: 'Check the job with GET /queue/status; submit it again if it should run.' },
    outcomeKey: ['model', 'request_id'],
    producer: 'poller',
    fields: {
      request_id: QUEUE_REQUEST_ID,
      model: QUEUE_MODEL,
      status: { kind: 'string', example: 'failed', description: 'failed or canceled.' },
    },
  },
} as const satisfies Record<string, EventSpec>;
