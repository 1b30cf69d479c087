import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** A stored secret cannot be used as configured: an operator must fix it (retries then succeed). */
export class SecretFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretFormatError';
  }
}

/**
 * A secret as stored: the whole SecretString, or when `jsonField` is set, that field of a JSON SecretString
 * (e.g. `{"signingSecret": "..."}`). Errors name the secret by `label`, never echo its value.
 */
export function extractSecret(
  secretString: string | undefined,
  jsonField: string | undefined,
  label = 'the signing secret',
): string {
  if (secretString === undefined) {
    throw new SecretFormatError(`${label} has no SecretString (binary secrets are not supported)`);
  }
  if (!jsonField) return secretString;
  let parsed: unknown;
  try {
    parsed = JSON.parse(secretString);
  } catch {
    throw new SecretFormatError(`${label} is not JSON, but field "${jsonField}" was configured`);
  }
  const value = (parsed as Record<string, unknown> | null)?.[jsonField];
  if (typeof value !== 'string' || value === '') {
    throw new SecretFormatError(`${label}'s JSON has no non-empty string field "${jsonField}"`);
  }
  return value;
}

export interface SecretValue {
  readonly value: string;
  readonly versionId?: string;
}

/** The Together API key a recipe reads per invocation (a rotated key is used at once), from its secret. */
export async function readTogetherApiKey(
  client: SecretsManagerClient,
  config: { readonly apiKeySecretArn: string; readonly apiKeyJsonField?: string },
): Promise<string> {
  const secret = await readSecret(client, config.apiKeySecretArn, config.apiKeyJsonField, {
    label: 'the Together API key secret',
  });
  return secret.value;
}

/** One stage of a secret, extracted. */
export async function readSecret(
  client: SecretsManagerClient,
  secretId: string,
  jsonField: string | undefined,
  options: { stage?: string; label?: string } = {},
): Promise<SecretValue> {
  const out = await client.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: options.stage ?? 'AWSCURRENT' }),
  );
  return { value: extractSecret(out.SecretString, jsonField, options.label), versionId: out.VersionId };
}
