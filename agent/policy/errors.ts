// Errors of the policy engine and the hospital-held keys. Each carries a stable
// code with a line telling the operator what to do; config mistakes are turned
// into ConfigError (naming the key and the file) where the config is resolved.
import { CodedError } from '../../protocol/index.js';

export const PolicyErrorCode = {
  /** A feed policy hashes or encrypts but the keyring has no active key of that kind. Run `wardline keys rotate --kind <kind> --config agent.yaml`. */
  KEY_MISSING: 'WL_POLICY_KEY_MISSING',
  /** The keys directory or a key file in it cannot be read, or a key is not 32 bytes. Check `keys.dir` and the files' permissions. */
  KEYRING_INVALID: 'WL_POLICY_KEYRING_INVALID',
  /** A feed would send a local-only stream or field. Drop the field in the feed's policy, or take the stream out of the feed. */
  LOCAL_ONLY: 'WL_POLICY_LOCAL_ONLY',
  /** The text is not an `enc:v1:` token. Nothing to decrypt; check what was passed. */
  TOKEN_MALFORMED: 'WL_POLICY_TOKEN_MALFORMED',
  /** The token names a key id the keyring does not hold (retired and purged, or another hospital's). Restore the retired key file. */
  KEY_UNKNOWN: 'WL_POLICY_KEY_UNKNOWN',
  /** The ciphertext does not authenticate under its key: it was altered, or the key file is not the one it was made with. */
  DECRYPT_FAILED: 'WL_POLICY_DECRYPT_FAILED',
} as const;
export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

/** A hospital-held key that is missing or unusable; the agent refuses to start. */
export class PolicyKeyError extends CodedError<PolicyErrorCode> {
  override name = 'PolicyKeyError';
}

/** An `enc:v1:` token that cannot be decrypted; never carries the plaintext or the key. */
export class FieldDecryptError extends CodedError<PolicyErrorCode> {
  override name = 'FieldDecryptError';
}
