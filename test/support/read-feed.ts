import type { VendorEventJson } from '../../protocol/index.js';

/** Reads a whole feed from the relay's NDJSON API, page by page, from a cursor. */
export async function readWholeFeed(relayHttp: string, feed: string, key: string, after = 0, pageSize = 5000): Promise<VendorEventJson[]> {
  const events: VendorEventJson[] = [];
  let cursor = after;
  for (;;) {
    const response = await fetch(`${relayHttp}/v1/feeds/${feed}/events?after=${cursor}&limit=${pageSize}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    if (!response.ok) throw new Error(`feed read failed: HTTP ${response.status} ${await response.text()}`);
    const lines = (await response.text()).split('\n').filter((l) => l.length > 0);
    if (lines.length === 0) return events;
    for (const line of lines) events.push(JSON.parse(line) as VendorEventJson);
    cursor = events[events.length - 1]!.seq;
  }
}
