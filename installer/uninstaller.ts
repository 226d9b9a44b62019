// `wardline uninstall`: removes the service and the program; keeps config,
// secrets, keys, the data and the egress ledger (in agent.db) unless --purge.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { installLayout, SERVICE_USER, UNIT_NAME } from './install-layout.js';

export interface UninstallResult {
  removed: string[];
  kept: string[];
}

export function uninstall(o: { root: string; purge: boolean; dryRun?: boolean; noSystemctl?: boolean; print: (line: string) => void }): UninstallResult {
  const layout = installLayout(o.root);
  const onSystem = o.root === '/';
  const removed: string[] = [];
  const kept: string[] = [];
  const system = (cmd: string, args: string[]) => {
    if (!onSystem || o.dryRun) o.print(`  ${onSystem ? 'would run' : 'would run on a real root'}: ${cmd} ${args.join(' ')}`);
    else {
      try {
        execFileSync(cmd, args, { stdio: 'inherit' });
      } catch (error) {
        o.print(`  (${cmd} ${args.join(' ')} failed: ${(error as Error).message})`);
      }
    }
  };
  const systemctl = (args: string[]) => (onSystem && o.noSystemctl ? o.print(`  not run (--no-systemctl): systemctl ${args.join(' ')}`) : system('systemctl', args));
  systemctl(['disable', '--now', UNIT_NAME]);
  const remove = (path: string) => {
    if (!existsSync(path)) return;
    if (!o.dryRun) rmSync(path, { recursive: true, force: true });
    removed.push(path);
  };
  remove(layout.unitFile);
  remove(layout.programDir);
  remove(layout.launcher);
  systemctl(['daemon-reload']);
  if (o.purge) {
    remove(layout.configDir);
    remove(layout.dataDir);
    system('userdel', [SERVICE_USER]);
  } else {
    for (const [path, what] of [
      [layout.dataDir, 'data: agent.db (journal, local copy and the egress ledger)'],
      [layout.configDir, 'config, secrets, TLS certificates and the pseudonym/encryption keys'],
    ] as const) {
      if (existsSync(path)) kept.push(`${path} — ${what}`);
    }
  }
  o.print(`${o.dryRun ? 'Would remove' : 'Removed'}:\n${removed.map((p) => `  - ${p}`).join('\n') || '  (nothing)'}`);
  if (kept.length > 0) o.print(`Kept (remove with --purge):\n${kept.map((p) => `  - ${p}`).join('\n')}`);
  return { removed, kept };
}
