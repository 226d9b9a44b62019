// A directory's entry list made durable: after a file is created or renamed in
// it, the file's own fsync does not persist its name; the directory's does.
import { open } from 'node:fs/promises';

/** fsyncs the directory itself, so the names created or renamed in it survive a power loss. */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
