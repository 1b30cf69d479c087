import { SIGNATURE_SCHEME } from './contract';

/**
 * How Together signs the webhooks it sends. A class with static factories rather than a string union, so the
 * choice stays jsii-friendly and can grow options later.
 */
export class SignatureScheme {
  /** `x-together-signature` = hex HMAC-SHA256(secret, raw body). The default. */
  public static togetherHmac(): SignatureScheme {
    return new SignatureScheme(SIGNATURE_SCHEME.togetherHmac);
  }

  /**
   * Standard Webhooks (standardwebhooks.com): `webhook-id`, `webhook-timestamp`, `webhook-signature`, secret in
   * the `whsec_<base64>` form, timestamps older or newer than 5 minutes refused.
   */
  public static standardWebhooks(): SignatureScheme {
    return new SignatureScheme(SIGNATURE_SCHEME.standardWebhooks);
  }

  private constructor(
    /** The name the verifier reads from `SIGNATURE_SCHEME`. */
    public readonly name: string,
  ) {}
}
