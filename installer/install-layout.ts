// Where everything goes, under a root prefix (`/` on a real server, a temporary
// directory in tests). Config in /etc/wardline, data in /var/lib/wardline, the
// unit in /etc/systemd/system, the program under /opt/wardline; logs go to journald.
import { join } from 'node:path';

export const SERVICE_USER = 'wardline';
export const UNIT_NAME = 'wardline-agent.service';

export interface InstallLayout {
  root: string;
  configDir: string;
  configFile: string;
  /** Secrets, one per file, mode 0600, owned by the service user. */
  secretsDir: string;
  tlsDir: string;
  keysDir: string;
  dataDir: string;
  unitFile: string;
  programDir: string;
  /** A symlink to the installed package; the unit runs it. */
  programLink: string;
  manifestFile: string;
  launcher: string;
}

export function installLayout(root: string): InstallLayout {
  const configDir = join(root, 'etc/wardline');
  const programDir = join(root, 'opt/wardline');
  return {
    root,
    configDir,
    configFile: join(configDir, 'agent.yaml'),
    secretsDir: join(configDir, 'secrets'),
    tlsDir: join(configDir, 'tls'),
    keysDir: join(configDir, 'keys'),
    dataDir: join(root, 'var/lib/wardline'),
    unitFile: join(root, 'etc/systemd/system', UNIT_NAME),
    programDir,
    programLink: join(programDir, 'current'),
    manifestFile: join(programDir, 'install.json'),
    launcher: join(root, 'usr/local/bin/wardline'),
  };
}
