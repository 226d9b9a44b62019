// `wardline uninstall`: removes the unit and the program; keeps data unless --purge.
import { resolve } from 'node:path';
import { uninstall } from '../installer/index.js';

export async function uninstallCommand(options: { root: string; purge?: boolean; dryRun?: boolean; systemctl?: boolean }): Promise<number> {
  uninstall({ root: resolve(options.root), purge: options.purge ?? false, dryRun: options.dryRun ?? false, ...(options.systemctl === false ? { noSystemctl: true } : {}), print: (line) => process.stdout.write(`${line}\n`) });
  return 0;
}
