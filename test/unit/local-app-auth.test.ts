import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackAddress, LocalAppAuth } from '../../agent/sources/http-ingest/local-app-auth.js';
import { normaliseFingerprint, type LocalAppClient, type LocalAppCredentials } from '../../agent/sources/http-ingest/local-app-config.js';

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();
const client = (name: string, token: string | null, read: string[], write: string[], cert: string | null = null): LocalAppClient => ({
  name,
  tokenDigest: token === null ? null : digest(token),
  certificateSha256: cert,
  read: new Set(read),
  write: new Set(write),
});
const request = (remoteAddress: string, authorization?: string, socket: object = {}): IncomingMessage =>
  ({ headers: authorization ? { authorization } : {}, socket: { remoteAddress, ...socket } }) as unknown as IncomingMessage;
const auth = (clients: LocalAppClient[], anonymous: LocalAppCredentials['anonymous']): LocalAppAuth => new LocalAppAuth({ clients, anonymous, anonymousExplicit: false });

describe('LocalAppAuth', () => {
  const withClients = auth([client('emr', 'emr-token-0123456789', ['adt'], ['appointments']), client('all', 'all-token-0123456789', ['*'], ['*'])], 'none');

  it('tells loopback peers from the LAN', () => {
    expect(['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1'].map(isLoopbackAddress)).toEqual([true, true, true, true]);
    expect(['192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', undefined].map(isLoopbackAddress)).toEqual([false, false, false, false]);
  });

  it('without clients answers loopback only, 401 for the LAN', () => {
    const open = auth([], 'loopback');
    expect(open.authorize(request('127.0.0.1'), 'adt', 'read')).toEqual({ ok: true, client: null });
    expect(open.authorize(request('192.0.2.2'), 'adt', 'write')).toMatchObject({ ok: false, status: 401 });
    expect(auth([], 'anyone').authorize(request('192.0.2.2'), 'adt', 'write')).toEqual({ ok: true, client: null });
  });

  it('grants each token its streams, 403 for others, 401 for an unknown token', () => {
    expect(withClients.authorize(request('192.0.2.2', 'Bearer emr-token-0123456789'), 'adt', 'read')).toEqual({ ok: true, client: 'emr' });
    expect(withClients.authorize(request('192.0.2.2', 'bearer emr-token-0123456789'), 'appointments', 'write')).toEqual({ ok: true, client: 'emr' });
    expect(withClients.authorize(request('192.0.2.2', 'Bearer emr-token-0123456789'), 'adt', 'write')).toEqual({
      ok: false,
      status: 403,
      code: 'forbidden',
      message: 'client emr may not write stream adt (http.clients[].write)',
    });
    expect(withClients.authorize(request('192.0.2.2', 'Bearer all-token-0123456789'), 'his.patient', 'write')).toEqual({ ok: true, client: 'all' });
    expect(withClients.authorize(request('127.0.0.1', 'Bearer emr-token-012345678'), 'adt', 'read')).toMatchObject({ ok: false, status: 401 });
    expect(withClients.authorize(request('127.0.0.1'), 'adt', 'read')).toMatchObject({ ok: false, status: 401 });
    expect(withClients.authorize(request('127.0.0.1', 'Basic ZW1yOng='), 'adt', 'read')).toMatchObject({ ok: false, status: 401 });
  });

  it('takes a client certificate only when TLS verified it', () => {
    const fingerprint = normaliseFingerprint('ab'.repeat(32));
    const byCert = auth([client('pacs', null, ['results'], [], fingerprint)], 'none');
    const tls = (authorized: boolean, fp: string) => ({ authorized, getPeerCertificate: () => ({ fingerprint256: fp }) });
    expect(byCert.authorize(request('192.0.2.2', undefined, tls(true, fingerprint)), 'results', 'read')).toEqual({ ok: true, client: 'pacs' });
    expect(byCert.authorize(request('192.0.2.2', undefined, tls(false, fingerprint)), 'results', 'read')).toMatchObject({ ok: false, status: 401 });
    expect(byCert.authorize(request('192.0.2.2', undefined, tls(true, normaliseFingerprint('cd'.repeat(32)))), 'results', 'read')).toMatchObject({ ok: false, status: 401 });
  });

  it('says at start who reaches the data plane', () => {
    expect(auth([], 'loopback').describe()).toMatchObject({ level: 'warn', message: expect.stringMatching(/^no http\.clients configured/) });
    expect(auth([], 'anyone').describe()).toMatchObject({ level: 'warn', message: expect.stringMatching(/"anyone"/) });
    expect(withClients.describe()).toMatchObject({ level: 'info', fields: { clients: ['emr', 'all'], anonymousApps: 'none' } });
  });

  it('normalises fingerprints to the form Node reports', () => {
    expect(normaliseFingerprint('ab:CD' + 'ef'.repeat(30))).toBe(['AB', 'CD', ...Array(30).fill('EF')].join(':'));
  });
});
