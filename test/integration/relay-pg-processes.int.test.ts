// Several relay processes on one PostgreSQL database, as behind a load
// balancer: here two (A and B) started in this test process, each with its
// own dataDir (they share no disk) and the same `store: { kind: postgres }`.
//  - An agent that hops from A to B resumes after the durable mark B reads
//    from the database (no resend, nothing lost), and B acks its next batch.
//  - A vendor following the feed on A receives the batches B stores, woken by
//    the doorbell; commit→delivery across the two processes is measured and
//    printed (p50/p99).
//  - Each process's status lists both processes alive and which holds the
//    hospital's stream; /metrics names the process that answered.
//  - A process whose database is unreachable (its connection runs through a
//    fault proxy that refuses) answers /readyz 503 until the line is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelayConfigInput } from '../../cloud-relay/config.js';
import type { RelayStatus } from '../../cloud-relay/status/index.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { createRelayTestDatabase, type RelayTestDatabase } from '../support/relay-test-database.js';
import { connectAgent, inboundChannel, makeBatch, OPERATOR_HEADERS, shareSigningKey, TestRelay, VENDOR_KEYS } from './relay-harness.js';

const HEARTBEAT_MS = 200;

/** The shared store, and vendor `app` may write h2's `bookings` channel. */
function onPostgres(url: string) {
  return (config: RelayConfigInput): RelayConfigInput => ({
    ...config,
    store: { kind: 'postgres', url, heartbeatMs: HEARTBEAT_MS, processTimeoutMs: 5 * HEARTBEAT_MS, liveTailPollMs: 500 },
    vendors: config.vendors!.map((v) => (v.name === 'app' ? { ...v, grants: [{ hospital: 'h2', feeds: ['appointments'], inbound: ['bookings'] }] } : v)),
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function until(what: () => Promise<boolean> | boolean, timeoutMs: number, label: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('relay processes sharing one PostgreSQL database', () => {
  let db: RelayTestDatabase;
  let a: TestRelay;
  let b: TestRelay;

  beforeAll(async () => {
    db = await createRelayTestDatabase('processes');
    a = new TestRelay(onPostgres(db.url));
    b = new TestRelay(onPostgres(db.url));
    shareSigningKey(a, b);
    await Promise.all([a.start(), b.start()]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await db?.drop();
  });

  it('an agent that hops from A to B resumes from the durable mark, and a vendor on A sees what B stores', async () => {
    const first = await connectAgent(a, 'h1', ['adt']);
    expect(first.welcome.positions?.find((p) => p.feed === 'adt')?.highWaterSeq).toBe(0);
    for (let seq = 1; seq <= 100; seq += 10) expect((await first.stream.exchange(makeBatch('adt', seq, seq + 9))).ack).toMatchObject({ highWaterSeq: seq + 9, duplicate: false });
    first.stream.end();
    await first.stream.status;

    // The hop: B has never seen this hospital; its Welcome is read from the database.
    const hopped = await connectAgent(b, 'h1', ['adt']);
    expect(Number(hopped.welcome.positions?.find((p) => p.feed === 'adt')?.highWaterSeq)).toBe(100);

    // A vendor following on A from the start.
    const follow = a.subscribe(VENDOR_KEYS.platform, { feed: 'adt', hospitalId: 'h1', after: 0, follow: true });
    const nextSeq = async () => {
      for (;;) {
        const message = await follow.next(5_000);
        if (message.event) return Number(message.event.seq);
      }
    };
    for (let seq = 1; seq <= 100; seq += 1) expect(await nextSeq()).toBe(seq);

    // B stores 300 more batches; each is timed from B's ack (its commit) and from its send to A's delivery of its last event.
    const fromAck: number[] = [];
    const fromSend: number[] = [];
    for (let seq = 101; seq <= 400; seq += 1) {
      const sent = performance.now();
      const answer = await hopped.stream.exchange(makeBatch('adt', seq, seq));
      const acked = performance.now();
      expect(answer.ack).toMatchObject({ highWaterSeq: seq, duplicate: false });
      const delivered = await nextSeq().then((got) => {
        expect(got).toBe(seq);
        return performance.now();
      });
      fromAck.push(delivered - acked);
      fromSend.push(delivered - sent);
    }
    fromAck.sort((x, y) => x - y);
    fromSend.sort((x, y) => x - y);
    console.log(
      `live tail across processes (B stores, A delivers), ${fromAck.length} batches: ` +
        `ack→delivery p50 ${percentile(fromAck, 50).toFixed(1)} ms, p99 ${percentile(fromAck, 99).toFixed(1)} ms; ` +
        `send→delivery p50 ${percentile(fromSend, 50).toFixed(1)} ms, p99 ${percentile(fromSend, 99).toFixed(1)} ms`,
    );
    // Woken by the doorbell, not by the 500 ms poll.
    expect(percentile(fromAck, 50)).toBeLessThan(100);
    follow.call.cancel();

    // Each process's status lists both, alive, and B holding h1's stream.
    for (const relay of [a, b]) {
      await until(
        async () => {
          const cluster = (await relay.relay!.status()).cluster!;
          return cluster.processes.length === 2 && cluster.processes.every((p) => p.alive) && cluster.streams.some((s) => s.hospital === 'h1');
        },
        5_000,
        'both processes and the stream holder on the status',
      );
    }
    const [statusA, statusB] = await Promise.all([a.relay!.status(), b.relay!.status()]);
    expect(statusA.cluster!.thisProcess).not.toBe(statusB.cluster!.thisProcess);
    expect(statusA.cluster!.streams).toEqual([expect.objectContaining({ hospital: 'h1', processId: statusB.cluster!.thisProcess })]);
    expect(statusA.cluster!.store).toMatchObject({ kind: 'postgres', reachable: true });
    expect(statusA.cluster!.liveTail?.state).toBe('listening');
    // Both processes' ports, as bound.
    expect(statusA.cluster!.processes.map((p) => p.grpcListen).sort()).toEqual([a.grpcAddress, b.grpcAddress].sort());

    // The vendor read on A shows on B's status (vendor cursors in the database).
    await until(
      async () => (await b.relay!.status()).vendors.find((v) => v.vendor === 'platform')?.feeds.find((f) => f.hospital === 'h1' && f.feed === 'adt')?.cursor === 400,
      5_000,
      "the vendor's cursor on B's status",
    );

    const page = await fetch(`${a.httpBase}/`, { headers: OPERATOR_HEADERS });
    const html = await page.text();
    expect(html).toContain('Relay processes');
    expect(html).toContain(statusB.cluster!.thisProcess);
    const metrics = await (await fetch(`${b.httpBase}/metrics`, { headers: OPERATOR_HEADERS })).text();
    expect(metrics).toContain(`wardline_relay_instance_info{process_id="${statusB.cluster!.thisProcess}"`);
    expect(metrics).toMatch(/wardline_relay_processes\{state="alive"\} 2/);
    expect(metrics).toMatch(/wardline_relay_store_reachable 1/);
    hopped.stream.end();
  }, 60_000);

  it("delivers a vendor's inbound write on A to the hospital's agent on B, woken by the inbound doorbell", async () => {
    const stream = b.agentStream();
    stream.hello('h2', [], { inboundChannels: [inboundChannel('bookings')] });
    await stream.nextOf('welcome');
    const started = performance.now();
    const written = await fetch(`${a.httpBase}/v1/hospitals/h2/inbound/bookings`, {
      method: 'POST',
      headers: { authorization: `Bearer ${VENDOR_KEYS.app}`, 'content-type': 'application/json', 'idempotency-key': 'booking-1' },
      body: JSON.stringify({ patient: { id: 'P77' }, slot: '2026-12-04T09:00' }),
    });
    expect(written.status).toBe(202);
    const { id } = (await written.json()) as { id: string };
    const committed = performance.now();
    const delivery = await stream.nextOf('inboundDelivery', 5_000);
    const ms = performance.now() - committed;
    expect(delivery.inboundDelivery!.events).toEqual([expect.objectContaining({ id, channel: 'bookings', channelSeq: 1 })]);
    console.log(`inbound write on A → delivery on B's agent stream: ${ms.toFixed(1)} ms after A's 202 (${(committed - started).toFixed(1)} ms for the write)`);
    // The doorbell, not the backlog timer (seconds).
    expect(ms).toBeLessThan(500);
    stream.end();
  }, 30_000);

  it('refuses to start a process whose signing key is not the one the others on the database sign with', async () => {
    const stranger = new TestRelay(onPostgres(db.url));
    try {
      const error = await stranger.start().catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('WL_SIGNING_KEY_MISMATCH');
      expect((error as Error).message).toContain(`${stranger.dataDir}/relay-signing.key`);
      expect((error as Error).message).toContain('Copy relay-signing.key and relay-signing.pub');
      // Nothing of it is listening, and the others serve on.
      expect(stranger.relay).toBeUndefined();
      expect((await fetch(`${a.httpBase}/readyz`)).status).toBe(200);
    } finally {
      await stranger.close();
    }
  });

  it('answers /readyz 503 while its database is unreachable and 200 once it is back', async () => {
    const proxy = await FaultProxy.start({ target: { host: '127.0.0.1', port: 5432 } });
    const url = new URL(db.url);
    url.port = String(proxy.port);
    const c = new TestRelay(onPostgres(url.toString()));
    shareSigningKey(a, c);
    try {
      await c.start();
      const ready = async () => (await fetch(`${c.httpBase}/readyz`)).status;
      expect(await ready()).toBe(200);
      proxy.refuse();
      // The heartbeat's next write fails and marks the database down.
      await until(async () => (await ready()) === 503, 5_000, '/readyz 503');
      const body = await (await fetch(`${c.httpBase}/readyz`)).json();
      expect(JSON.stringify(body)).toMatch(/database .* is unreachable/);
      // A vendor's read meanwhile: 503 to retry (here or at another process), without the database's address.
      const read = await fetch(`${c.httpBase}/v1/feeds/adt/events?hospital=h1`, { headers: { authorization: `Bearer ${VENDOR_KEYS.platform}` } });
      expect(read.status).toBe(503);
      expect(read.headers.get('retry-after')).toBe('1');
      const refused = await read.text();
      expect(refused).toContain('WL_STORE_UNAVAILABLE');
      expect(refused).not.toContain('127.0.0.1');
      // The operator's views still answer, and say the database is down instead of showing no feeds as if there were none.
      const status = (await (await fetch(`${c.httpBase}/v1/status`, { headers: OPERATOR_HEADERS })).json()) as RelayStatus;
      expect(status.storeUnavailable).toEqual({ since: expect.any(String), error: expect.any(String) });
      expect(status.cluster!.store.reachable).toBe(false);
      const page = await (await fetch(`${c.httpBase}/`, { headers: OPERATOR_HEADERS })).text();
      expect(page).toContain("The relay's database is unreachable");
      expect(page).toContain('Not known while the database is unreachable.');
      expect(page).not.toContain('Nothing stored yet.');
      const metrics = await (await fetch(`${c.httpBase}/metrics`, { headers: OPERATOR_HEADERS })).text();
      expect(metrics).toMatch(/wardline_relay_store_reachable 0/);
      await proxy.heal();
      await until(async () => (await ready()) === 200, 10_000, '/readyz 200 again');
    } finally {
      await c.close();
      await proxy.stop();
    }
  }, 30_000);
});
