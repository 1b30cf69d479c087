/**
 * Item keys in the dedupe table, one namespace per owner. A sender names at most the last part of an outcome claim,
 * so no envelope can reach another construct's claims, the poller's state or lease, or a recipe's items; and each
 * role that touches the table is granted its own prefixes only (`dynamodb:LeadingKeys`).
 *
 *   o#<construct scope>#<outcome key>          outcome claims: the verifier, the poller, batch results
 *   poller#<poller scope>#<part>               the poller's state and lease
 *   poller#<poller scope>#track                its tracking inbox (ids handed in: lib/track.ts)
 *   auto-deploy#<recipe scope>:<fine-tune id>  auto-deploy's claims
 *   model-aliases#<recipe scope>...            model aliases' claims and per-alias records
 *   fine-tune-retry#<recipe scope>...          fine-tune retry's claims (`:<failed id>`) and lineages (`#lineage#`)
 *
 * A scope is a construct's address (`node.addr`): stable across deploys, distinct for two constructs in one table.
 *
 * This module imports only the catalogue: the Lambda handlers bundle it.
 */
import { CLAIM_SCOPE_PATTERN } from './contract';
import { isCatalogueType } from './events';

export { CLAIM_SCOPE_PATTERN };

/** The first characters of every outcome claim. */
export const OUTCOME_CLAIM_PREFIX = 'o#';

/** Every outcome claim of the construct with this scope starts with this. */
export function outcomeClaimPrefix(scope: string): string {
  return `${OUTCOME_CLAIM_PREFIX}${checkScope(scope)}#`;
}

/** The item an outcome's claim lives in. */
export function outcomeClaimId(scope: string, outcomeKey: string): string {
  return `${outcomeClaimPrefix(scope)}${outcomeKey}`;
}

/**
 * Where the same outcome was claimed before claims had namespaces: the outcome key itself, unscoped. Read, never
 * written, so an upgrade publishes nothing a second time. Only keys of catalogue outcomes (`<type>:<fields>`) are
 * looked up: an older claim named by a delivery id alone could be any string, and no role may read any key.
 */
export function legacyOutcomeClaimId(outcomeKey: string): string | undefined {
  const colon = outcomeKey.indexOf(':');
  return colon > 0 && isCatalogueType(outcomeKey.slice(0, colon)) ? outcomeKey : undefined;
}

/** The keys `legacyOutcomeClaimId` may name for outcomes of these types: what a role that honours them may read. */
export function legacyOutcomeClaimPrefixes(types: readonly string[]): string[] {
  return types.filter(isCatalogueType).map((type) => `${type}:`);
}

/** Every item of the poller with this scope (its state parts and its lease) starts with this. */
export function pollerStatePrefix(scope: string): string {
  return `poller#${checkScope(scope)}#`;
}

/**
 * The poller's tracking inbox: one item whose attributes are the operations handed in to follow (lib/track.ts).
 * Inside the poller's prefix (the poller reads and clears it); writers are granted exactly this key.
 */
export function trackInboxKey(scope: string): string {
  return `${pollerStatePrefix(scope)}track`;
}

/** Every claim of the auto-deploy recipe with this scope starts with this. */
export function autoDeployClaimPrefix(scope: string): string {
  return `auto-deploy#${checkScope(scope)}:`;
}

/** Every item of the model aliases recipe with this scope (claims `...:`, alias records `...#alias#`) starts so. */
export function modelAliasesPrefix(scope: string): string {
  return `model-aliases#${checkScope(scope)}`;
}

/** Every item of the fine-tune retry recipe with this scope (claims `...:`, lineage records `...#lineage#`). */
export function fineTuneRetryPrefix(scope: string): string {
  return `fine-tune-retry#${checkScope(scope)}`;
}

function checkScope(scope: string): string {
  if (!CLAIM_SCOPE_PATTERN.test(scope)) {
    throw new Error(
      `a claim scope must be 1-100 letters, digits, '_', '.' or '-', got "${String(scope).slice(0, 100)}"`,
    );
  }
  return scope;
}
