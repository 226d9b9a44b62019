// Alerts from a real agent: raised once when the relay cannot be reached and
// when a source falls silent, kept in agent.db across a restart without being
// repeated, shown in /v1/status and /metrics, posted to a webhook and sent to
// syslog (RFC 5424 over UDP).
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../agent/operations/agent-status.js';
import type { WebhookBody } from '../../agent/operations/alerts/index.js';
import { startAgent, type RunningAgent } from '../../agent/main.js';
import { alertingAgentYaml } from '../support/alerting-agent-yaml.js';
import { makeTempDir } from '../support/temp-dir.js';
import { until } from '../support/until.js';


describe('alert delivery', () => {
  const dir = makeTempDir('wardline-alerts-');
  const posted: WebhookBody[] = [];
  const datagrams: string[] = [];
  let webhook: Server;
  let syslog: Socket;
  let agent: RunningAgent | undefined;
  let configFile: string;

  beforeAll(async () => {
    webhook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        expect(req.headers['content-type']).toBe('application/json; charset=utf-8');
        expect(req.headers['x-hook-secret']).toBe('s3cret');
        posted.push(JSON.parse(body) as WebhookBody);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    syslog = createSocket('udp4');
    syslog.on('message', (m) => datagrams.push(m.toString('utf8')));
    await new Promise<void>((resolve) => syslog.bind(0, '127.0.0.1', resolve));

    configFile = join(dir.path, 'agent.yaml');
    writeFileSync(
      configFile,
      await alertingAgentYaml(
        'alert-hospital',
        `  webhook: { url: "http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hooks/wardline?token=abc", headers: { x-hook-secret: s3cret } }
  syslog: { host: 127.0.0.1, port: ${(syslog.address() as AddressInfo).port}, facility: local3, hostname: gateway-01 }`,
      ),
    );
    agent = await startAgent(configFile, { logger: pino({ level: 'silent' }) });
  });

  afterAll(async () => {
    await agent?.stop();
    webhook?.close();
    syslog?.close();
    dir.remove();
  });

  it('raises "link lost" and "source silent" once each, and delivers them to the webhook and syslog', async () => {
    const status = await until('two alerts firing', () => agent!.status(), (s) => (s.alerts?.active.length ?? 0) === 2);
    expect(status.alerts!.active.map((a) => `${a.rule}:${a.subject}`).sort()).toEqual(['link:cloud', 'source-silent:lis']);
    await until('both delivered', () => ({ posted: posted.length, datagrams: datagrams.length }), (n) => n.posted === 2 && n.datagrams === 2);

    const link = posted.find((p) => p.alert.rule === 'link')!;
    expect(link).toMatchObject({ source: 'wardline-agent', hospital: 'alert-hospital', alert: { subject: 'cloud', state: 'firing', severity: 'critical', level: 1 } });
    expect(link.alert.message).toMatch(/^link to relay cloud lost: (backoff|connecting)/);
    expect(link.alert.at).toBe(new Date(link.alert.atMs).toISOString());

    const line = datagrams.find((d) => d.includes('rule="link"'))!;
    // local3 (19) × 8 + crit (2) = 154
    expect(line).toMatch(/^<154>1 \d{4}-\d\d-\d\dT[\d:.]+Z gateway-01 wardline \d+ link \[wardline@32473 id="\d+" rule="link" subject="cloud" state="firing" level="1" severity="critical"\] link to relay cloud lost/);
    expect(datagrams.find((d) => d.includes('rule="source-silent"'))).toMatch(/^<156>1 /);

    // Still down a while later: nothing more.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(posted).toHaveLength(2);
    expect(agent!.status().alerts!.delivery).toEqual([
      expect.objectContaining({ sink: 'webhook', delivered: 2, failed: 0, lastError: null }),
      expect.objectContaining({ sink: 'syslog', delivered: 2, failed: 0 }),
    ]);
  });

  it('resolves the silent source once it sends again, after settling', async () => {
    const ingestless = agent!.mllpPorts.get('lis')!;
    const { connect } = await import('node:net');
    const socket = connect(ingestless, '127.0.0.1');
    const hl7 = 'MSH|^~\\&|LIS|H|W|H|20261121084833||ADT^A08|CTRL-1|P|2.5\rPID|1||P77||Doe^John\r';
    // Keep it talking for longer than settleAfter.
    for (let i = 0; i < 6; i++) {
      socket.write(`\x0b${hl7.replace('CTRL-1', `CTRL-${i}`)}\x1c\r`);
      await new Promise((r) => setTimeout(r, 500));
    }
    socket.end();
    const status = await until('silence resolved', () => agent!.status(), (s) => !s.alerts!.active.some((a) => a.rule === 'source-silent'));
    expect(status.alerts!.recent[0]).toMatchObject({ rule: 'source-silent', subject: 'lis', state: 'resolved', severity: 'info' });
    await until('resolution posted', () => posted.length, (n) => n === 3);
    expect(posted[2]!.alert).toMatchObject({ rule: 'source-silent', state: 'resolved' });
  });

  it('keeps alerts across a restart and does not raise the still-firing link alert again', async () => {
    const before = agent!.status().alerts!;
    await agent!.stop();
    agent = await startAgent(configFile, { logger: pino({ level: 'silent' }) });
    const url = `http://127.0.0.1:${agent.httpPort}`;
    const status = (await (await fetch(`${url}/v1/status`)).json()) as AgentStatus;
    expect(status.alerts!.recent.map((a) => a.id)).toEqual(before.recent.map((a) => a.id));
    // Link still down, well past linkLostAfter: no second "lost".
    await new Promise((r) => setTimeout(r, 3_000));
    const after = agent.status().alerts!;
    expect(after.recent.filter((a) => a.rule === 'link')).toHaveLength(1);
    expect(after.active.map((a) => a.rule)).toContain('link');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('wardline_agent_alerts_firing{rule="link"} 1');
    expect(metrics).toMatch(/wardline_agent_link_state\{relay="cloud",state="(backoff|connecting)"\} 1/);
    expect(metrics).toContain('wardline_agent_feed_lag_threshold_seconds{feed="clinical",relay="cloud"} 300');
    // The restarted agent has heard nothing from lis yet: silent since it started.
    expect(metrics).toContain('wardline_agent_source_silent{source="lis"} 1');
  });
});
