/**
 * Jobs, events, batches and models shaped as Together's OpenAPI spec says: the fake's answers are validated
 * against it (test/support/openapi.ts, in test/lambda/poller/core.test.ts).
 */

export const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
export const iso = (ms: number) => new Date(ms).toISOString();
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;

export function fineTune(id: string, status: string, updatedAt: number, extra: Record<string, unknown> = {}) {
  return {
    id,
    status,
    created_at: iso(T0 - 2 * HOUR),
    updated_at: iso(updatedAt),
    model: 'meta-llama/Meta-Llama-3.1-8B-Instruct-Reference',
    model_output_name: `acme/Meta-Llama-3.1-8B-Instruct-${id}`,
    training_file: 'file-0123456789',
    n_epochs: 3,
    n_checkpoints: 3,
    events: [],
    ...extra,
  };
}

export function fineTuneEvent(
  type: string,
  at: number,
  opts: { step?: number; message?: string; level?: 'info' | 'warning' | 'error' } = {},
) {
  return {
    object: 'fine-tune-event',
    created_at: iso(at),
    level: opts.level ?? 'info',
    message: opts.message ?? type.replace(/_/g, ' '),
    type,
    param_count: 8_000_000_000,
    token_count: 1_200_000,
    total_steps: 120,
    wandb_url: '',
    step: opts.step ?? 0,
    checkpoint_path: opts.step ? `s3://together/checkpoints/${opts.step}` : '',
    model_path: '',
    training_offset: 0,
    hash: '',
  };
}

export function batch(
  id: string,
  status: string,
  opts: { completedAt?: number; output?: string; error?: string } = {},
) {
  return {
    id,
    user_id: 'user_789xyz012',
    input_file_id: 'file-input123abc456def',
    file_size_bytes: 1048576,
    status,
    job_deadline: iso(T0 + 24 * HOUR),
    created_at: iso(T0 - HOUR),
    endpoint: '/v1/chat/completions',
    progress: status === 'IN_PROGRESS' ? 40 : 100,
    model_id: 'Qwen/Qwen3.5-9B',
    ...(opts.output ? { output_file_id: opts.output } : {}),
    ...(opts.error ? { error: opts.error, error_file_id: 'file-errors456' } : {}),
    ...(opts.completedAt !== undefined ? { completed_at: iso(opts.completedAt) } : {}),
  };
}

export function model(id: string) {
  return { id, object: 'model', created: 1692896905, type: 'chat', display_name: id.split('/').pop() };
}

export function evaluation(
  id: string,
  status: string,
  updatedAt: number,
  opts: {
    type?: 'classify' | 'score' | 'compare';
    results?: Record<string, unknown> | null;
    message?: string;
    /** Default: an hour before T0. */
    createdAt?: number;
  } = {},
) {
  return {
    workflow_id: id,
    type: opts.type ?? 'score',
    owner_id: 'user_789xyz012',
    status,
    status_updates: [
      { status: 'pending', message: 'Job is pending evaluation', timestamp: iso(T0 - HOUR) },
      ...(opts.message ? [{ status, message: opts.message, timestamp: iso(updatedAt) }] : []),
    ],
    parameters: { judge: { model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo' } },
    created_at: iso(opts.createdAt ?? T0 - HOUR),
    updated_at: iso(updatedAt),
    results: opts.results === undefined ? null : opts.results,
  };
}

/** A dedicated endpoint as GET /endpoints/{id} shows it (DedicatedEndpoint), owned by the fake's account. */
export function dedicatedEndpoint(
  id: string,
  state: string,
  createdAt: number,
  opts: { model?: string; owner?: string } = {},
) {
  const model = opts.model ?? 'acme/Meta-Llama-3.1-8B-Instruct-ft-1';
  const owner = opts.owner ?? 'devuser';
  return {
    object: 'endpoint',
    id,
    name: `${owner}/${model}-${id.slice(-8)}`,
    display_name: `${model} endpoint`,
    model,
    hardware: '1x_nvidia_h100_80gb_sxm',
    type: 'dedicated',
    owner,
    state,
    autoscaling: { min_replicas: 1, max_replicas: 2 },
    created_at: iso(createdAt),
  };
}

/** A job as GET /jobs/{jobId} shows it (JobInfoSuccessResponse): a model upload unless `type` says otherwise. */
export function job(
  id: string,
  status: string,
  updatedAt: number,
  opts: { type?: string; modelName?: string | null; message?: string } = {},
) {
  const modelName = opts.modelName === undefined ? 'acme/Qwen2.5-72B-Instruct' : opts.modelName;
  return {
    type: opts.type ?? 'model_upload',
    job_id: id,
    status,
    status_updates: [
      { status: 'Queued', message: 'Job is Queued', timestamp: iso(T0 - 2 * HOUR) },
      { status, message: opts.message ?? `Job is ${status}`, timestamp: iso(updatedAt) },
    ],
    args: {
      description: 'Fine-tuned Qwen2.5-72B-Instruct',
      ...(modelName === null ? {} : { modelName }),
      modelSource: 'https://ml-models.s3.us-west-2.amazonaws.com/models/qwen.tar.gz',
    },
    created_at: iso(T0 - 2 * HOUR),
    updated_at: iso(updatedAt),
  };
}

/** A custom container deployment as GET /deployments/{id} shows it (DeploymentResponseItem). */
export function deployment(
  id: string,
  status: string,
  updatedAt: number,
  opts: { readyReplicas?: number } = {},
) {
  return {
    object: 'deployment',
    id,
    name: `${id}-name`,
    image: 'registry.together.ai/acme/server:1.2',
    status,
    desired_replicas: 2,
    ready_replicas: opts.readyReplicas ?? (status === 'Ready' ? 2 : 0),
    min_replicas: 1,
    max_replicas: 2,
    gpu_type: 'h100-80gb',
    gpu_count: 1,
    port: 8000,
    created_at: iso(T0 - 2 * HOUR),
    updated_at: iso(updatedAt),
  };
}

/** A GPU cluster as GET /compute/clusters/{id} shows it (GPUClusterInfo). */
export function gpuCluster(id: string, status: string, opts: { name?: string } = {}) {
  return {
    cluster_id: id,
    cluster_type: 'KUBERNETES',
    region: 'us-central-8',
    gpu_type: 'H100_SXM',
    cluster_name: opts.name ?? `cluster-${id.slice(-4)}`,
    cuda_version: '12.5',
    nvidia_driver_version: '555',
    volumes: [],
    status,
    control_plane_nodes: [],
    gpu_worker_nodes: [],
    kube_config: '',
    num_gpus: 8,
  };
}

/** An RL training session (RL.TrainingSession); `status` without its `TRAINING_SESSION_STATUS_` prefix. */
export function rlTrainingSession(
  id: string,
  status: string,
  updatedAt: number,
  opts: { createdAt?: number } = {},
) {
  return {
    id,
    status: `TRAINING_SESSION_STATUS_${status}`,
    base_model: 'meta-llama/Meta-Llama-3-8B-Instruct',
    inference_checkpoints: [],
    training_checkpoints: [],
    step: '100',
    created_at: iso(opts.createdAt ?? updatedAt - HOUR),
    updated_at: iso(updatedAt),
    lora_config: { rank: 8, alpha: 16, dropout: 0.05 },
    type: 'SESSION_TYPE_TRAINER_AND_GENERATOR',
  };
}

/** A video generation as GET /v2/videos/{id} shows it (VideoJob): outputs once completed, error once failed. */
export function video(
  id: string,
  status: 'in_progress' | 'completed' | 'failed',
  opts: { at?: number; url?: string; message?: string } = {},
) {
  const at = opts.at ?? T0;
  return {
    id,
    object: 'video',
    model: 'google/veo-3.0',
    status,
    created_at: Math.floor((T0 - 10 * MINUTE) / 1000),
    size: '1280x720',
    seconds: '8',
    ...(status === 'completed'
      ? {
          completed_at: Math.floor(at / 1000),
          outputs: { cost: 1, video_url: opts.url ?? `https://api.together.ai/shrt/${id}` },
        }
      : {}),
    ...(status === 'failed'
      ? {
          completed_at: Math.floor(at / 1000),
          error: { code: 'failed', message: opts.message ?? 'generation failed' },
        }
      : {}),
  };
}

/** A queued job as GET /queue/status shows it (QueueJobStatusResponse). */
export function queueJob(
  requestId: string,
  model: string,
  status: 'pending' | 'running' | 'done' | 'failed' | 'canceled',
  at = T0,
) {
  const ended = ['done', 'failed', 'canceled'].includes(status);
  return {
    request_id: requestId,
    model,
    status,
    created_at: iso(T0 - 10 * MINUTE),
    ...(status !== 'pending' && status !== 'canceled' ? { claimed_at: iso(T0 - 5 * MINUTE) } : {}),
    ...(ended ? { done_at: iso(at) } : {}),
    ...(status === 'done' ? { outputs: { images: ['https://example.com/out.png'] } } : {}),
    priority: 0,
    retries: 0,
  };
}
