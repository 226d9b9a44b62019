// Ed25519 signatures in minisign's file format, so what Wardline signs (an
// export's manifest, a purge receipt, a tree head) is checked by a tool nobody
// here wrote: Debian's `minisign -Vm FILE -p KEY.pub`.
//
// The format (https://jedisct1.github.io/minisign/):
//   public key  untrusted comment line, then base64("Ed" ‖ key id (8) ‖ public key (32))
//   signature   untrusted comment line,
//               base64("ED" ‖ key id (8) ‖ Ed25519(BLAKE2b-512(file)))   — the prehashed
//                 form minisign makes by default, so a large file is hashed as a stream,
//               "trusted comment: " line,
//               base64(Ed25519(signature ‖ trusted comment))  — the global signature,
//                 which binds the trusted comment to the signature.
// The key id is the first 8 bytes of the public key's SHA-256 (minisign picks
// random ones; any 8 bytes serve, and these need no second file to keep).
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface MinisignKey {
  /** The Ed25519 private key. */
  privateKey: KeyObject;
  /** The raw 32-byte public key. */
  publicKey: Buffer;
  /** 8 bytes naming the key in every signature. */
  keyId: Buffer;
}

/** What a signature said once it verified. */
export interface VerifiedSignature {
  /** The trusted comment, covered by the signature. */
  trustedComment: string;
  keyId: Buffer;
}

/** A signature or public key that does not verify or does not parse; `reason` says which. */
export class MinisignError extends Error {
  constructor(readonly reason: 'malformed-key' | 'malformed-signature' | 'wrong-key' | 'bad-signature' | 'bad-trusted-comment', message: string) {
    super(message);
    this.name = 'MinisignError';
  }
}

/** A new Ed25519 key. */
export function generateMinisignKey(): MinisignKey {
  return minisignKeyFrom(generateKeyPairSync('ed25519').privateKey);
}

/** The key of an Ed25519 private key (PKCS#8 PEM or a KeyObject). */
export function minisignKeyFrom(privateKey: KeyObject | string): MinisignKey {
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  if (key.asymmetricKeyType !== 'ed25519') throw new MinisignError('malformed-key', `expected an Ed25519 private key, got ${key.asymmetricKeyType ?? key.type}`);
  const publicKey = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x!, 'base64url');
  return { privateKey: key, publicKey, keyId: createHash('sha256').update(publicKey).digest().subarray(0, 8) };
}

/** The private key as PKCS#8 PEM, for a private file. */
export function privateKeyPem(key: MinisignKey): string {
  return key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** The key id as minisign prints it (the 8 bytes as a little-endian number, upper-case hex). */
export function keyIdText(keyId: Uint8Array): string {
  return Buffer.from(keyId).reverse().toString('hex').toUpperCase();
}

/** The public key file's text (minisign.pub). */
export function publicKeyText(key: Pick<MinisignKey, 'publicKey' | 'keyId'>): string {
  const body = Buffer.concat([Buffer.from('Ed'), key.keyId, key.publicKey]).toString('base64');
  return `untrusted comment: minisign public key ${keyIdText(key.keyId)}\n${body}\n`;
}

/** Reads a public key file's text (or its base64 line alone, as `minisign -P` takes it). */
export function parsePublicKey(text: string): { publicKey: Buffer; keyId: Buffer } {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const line = lines.length > 1 && lines[0]!.startsWith('untrusted comment:') ? lines[1] : lines[0];
  const raw = Buffer.from(line?.trim() ?? '', 'base64');
  if (raw.length !== 42 || raw.subarray(0, 2).toString('latin1') !== 'Ed') {
    throw new MinisignError('malformed-key', 'not a minisign public key (expected "untrusted comment: …" and a base64 line of 42 bytes starting "Ed")');
  }
  return { keyId: Buffer.from(raw.subarray(2, 10)), publicKey: Buffer.from(raw.subarray(10)) };
}

/** BLAKE2b-512 of bytes: what the prehashed form signs. */
export function minisignPrehash(data: Uint8Array): Buffer {
  return createHash('blake2b512').update(data).digest();
}

/** BLAKE2b-512 of a file, read as a stream. */
export async function minisignPrehashFile(path: string): Promise<Buffer> {
  const hash = createHash('blake2b512');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest();
}

/**
 * The .minisig text for content whose BLAKE2b-512 is `prehash` (minisignPrehash
 * or minisignPrehashFile). The trusted comment must be one line.
 */
export function signPrehashed(key: MinisignKey, prehash: Uint8Array, trustedComment: string, untrustedComment = 'signature from wardline'): string {
  if (/[\r\n]/.test(trustedComment) || /[\r\n]/.test(untrustedComment)) throw new RangeError('a minisign comment must be one line');
  const signature = sign(null, prehash, key.privateKey);
  const globalSignature = sign(null, Buffer.concat([signature, Buffer.from(trustedComment, 'utf8')]), key.privateKey);
  const signatureLine = Buffer.concat([Buffer.from('ED'), key.keyId, signature]).toString('base64');
  return `untrusted comment: ${untrustedComment}\n${signatureLine}\ntrusted comment: ${trustedComment}\n${globalSignature.toString('base64')}\n`;
}

/** The .minisig text for `data`. */
export function signMinisign(key: MinisignKey, data: Uint8Array, trustedComment: string, untrustedComment?: string): string {
  return signPrehashed(key, minisignPrehash(data), trustedComment, untrustedComment);
}

/**
 * Checks a .minisig text against content's BLAKE2b-512 (or, for the legacy
 * "Ed" form, the content itself via `data`) and a public key.
 * @throws MinisignError naming what failed: the signature's shape, another key, the signature, the trusted comment.
 */
export function verifyPrehashed(prehash: Uint8Array, signatureText: string, publicKey: { publicKey: Uint8Array; keyId: Uint8Array }, data?: Uint8Array): VerifiedSignature {
  const [untrusted = '', signatureLine = '', trusted = '', globalLine = ''] = signatureText.split(/\r?\n/);
  if (!untrusted.startsWith('untrusted comment:') || !trusted.startsWith('trusted comment: ')) {
    throw new MinisignError('malformed-signature', 'not a minisign signature (expected an untrusted comment, a signature line, a trusted comment and a global signature)');
  }
  const raw = Buffer.from(signatureLine.trim(), 'base64');
  const algorithm = raw.subarray(0, 2).toString('latin1');
  if (raw.length !== 74 || (algorithm !== 'ED' && algorithm !== 'Ed')) throw new MinisignError('malformed-signature', 'the signature line is not 74 bytes starting "ED" or "Ed"');
  const keyId = Buffer.from(raw.subarray(2, 10));
  if (!keyId.equals(Buffer.from(publicKey.keyId))) {
    throw new MinisignError('wrong-key', `signed by key ${keyIdText(keyId)}, not by ${keyIdText(publicKey.keyId)}`);
  }
  const signature = raw.subarray(10);
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKey.publicKey).toString('base64url') }, format: 'jwk' });
  const signed = algorithm === 'ED' ? prehash : data;
  if (signed === undefined || !verify(null, signed, key, signature)) throw new MinisignError('bad-signature', 'the signature does not match the content: it was altered after signing');
  const trustedComment = trusted.slice('trusted comment: '.length);
  const globalSignature = Buffer.from(globalLine.trim(), 'base64');
  if (!verify(null, Buffer.concat([signature, Buffer.from(trustedComment, 'utf8')]), key, globalSignature)) {
    throw new MinisignError('bad-trusted-comment', 'the trusted comment was altered after signing');
  }
  return { trustedComment, keyId };
}

/** verifyPrehashed for bytes in memory. */
export function verifyMinisign(data: Uint8Array, signatureText: string, publicKey: { publicKey: Uint8Array; keyId: Uint8Array }): VerifiedSignature {
  return verifyPrehashed(minisignPrehash(data), signatureText, publicKey, data);
}
