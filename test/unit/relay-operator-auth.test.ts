import { describe, expect, it } from 'vitest';
import { OperatorAuthError, RelayErrorCode } from '../../cloud-relay/errors.js';
import { secretDigest } from '../../cloud-relay/secret-digest.js';
import { OperatorAuth } from '../../cloud-relay/status/operator-auth.js';

const TOKEN = 'operator-token-0123456789abcdef';
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('OperatorAuth', () => {
  const auth = new OperatorAuth(secretDigest(TOKEN));

  it.each([
    ['a bearer token', `Bearer ${TOKEN}`],
    ['a bearer token, any case and trailing blanks', `bearer  ${TOKEN} `],
    ['HTTP Basic with the token as password (any user name)', basic('ops', TOKEN)],
    ['HTTP Basic with an empty user name', basic('', TOKEN)],
  ])('accepts %s', (_name, header) => {
    expect(auth.isOperator(header)).toBe(true);
    expect(() => auth.require(header)).not.toThrow();
  });

  it.each([
    ['no header', undefined],
    ['another token', 'Bearer operator-token-0123456789abcdeX'],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token as the Basic user name', basic(TOKEN, '')],
    ['Basic without a colon', `Basic ${Buffer.from(TOKEN).toString('base64')}`],
    ['another scheme', `Token ${TOKEN}`],
  ])('refuses %s', (_name, header) => {
    expect(auth.isOperator(header)).toBe(false);
    expect(() => auth.require(header)).toThrow(OperatorAuthError);
  });

  it('refuses everyone, saying how to enable it, when no token is configured', () => {
    const closed = new OperatorAuth(undefined);
    expect(closed.isOperator(`Bearer ${TOKEN}`)).toBe(false);
    expect(() => closed.require(`Bearer ${TOKEN}`)).toThrow(/http\.operatorTokenFile or http\.operatorTokenSha256/);
    try {
      closed.require(undefined);
    } catch (error) {
      expect((error as OperatorAuthError).code).toBe(RelayErrorCode.OPERATOR_AUTH_REQUIRED);
    }
  });
});
