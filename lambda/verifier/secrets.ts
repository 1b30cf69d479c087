import { ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { readSecret, SecretFormatError } from '../shared/secret-value';
import { SchemeName, secretToKey } from './signature';
import { isObject } from '../shared/guards';

/** The secret values to accept, current first. */
export type FetchSecrets = () => Promise<string[]>;

export interface LoadedKeys {
  readonly keys: readonly Buffer[];
  readonly loadedAtMs: number;
  /** Past the TTL, served because Secrets Manager failed: the last good keys, for a bounded time. */
  readonly stale?: boolean;
  /** Why they could not be reloaded. */
  readonly error?: unknown;
}

/**
 * Keeps the signing keys warm for `ttlMs`. A signature that matches no cached key may mean the secret was
 * rotated since we loaded it, so `refresh` reloads once, but no more often than every `minRefreshMs`: a stream of
 * forged requests must not turn into a stream of Secrets Manager calls. When Secrets Manager fails past the TTL,
 * the last good keys keep serving (marked stale) for `staleGraceMs` more, asked again every `minRefreshMs`: an
 * outage there must not turn every sender's delivery into a 503.
 */
export class SecretCache {
  private loaded?: LoadedKeys;
  private pending?: Promise<LoadedKeys>;
  private failure?: { atMs: number; error: unknown };

  constructor(
    private readonly fetch: FetchSecrets,
    private readonly scheme: SchemeName,
    private readonly ttlMs: number,
    private readonly minRefreshMs: number,
    private readonly staleGraceMs = 3_600_000,
  ) {}

  async get(nowMs: number): Promise<LoadedKeys> {
    const loaded = this.loaded;
    if (loaded && nowMs - loaded.loadedAtMs < this.ttlMs) return loaded;
    const usable = loaded && nowMs - loaded.loadedAtMs < this.ttlMs + this.staleGraceMs;
    if (usable && this.failure && nowMs - this.failure.atMs < this.minRefreshMs) {
      return { ...loaded, stale: true, error: this.failure.error };
    }
    try {
      return await this.load(nowMs);
    } catch (error) {
      this.failure = { atMs: nowMs, error };
      if (usable) return { ...loaded, stale: true, error };
      throw error;
    }
  }

  /** Reloads if the cache is old enough to be stale; undefined when it is too fresh to be worth it. */
  async refresh(nowMs: number): Promise<LoadedKeys | undefined> {
    if (this.loaded && nowMs - this.loaded.loadedAtMs < this.minRefreshMs) return undefined;
    return this.load(nowMs);
  }

  private async load(nowMs: number): Promise<LoadedKeys> {
    // Concurrent callers share one fetch.
    this.pending ??= this.fetch()
      .then((values) => {
        if (values.length === 0) throw new SecretFormatError('no signing secret version found');
        this.loaded = { keys: values.map((value) => secretToKey(this.scheme, value)), loadedAtMs: nowMs };
        this.failure = undefined;
        return this.loaded;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

/** Reads AWSCURRENT and, when one exists, AWSPREVIOUS: both are accepted while senders switch over. */
export function secretsManagerFetch(
  client: SecretsManagerClient,
  secretId: string,
  jsonField: string | undefined,
): FetchSecrets {
  const read = async (stage: string): Promise<string | undefined> => {
    try {
      return (await readSecret(client, secretId, jsonField, { stage })).value;
    } catch (err) {
      // No previous version yet, or one in an old format: the current one is what counts.
      if (stage === 'AWSPREVIOUS' && (err instanceof ResourceNotFoundException || !isAwsError(err)))
        return undefined;
      throw err;
    }
  };
  return async () => {
    const [current, previous] = await Promise.all([read('AWSCURRENT'), read('AWSPREVIOUS')]);
    return [...new Set([current, previous].filter((value): value is string => value !== undefined))];
  };
}

function isAwsError(err: unknown): boolean {
  return isObject(err) && '$metadata' in err;
}
