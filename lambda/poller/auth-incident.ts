import { errorName } from '../shared/log';
import type { PollerDeps } from './core';
import { PollerState, STATE_VERSION } from './state';

/**
 * Together refusing the API key is an incident: alerted once when it opens (the alert topic), logged when the first
 * poll that works closes it. Kept in the state's health part, so a refusal poll after poll alerts once.
 */

type IncidentDeps = Pick<PollerDeps, 'config' | 'notify' | 'log'>;

export async function openAuthIncident(
  deps: IncidentDeps,
  state: PollerState,
  status: number,
  message: string,
  now: number,
) {
  const health = (state.health ??= { v: STATE_VERSION });
  if (health.authIncident) return;
  const name = deps.config.apiKeySecretName;
  try {
    await deps.notify(
      'Together AI rejected the API key',
      `Together answered HTTP ${status} (${message}) to the job poller: the API key was rejected. ` +
        `Rotate it in the Secrets Manager secret ${name}. Polling resumes by itself once the key works; ` +
        'job outcomes in the meantime are published then (a listing too long to read whole, should one be, ' +
        'raises its own alarm).',
    );
  } catch (err) {
    // Not recorded: the next poll tries the alert again.
    deps.log({ level: 'ERROR', message: 'could not send the API key alert', error: errorName(err) });
    return;
  }
  health.authIncident = { openedAt: new Date(now).toISOString(), status };
}

export function closeAuthIncident(deps: IncidentDeps, state: PollerState): void {
  if (!state.health?.authIncident) return;
  deps.log({
    level: 'INFO',
    message: 'Together accepts the API key again',
    since: state.health.authIncident.openedAt,
  });
  state.health.authIncident = undefined;
}
