import { Duration, Token } from 'aws-cdk-lib';
import { EVENT_TYPES, isCatalogueType } from './events';

/** Prop checks shared by the constructs: each error names the construct, the prop and the value received. */

export function checkNumber(
  owner: string,
  name: string,
  value: number | undefined,
  min: number,
  max: number,
  integer = false,
): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new Error(
      `${owner}: ${name} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${value}`,
    );
  }
}

export function checkHttpsUrl(owner: string, name: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  if (!/^https:\/\/[^\s/]+/.test(value))
    throw new Error(`${owner}: ${name} must be an https URL, got "${value}"`);
}

export function checkEventType(owner: string, where: string, type: string): void {
  if (!isCatalogueType(type)) {
    throw new Error(
      `${owner}: unknown event type "${type}" in ${where}; known types: ${EVENT_TYPES.join(', ')}`,
    );
  }
}

/** A duration within [min, max], told back in words ("got 30 minutes"), not as a fraction of some unit. */
export function checkDuration(
  owner: string,
  name: string,
  value: Duration | undefined,
  min: Duration,
  max: Duration,
): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms < min.toMilliseconds() || ms > max.toMilliseconds()) {
    throw new Error(
      `${owner}: ${name} must be from ${min.toHumanString()} to ${max.toHumanString()}, got ${value.toHumanString()}`,
    );
  }
}
