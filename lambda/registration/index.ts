import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { stdoutLogger } from '../shared/log';
import { CONTROL_PLANE_LIMITS, sdkClientConfig } from '../shared/sdk-config';
import { readSecret } from '../shared/secret-value';
import { realClock } from '../shared/together-api';
import { CustomResourceEvent, onEvent, RegistrationResult } from './core';

const secretsManager = new SecretsManagerClient(sdkClientConfig(CONTROL_PLANE_LIMITS));
/** Time kept back to hand the answer to the Provider framework. */
const ANSWER_MARGIN_MS = 5_000;

export async function handler(
  event: CustomResourceEvent,
  context?: { getRemainingTimeInMillis?: () => number },
): Promise<RegistrationResult> {
  const remaining = context?.getRemainingTimeInMillis?.() ?? 60_000;
  return onEvent(event, {
    readSecret: (arn, jsonField, label) => readSecret(secretsManager, arn, jsonField, { label }),
    clock: realClock,
    deadlineMs: Date.now() + Math.max(1_000, remaining - ANSWER_MARGIN_MS),
    log: stdoutLogger,
  });
}
