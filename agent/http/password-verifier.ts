// Checks login passwords against the scrypt hash on a thread of its own, one at
// a time.
//
// Failure modes handled:
//  1. A login flood starving replication: crypto.scrypt() runs on libuv's thread
//     pool (4 threads), which the agent shares with compression of outbound
//     batches, file I/O and DNS. 300 logins at once queued ~300 × 50 ms of
//     scrypt ahead of them, and replication lag went from 16 ms to 13 s. Here
//     scrypt runs on one dedicated worker thread, serially: at most one core,
//     and the pool stays free.
//  2. A worker that dies (out of memory on a hostile cost): every pending check
//     fails (a failed login, never a crash) and the next one starts a new worker.
//  3. Shutdown: the worker is unref'd, and close() ends it.
import { Worker } from 'node:worker_threads';
import type { ScryptHash } from './admin-password.js';

/** Runs in the worker: scryptSync there blocks only the worker's own thread. */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync, timingSafeEqual } = require('node:crypto');
parentPort.on('message', (job) => {
  let ok = false;
  let error = null;
  try {
    const derived = scryptSync(job.password, Buffer.from(job.salt), job.hash.length, { N: job.N, r: job.r, p: job.p, maxmem: 256 * job.N * job.r });
    ok = timingSafeEqual(derived, Buffer.from(job.hash));
  } catch (e) {
    error = String((e && e.message) || e);
  }
  parentPort.postMessage({ id: job.id, ok, error });
});
`;

interface Pending {
  resolve: (ok: boolean) => void;
  reject: (error: Error) => void;
}

export class PasswordVerifier {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly pending = new Map<number, Pending>();

  /** Whether `password` matches `stored`; queued behind checks already running. */
  verify(password: string, stored: ScryptHash): Promise<boolean> {
    const worker = this.start();
    const id = this.nextId++;
    return new Promise<boolean>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, password: password.normalize('NFC'), salt: new Uint8Array(stored.salt), hash: new Uint8Array(stored.hash), N: 2 ** stored.logN, r: stored.r, p: stored.p });
    });
  }

  /** Checks waiting or running. */
  get queued(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (answer: { id: number; ok: boolean; error: string | null }) => {
      const job = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (answer.error !== null) job?.reject(new Error(`password check failed: ${answer.error}`));
      else job?.resolve(answer.ok);
    });
    const fail = (error: Error): void => {
      if (this.worker !== worker && this.worker !== undefined) return; // a newer worker holds the pending checks
      this.worker = undefined;
      for (const job of this.pending.values()) job.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the password check thread exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }
}
