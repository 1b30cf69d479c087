import type { FakeJobs, ScriptedAnswer } from './fake-together';

/**
 * POST /fine-tunes on the fake Together: a job made from the body, pending, answered as FinetuneResponseTruncated
 * and listed and shown by id from then on (with its suffix, which GET /fine-tunes lists). What the body may hold is
 * the spec's: tests check every body sent with `requestErrors`.
 */
export function createFineTune(jobs: FakeJobs, body: unknown, nowMs: number, n: number): ScriptedAnswer {
  const b = body as Record<string, unknown> | undefined;
  if (typeof b?.model !== 'string' || typeof b.training_file !== 'string')
    return {
      status: 400,
      body: {
        error: {
          message: 'model and training_file are required',
          type: 'invalid_request_error',
          code: null,
          param: null,
        },
      },
    };
  const at = new Date(nowMs).toISOString();
  // FinetuneResponse.id is a uuid in the spec.
  const id = `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;
  const suffix = typeof b.suffix === 'string' ? b.suffix : undefined;
  // Together never shows the secrets back.
  const shown = Object.fromEntries(
    Object.entries(b).filter(([k]) => k !== 'wandb_api_key' && k !== 'hf_api_token'),
  );
  const job: Record<string, unknown> = {
    ...shown,
    id,
    status: 'pending',
    created_at: at,
    updated_at: at,
    model_output_name: `acme/${b.model.split('/').pop()}${suffix ? `-${suffix}` : ''}-${n.toString(16).padStart(8, '0')}`,
    events: [],
  };
  jobs.fineTunes.push(job);
  return { status: 200, body: job };
}
