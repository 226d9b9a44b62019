// One configured sink: a FeedSink per (hospital, feed) it publishes — the
// configured feeds, or every feed the store holds, found again every pollMs so
// a new feed is published from its first event — over one publisher connection.
import { FeedSink, type FeedSinkOptions, type FeedSinkSnapshot } from './feed-sink.js';

/** What every feed of the sink is run with: a FeedSink's options but its (hospital, feed). */
export type SinkRunnerOptions = Omit<FeedSinkOptions, 'hospital' | 'feed'>;

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
