// The demo's working directory. The demo starts afresh every time, so it empties
// the directory first, but only a directory it made itself: it leaves a marker
// file there, and refuses any other non-empty directory (an operator who types
// `--dir ~/projects` must not lose their projects).
import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The file that says "the demo made this directory; it may empty it". */
export const DEMO_MARKER_FILE = '.wardline-demo';

/** The directory is not the demo's: the demo did not touch it. */
export class DemoDirectoryRefusedError extends Error {
  constructor(readonly dir: string, reason: string) {
    super(`${reason}; nothing was changed. Choose an empty or new directory with --dir, or delete it yourself`);
    this.name = 'DemoDirectoryRefusedError';
  }
}

/**
 * Makes `dir` an empty directory with the marker in it: creates it, takes an empty
 * one, or empties one that holds the marker. Throws DemoDirectoryRefusedError for
 * anything else, before deleting anything.
 */
export function prepareDemoDirectory(dir: string): void {
  if (existsSync(dir)) {
    const stat = lstatSync(dir);
    if (!stat.isDirectory()) throw new DemoDirectoryRefusedError(dir, `${dir} is not a directory`);
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      const marker = join(dir, DEMO_MARKER_FILE);
      if (!existsSync(marker) || !lstatSync(marker).isFile()) {
        throw new DemoDirectoryRefusedError(dir, `${dir} is not empty and was not made by \`wardline demo\` (no ${DEMO_MARKER_FILE} file in it)`);
      }
      // Contents only: the directory itself may be a mount point or belong to someone else.
      for (const entry of entries) rmSync(join(dir, entry), { recursive: true, force: true });
    }
  } else {
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(join(dir, DEMO_MARKER_FILE), 'Made by `wardline demo`, which empties this directory each time it starts.\n');
}
