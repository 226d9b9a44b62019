// `wardline install`: reads the answers, runs the installer against the real system probe.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { askInstallAnswers, install, loadInstallAnswers, realSystemProbe } from '../installer/index.js';

export interface InstallCommandOptions {
  root: string;
  answers?: string;
  nonInteractive?: boolean;
  dryRun?: boolean;
  force?: boolean;
  skipRelayCheck?: boolean;
  /** false with --no-systemctl. */
  systemctl?: boolean;
}

/** The package root: this file runs from dist/cli/. */
function packageRoot(): string {
  return resolve(join(dirname(fileURLToPath(import.meta.url)), '../..'));
}

export async function installCommand(options: InstallCommandOptions): Promise<number> {
  if (!options.answers && (options.nonInteractive || !process.stdin.isTTY)) {
    process.stderr.write('wardline install: --non-interactive (or no terminal) needs --answers answers.yaml\n');
    return 64;
  }
  const answers = options.answers ? loadInstallAnswers(options.answers) : await askInstallAnswers(process.stdin, process.stdout);
  const result = await install({
    root: resolve(options.root),
    answers,
    dryRun: options.dryRun ?? false,
    force: options.force ?? false,
    probe: realSystemProbe,
    packageRoot: packageRoot(),
    nodePath: process.execPath,
    ...(options.skipRelayCheck ? { skipRelayCheck: true } : {}),
    ...(options.systemctl === false ? { noSystemctl: true } : {}),
    print: (line) => process.stdout.write(`${line}\n`),
  });
  return result.ok ? 0 : 1;
}
