// The simulated HIS over real sockets: bookings accepted with a filler id, a taken slot
// refused with its reason, a resend answered byte for byte and applied once, and the
// faults it plays (down, hang, AE on demand).
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { frameMllp, Hl7Message, MllpFramer } from '../../agent/hl7/index.js';
import { MllpHis, SLOT_TAKEN_REASON } from '../../simulator/his/index.js';

const TS = '20261203100000';

function srm(controlId: string, patient: string, doctor: string, start: string): string {
  return [
    `MSH|^~\\&|WARDLINE|h-zj-002|HIS|HOSP|${TS}||SRM^S01^SRM_S01|${controlId}|P|2.5|||AL|NE||UNICODE UTF-8`,
    `ARQ|BK${controlId}^PATIENT-APP||||||||||${start}^${start}|||||||||||`,
    `PID|1||${patient}^^^HOSP^PI||张^伟||19800101|M|||||13800138000`,
    `AIS|1||0301^心血管内科|${start}|||15|min`,
    `AIP|1||${doctor}^李^明|||${start}`,
  ].join('\r') + '\r';
}

function adt(controlId: string, patient: string): string {
  return [
    `MSH|^~\\&|WARDLINE|h-zj-002|HIS|HOSP|${TS}||ADT^A04^ADT_A01|${controlId}|P|2.5|||AL|NE||UNICODE UTF-8`,
    `EVN|A04|${TS}`,
    `PID|1||${patient}^^^HOSP^PI||王^芳||19900202|F`,
    'PV1|1|O|0301^^^HOSP',
  ].join('\r') + '\r';
}

function dft(controlId: string, patient: string): string {
  return [
    `MSH|^~\\&|WARDLINE|h-zj-002|HIS|HOSP|${TS}||DFT^P03^DFT_P03|${controlId}|P|2.5|||AL|NE||UNICODE UTF-8`,
    `EVN|P03|${TS}`,
    `PID|1||${patient}^^^HOSP^PI||王^芳`,
    `FT1|1|ZF00000001||${TS}|${TS}|CG|GH001^挂号费|||1|50.00^CNY`,
  ].join('\r') + '\r';
}

/** One connection that sends a message and reads the next answer frame. */
class Client {
  private readonly framer = new MllpFramer();
  private readonly answers: Buffer[] = [];
  private waiter: ((b: Buffer) => void) | undefined;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.framer.push(chunk)) {
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w(frame);
        } else this.answers.push(frame);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => this.closed?.());
  }
  private closed: (() => void) | undefined;
  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new Client(socket)));
      socket.once('error', reject);
    });
  }
  /** The answer's bytes, or undefined when none came within timeoutMs or the connection closed. */
  send(text: string, timeoutMs = 2_000): Promise<Buffer | undefined> {
    this.socket.write(frameMllp(Buffer.from(text, 'utf8')));
    const queued = this.answers.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => ((this.waiter = undefined), resolve(undefined)), timeoutMs);
      this.closed = () => (clearTimeout(timer), resolve(undefined));
      this.waiter = (b) => (clearTimeout(timer), resolve(b));
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

const parse = (b: Buffer | undefined): Hl7Message => {
  if (!b) throw new Error('no answer');
  return Hl7Message.parse(b.toString('utf8'));
};

describe('MllpHis', () => {
  const open: { his?: MllpHis; clients: Client[] } = { clients: [] };
  afterEach(async () => {
    for (const c of open.clients) c.close();
    open.clients = [];
    await open.his?.stop();
  });
  async function start(options: ConstructorParameters<typeof MllpHis>[0] = {}): Promise<{ his: MllpHis; client: Client }> {
    const his = new MllpHis(options);
    await his.start();
    open.his = his;
    const client = await Client.connect(his.port);
    open.clients.push(client);
    return { his, client };
  }

  it('books a free slot: SRR^S01 AA with SCH-2 a filler appointment id, and records it', async () => {
    const { his, client } = await start();
    const answer = parse(await client.send(srm('ib0000000000000000a1', 'P001', 'D0301-01', '202612040830')));
    expect(answer.get('MSH-9')).toBe('SRR');
    expect(answer.get('MSH-9.2')).toBe('S01');
    expect(answer.get('MSA-1')).toBe('AA');
    expect(answer.get('MSA-2')).toBe('ib0000000000000000a1');
    expect(answer.get('SCH-1')).toBe('BKib0000000000000000a1');
    expect(answer.get('SCH-2')).toMatch(/^FA\d{8}$/);
    expect(his.applied()).toMatchObject([{ controlId: 'ib0000000000000000a1', key: 'P001', messageType: 'SRM^S01', slot: 'D0301-01@202612040830', fillerAppointmentId: answer.get('SCH-2') }]);
  });

  it('refuses a booking of a taken slot AR "slot already taken", and books another slot of the same doctor', async () => {
    const { his, client } = await start();
    await client.send(srm('ib0000000000000000a1', 'P001', 'D0301-01', '202612040830'));
    const refused = parse(await client.send(srm('ib0000000000000000a2', 'P002', 'D0301-01', '202612040830')));
    expect(refused.get('MSH-9')).toBe('SRR');
    expect(refused.get('MSA-1')).toBe('AR');
    expect(refused.get('MSA-2')).toBe('ib0000000000000000a2');
    expect(refused.get('MSA-3')).toBe(SLOT_TAKEN_REASON);
    expect(refused.get('ERR-8')).toBe(SLOT_TAKEN_REASON);
    expect(refused.get('SCH-2')).toBe('');
    const other = parse(await client.send(srm('ib0000000000000000a3', 'P002', 'D0301-01', '202612040845')));
    expect(other.get('MSA-1')).toBe('AA');
    expect(his.appliedByKey()).toEqual(new Map([['P001', ['ib0000000000000000a1']], ['P002', ['ib0000000000000000a3']]]));
    expect(his.decisions().map((d) => d.code)).toEqual(['AA', 'AR', 'AA']);
  });

  it('answers a repeated MSH-10 with the same bytes, on another connection too, and applies it once', async () => {
    const { his, client } = await start();
    const first = await client.send(srm('ib0000000000000000b1', 'P001', 'D0301-01', '202612040900'));
    const again = await client.send(srm('ib0000000000000000b1', 'P001', 'D0301-01', '202612040900'));
    const second = await Client.connect(his.port);
    open.clients.push(second);
    const third = await second.send(srm('ib0000000000000000b1', 'P001', 'D0301-01', '202612040900'));
    expect(parse(first).get('MSA-1')).toBe('AA');
    expect(again?.equals(first!)).toBe(true);
    expect(third?.equals(first!)).toBe(true);
    expect(his.applied()).toHaveLength(1);
    expect(his.transmissions().get('ib0000000000000000b1')).toBe(3);
    expect(his.resends()).toBe(2);
    expect(his.stats()).toMatchObject({ applied: 1, duplicates: 2 });
  });

  it('answers ADT^A04 and any other message ACK AA, and records per patient order', async () => {
    const { his, client } = await start();
    const ack = parse(await client.send(adt('ib0000000000000000c1', 'P009')));
    expect(ack.get('MSH-9')).toBe('ACK');
    expect(ack.get('MSH-9.2')).toBe('A04');
    expect(ack.get('MSA-1')).toBe('AA');
    await client.send(srm('ib0000000000000000c2', 'P009', 'D0302-01', '202612041000'));
    expect(his.appliedByKey().get('P009')).toEqual(['ib0000000000000000c1', 'ib0000000000000000c2']);
  });

  it('answers DFT^P03 ACK^P03 AA and an unreadable message AE with MSA-2 empty', async () => {
    const { his, client } = await start();
    const ack = parse(await client.send(dft('ib0000000000000000c3', 'P009')));
    expect([ack.get('MSH-9'), ack.get('MSH-9.2'), ack.get('MSA-1'), ack.get('MSA-2')]).toEqual(['ACK', 'P03', 'AA', 'ib0000000000000000c3']);
    const ae = parse(await client.send('not an HL7 message\r'));
    expect([ae.get('MSA-1'), ae.get('MSA-2')]).toEqual(['AE', '']);
    expect(his.applied().map((a) => a.messageType)).toEqual(['DFT^P03']);
    expect(his.stats().errors).toBe(1);
  });

  it('plays AE on demand without applying; the resend after AE is applied', async () => {
    const { his, client } = await start();
    his.aeNext(1, 'database locked');
    const ae = parse(await client.send(adt('ib0000000000000000d1', 'P010')));
    expect(ae.get('MSA-1')).toBe('AE');
    expect(ae.get('MSA-3')).toBe('database locked');
    expect(his.applied()).toHaveLength(0);
    expect(parse(await client.send(adt('ib0000000000000000d1', 'P010'))).get('MSA-1')).toBe('AA');
    expect(his.applied()).toHaveLength(1);
  });

  it('when down refuses connections, and takes them again on the same port when up', async () => {
    const { his, client } = await start();
    const port = his.port;
    await his.setDown(true);
    expect(client.socket.destroyed || (await client.send(adt('ib0000000000000000e1', 'P011'), 500)) === undefined).toBe(true);
    await expect(Client.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await his.setDown(false);
    expect(his.port).toBe(port);
    const again = await Client.connect(port);
    open.clients.push(again);
    expect(parse(await again.send(adt('ib0000000000000000e1', 'P011'))).get('MSA-1')).toBe('AA');
  });

  it('when hanging reads but never answers nor applies; afterwards the resend is applied once', async () => {
    const { his, client } = await start();
    his.setHang(true);
    expect(await client.send(adt('ib0000000000000000f1', 'P012'), 300)).toBeUndefined();
    expect(his.applied()).toHaveLength(0);
    expect(his.stats().unanswered).toBe(1);
    his.setHang(false);
    const fresh = await Client.connect(his.port);
    open.clients.push(fresh);
    expect(parse(await fresh.send(adt('ib0000000000000000f1', 'P012'))).get('MSA-1')).toBe('AA');
    expect(his.transmissions().get('ib0000000000000000f1')).toBe(2);
    expect(his.applied()).toHaveLength(1);
  });

  it('with dropAnswers applies, cuts the connection, and answers the resend from its record', async () => {
    const { his, client } = await start();
    his.setDropAnswers(true);
    expect(await client.send(adt('ib0000000000000000g1', 'P013'), 1_000)).toBeUndefined();
    his.setDropAnswers(false);
    const fresh = await Client.connect(his.port);
    open.clients.push(fresh);
    expect(parse(await fresh.send(adt('ib0000000000000000g1', 'P013'))).get('MSA-1')).toBe('AA');
    expect(his.applied()).toHaveLength(1);
    expect(his.stats().duplicates).toBe(1);
  });

  it('refuses the configured fraction of messages, reproducibly for a seed', async () => {
    const run = async (): Promise<string[]> => {
      const { his, client } = await start({ refuseFraction: 0.5, seed: 7 });
      const codes: string[] = [];
      for (let i = 0; i < 20; i++) codes.push(parse(await client.send(adt(`ib00000000000000h${String(i).padStart(3, '0')}`, `P${i}`))).get('MSA-1'));
      client.close();
      await his.stop();
      return codes;
    };
    const a = await run();
    const b = await run();
    expect(a).toEqual(b);
    expect(a.filter((c) => c === 'AR').length).toBeGreaterThan(3);
    expect(a.filter((c) => c === 'AA').length).toBeGreaterThan(3);
  });
});
