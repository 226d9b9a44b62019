// One configured sink: a FeedSink per (hospital, feed) it publishes — the
// configured feeds, or every feed the store holds, found again every pollMs so
// a new feed is published from its first event — over one publisher connection.
import type { Logger } from 'pino';
import type { FeedNotifier, FeedStore } from '../store/index.js';
import { FeedSink, type FeedSinkSnapshot } from './feed-sink.js';
import type { SinkConfig } from './sink-config.js';
import type { SinkCursorStore } from './sink-cursor-store.js';
import type { SinkPublisher } from './sink-publisher.js';

export interface SinkRunnerOptions {
  config: SinkConfig;
  store: FeedStore;
  notifier: FeedNotifier;
  cursors: SinkCursorStore;
  publisher: SinkPublisher;
  holder: string;
  logger: Logger;
  now: () => number;
}

export class SinkRunner {
  private readonly feeds = new Map<string, FeedSink>();
  private discovery: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: SinkRunnerOptions) {}

  get name(): string {
    return this.options.config.name;
  }

  get connected(): boolean {
    return this.options.publisher.connected;
  }

  async start(): Promise<void> {
    const { config } = this.options;
    if (config.feeds) {
      for (const f of config.feeds) this.add(f.hospital, f.feed);
      return;
    }
    await this.discover();
    const tick = () => {
      this.discovery = setTimeout(() => {
        void this.discover()
          .catch((error: unknown) => this.options.logger.warn({ sink: config.name, err: error }, 'the sink could not list the feeds; retrying'))
          .finally(() => {
            if (!this.stopped) tick();
          });
      }, config.pollMs);
    };
    tick();
  }

  snapshots(): FeedSinkSnapshot[] {
    return [...this.feeds.values()].map((f) => f.snapshot());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.discovery);
    await Promise.all([...this.feeds.values()].map((f) => f.stop()));
    await this.options.publisher.close();
  }

  private async discover(): Promise<void> {
    for (const size of await this.options.store.feedSizes()) this.add(size.hospital, size.feed);
  }

  private add(hospital: string, feed: string): void {
    if (this.stopped) return;
    const id = `${hospital}\0${feed}`;
    if (this.feeds.has(id)) return;
    const sink = new FeedSink({ ...this.options, hospital, feed });
    this.feeds.set(id, sink);
    sink.start();
  }
}
