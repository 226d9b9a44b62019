// A restore tool written from the README alone must decrypt what the agent encrypts.
// This one reads the token layout and the additional authenticated data from the
// README's words and decrypts with node:crypto only: if the README and the code
// disagree again (a trailing colon in the AAD, the tag in front), it fails.
import { createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encryptField } from '../../agent/policy/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');

/** The README's description of `encrypt`, as a restore tool's author would read it. */
function readmeEncryption(): { aadTemplate: string; ivBytes: number; tagBytes: number } {
  const aad = /additional authenticated data is the UTF-8 of `([^`]+)`/.exec(readme);
  const layout = /the first (\d+) bytes are the IV, the last (\d+) the GCM tag/.exec(readme);
  expect(aad, 'README names the additional authenticated data').not.toBeNull();
  expect(layout, 'README gives the token layout').not.toBeNull();
  expect(readme).toContain('written `enc:v1:<keyId>:<base64url of IV, ciphertext and tag>`');
  return { aadTemplate: aad![1]!, ivBytes: Number(layout![1]), tagBytes: Number(layout![2]) };
}

/** An independent decryption: only the README and node:crypto. */
function decryptAsReadmeSays(token: string, keyBase64: string): string {
  const { aadTemplate, ivBytes, tagBytes } = readmeEncryption();
  const [scheme, version, keyId, body] = token.split(':');
  expect(`${scheme}:${version}`).toBe('enc:v1');
  const sealed = Buffer.from(body!, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', Buffer.from(keyBase64, 'base64'), sealed.subarray(0, ivBytes), { authTagLength: tagBytes });
  decipher.setAAD(Buffer.from(aadTemplate.replace('<keyId>', keyId!), 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.length - tagBytes));
  return Buffer.concat([decipher.update(sealed.subarray(ivBytes, sealed.length - tagBytes)), decipher.final()]).toString('utf8');
}

describe('field encryption as the README describes it', () => {
  it('decrypts a value the agent encrypted, from the README text alone', () => {
    const secret = randomBytes(32);
    const key = { id: 'e-20261121-9c1d', secret };
    for (const value of ['张三', '110105194912310021', '']) {
      const token = encryptField(key, value);
      expect(decryptAsReadmeSays(token, secret.toString('base64'))).toBe(value);
    }
  });

  it('the README AAD is the token prefix without its trailing colon (what existing values were sealed with)', () => {
    expect(readmeEncryption().aadTemplate).toBe('enc:v1:<keyId>');
  });
});
