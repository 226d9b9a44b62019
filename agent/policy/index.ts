// What other parts of the agent (the composition root, the feed pump, status, the
// CLI) may use of the policy engine.
export { applyPolicy, compileFeedPolicy, compileStreamPolicy, type ActivePolicyKeys, type FeedPolicy, type IdentifierFinding, type PolicyResult, type StreamPolicy } from './feed-policy.js';
export {
  DEFAULT_POLICY_DEFAULT,
  DEFAULT_POLICY_KEY,
  DEFAULT_RETAIN_RETIRED_MS,
  FeedPolicyConfigSchema,
  KeysConfigSchema,
  LocalOnlyConfigSchema,
  StreamPolicyConfigSchema,
  refineFeedPolicy,
  type FeedPolicyConfig,
  type KeysConfig,
  type LocalOnlyConfig,
  type PolicyFeedConfig,
  type StreamPolicyConfig,
} from './policy-config.js';
export { findLocalOnlyViolations, hl7KeyPathsByStream, type LocalOnlyViolation } from './local-only-check.js';
export { IdentifierScan, type IdentifierScanStatus, type IdentifierSighting } from './identifier-scan.js';
export { findIdentifiers, isMainlandMobile, isValidResidentId, residentIdCheckCharacter, IDENTIFIER_KINDS, type IdentifierKind, type IdentifierMatch } from './identifiers.js';
export { DEFAULT_ACTIONS, FIELD_ACTIONS, KEY_ACTIONS, type DefaultAction, type FieldAction, type KeyAction } from './policy-action.js';
export { pseudonym, isPseudonym, type HospitalKey } from './pseudonym.js';
export { decryptField, encryptField, isEncryptedToken, tokenKeyId, type KeyLookup } from './field-encryption.js';
export { revealEvent, revealHl7, revealJson } from './reveal.js';
export { KEY_KINDS, KEYRING_FILE, loadKeyring, readKeyFile, readKeyringManifest, type KeyKind, type Keyring, type KeyringEntry, type KeyRotation } from './keyring.js';
export { rotateKey, type RotateKeyOptions } from './key-rotation.js';
export { destroyKeys, type KeyDestruction } from './key-destruction.js';
export { compileFeedPolicies, type FeedPoliciesConfig } from './feed-policies.js';
export { FieldDecryptError, PolicyErrorCode, PolicyKeyError } from './errors.js';
