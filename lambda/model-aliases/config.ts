import type { ModelAliasesEnvironment } from '../../lib/contract';
import { Environment, EnvReader } from '../shared/config';
import { isObject, nonEmptyString } from '../shared/guards';
import { AliasSpec } from './core';

/** Everything the model-aliases handler reads from its environment, validated. */
export interface ModelAliasesConfig {
  readonly tableName: string;
  /** Names this construct's claims and alias items in the table. */
  readonly scope: string;
  readonly retentionSeconds: number;
  readonly aliases: AliasSpec[];
  readonly switchOnDeprecation: boolean;
  /** Where changes and alerts are announced; undefined: nowhere. */
  readonly alertTopicArn?: string;
}

export function readModelAliasesConfig(env: Environment): ModelAliasesConfig {
  const read = new EnvReader<ModelAliasesEnvironment>(env);
  return {
    tableName: read.required('TABLE_NAME'),
    scope: read.scope('CLAIM_SCOPE'),
    // How long a claim is remembered: the receiver's dedupeRetention.
    retentionSeconds: read.retentionSeconds(),
    aliases: aliases(read),
    switchOnDeprecation: read.flag('SWITCH_ON_DEPRECATION'),
    alertTopicArn: read.optional('ALERT_TOPIC_ARN'),
  };
}

/** ALIASES: required, a JSON array of `{ alias, parameter, follow? }`. */
function aliases(read: EnvReader<ModelAliasesEnvironment>): AliasSpec[] {
  return read.json(
    'ALIASES',
    undefined,
    (value): value is AliasSpec[] => Array.isArray(value) && value.every(isAliasSpec),
  );
}

function isAliasSpec(value: unknown): value is AliasSpec {
  return (
    isObject(value) &&
    nonEmptyString(value.alias) !== undefined &&
    nonEmptyString(value.parameter) !== undefined &&
    (value.follow === undefined || typeof value.follow === 'string')
  );
}
