// `npm run package`: the offline package for a hospital's internal network —
// release/wardline-<version>-linux-<arch>-node<major>.tar.gz and a .deb, each
// holding everything the agent needs on this Node major (dist, the production
// node_modules with better-sqlite3 built for this ABI, the protocol files), so
// installing reaches no registry. Run after `npm run build`, on the Node major
// and architecture the hospital runs.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(repo, 'dist/installer/index.js'))) {
  process.stderr.write('package: dist/ is missing: run `npm run build` first\n');
  process.exit(1);
}
const { copyProgram } = await import(join(repo, 'dist/installer/index.js'));
const { version } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
const nodeMajor = process.versions.node.split('.')[0];
const name = `wardline-${version}-linux-${process.arch}-node${nodeMajor}`;
const out = join(repo, 'release');
const staging = join(out, name);

rmSync(staging, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
copyProgram(repo, staging);
for (const doc of ['README.md', 'ARCHITECTURE.md']) cpSync(join(repo, doc), join(staging, doc));
writeFileSync(
  join(staging, 'INSTALL.txt'),
  `Wardline ${version} for Linux ${process.arch}, Node.js ${nodeMajor} (>= 20.19). No registry is needed.\n\n` +
    `  tar -xzf ${name}.tar.gz\n  sudo node ${name}/dist/cli/wardline.js install --answers answers.yaml --dry-run\n  sudo node ${name}/dist/cli/wardline.js install --answers answers.yaml\n\n` +
    'The installer copies the program to /opt/wardline/<version>; the unpacked directory can be deleted afterwards.\nSee README.md, "Install on a hospital server".\n',
);
const tarball = join(out, `${name}.tar.gz`);
execFileSync('tar', ['--owner=0', '--group=0', '--numeric-owner', '-czf', tarball, '-C', out, name]);
process.stdout.write(`${tarball}\n`);

// The .deb: the same files under /usr/lib/wardline and `wardline` on the PATH; `wardline install` then copies them to /opt/wardline.
const debArch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
if (debArch && spawnable('dpkg-deb')) {
  const debRoot = join(out, `${name}-deb`);
  rmSync(debRoot, { recursive: true, force: true });
  cpSync(staging, join(debRoot, 'usr/lib/wardline'), { recursive: true });
  mkdirSync(join(debRoot, 'usr/bin'), { recursive: true });
  symlinkSync('../lib/wardline/dist/cli/wardline.js', join(debRoot, 'usr/bin/wardline'));
  mkdirSync(join(debRoot, 'DEBIAN'));
  writeFileSync(
    join(debRoot, 'DEBIAN/control'),
    `Package: wardline\nVersion: ${version}\nArchitecture: ${debArch}\nMaintainer: Wardline <wardline@localhost>\nSection: net\nPriority: optional\n` +
      `Description: Wardline on-premises HL7 sync gateway (agent, relay, CLI)\n Built for Node.js ${nodeMajor} (>= 20.19, not a dependency: NodeSource or a tarball Node serve).\n Run \`wardline install\` afterwards to set up the hardened systemd service.\n`,
  );
  const deb = join(out, `wardline_${version}_${debArch}.deb`);
  execFileSync(spawnable('fakeroot') ? 'fakeroot' : 'dpkg-deb', [...(spawnable('fakeroot') ? ['dpkg-deb'] : []), '--root-owner-group', '-Zgzip', '--build', debRoot, deb], { stdio: ['ignore', 'ignore', 'inherit'] });
  rmSync(debRoot, { recursive: true, force: true });
  process.stdout.write(`${deb}\n`);
} else process.stdout.write('no .deb: dpkg-deb is missing or the architecture has no Debian name\n');

function spawnable(command) {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
