// The keys the local copy already holds for a table being snapshotted, in key
// order, so each chunk can also journal the rows that are gone: a key held in the
// chunk's key range that the chunk did not copy was deleted at the server. Only a
// re-snapshot (the binlog after the saved position was purged, deletes included)
// finds any; an initial snapshot starts with none. While a table is copied its
// held keys after the cursor do not change (the stream journals nothing there,
// see MysqlSource.copied), so the list is read once per table.
import type { CaptureValue } from '../database/index.js';
import { compareKeys, valueOf, type CapturedTable } from './mysql-table.js';

export class HeldKeys {
  private readonly keys: CaptureValue[][];
  private next = 0;

  constructor(
    private readonly table: CapturedTable,
    keyTexts: readonly string[],
    after: readonly CaptureValue[] | null,
  ) {
    this.keys = keyTexts
      .map((text) => this.parse(text))
      .filter((key) => after === null || compareKeys(table, key, after) > 0)
      .sort((a, b) => compareKeys(table, a, b));
  }

  /** A journal key (captureKey) back into the key columns' values. */
  private parse(text: string): CaptureValue[] {
    const texts = this.table.key.length === 1 ? [text] : (JSON.parse(text) as string[]);
    return this.table.key.map((name, i) => valueOf(this.table.columns.find((c) => c.name === name)!.kind, texts[i]));
  }

  /** The held keys up to `upper` (null: all that are left) not in `copied` (journal keys); consumed. */
  gone(upper: readonly CaptureValue[] | null, copied: ReadonlySet<string>, keyText: (key: CaptureValue[]) => string): CaptureValue[][] {
    const out: CaptureValue[][] = [];
    while (this.next < this.keys.length) {
      const key = this.keys[this.next]!;
      if (upper !== null && compareKeys(this.table, key, upper) > 0) break;
      this.next++;
      if (!copied.has(keyText(key))) out.push(key);
    }
    return out;
  }
}
