// Where everything goes, under a root prefix (`/` on a real server, a temporary
// directory in tests). Config in /etc/wardline, data in /var/lib/wardline, the
// unit in /etc/systemd/system, the program under /opt/wardline; logs go to journald.
import { join, relative } from 'node:path';

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
  /** A symlink to the installed version's directory (<programDir>/<version>); the unit runs it. */
  programLink: string;
  /** A symlink to the version current replaced, for a rollback. */
  previousLink: string;
  /** The admin API token (mode 0600): the agent's http.admin.tokenFile, read by the launcher for the CLI. */
  adminTokenFile: string;
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
    previousLink: join(programDir, 'previous'),
    adminTokenFile: join(configDir, 'secrets/admin-token'),
    manifestFile: join(programDir, 'install.json'),
    launcher: join(root, 'usr/local/bin/wardline'),
  };
}

/** A path under root as the installed system sees it (root removed): what config files, the unit and the launcher name. */
export function systemPath(root: string, path: string): string {
  const rel = relative(root, path);
  return rel === '' ? '/' : `/${rel}`;
}
