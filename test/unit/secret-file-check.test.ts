import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, checkSecretFiles, looseSecretFileProblem, narrowToPrivate, SecretFileCheck } from '../../runtime/index.js';
import { makeTempDir } from '../support/temp-dir.js';

describe('secret file permissions (real files)', () => {
  let dir: ReturnType<typeof makeTempDir>;
  let file: string;
  beforeEach(() => {
    dir = makeTempDir();
    file = join(dir.path, 'secret');
    writeFileSync(file, 'a-secret-of-some-length-000000\n', { mode: 0o600 });
  });
  afterEach(() => dir.remove());

  it('accepts a file only its owner can read or write', () => {
    chmodSync(file, 0o600);
    expect(looseSecretFileProblem(file)).toBeUndefined();
    chmodSync(file, 0o400);
    expect(looseSecretFileProblem(file)).toBeUndefined();
  });

  it('names the file, its mode and the fix for a file group or others can read or write', () => {
    chmodSync(file, 0o640);
    expect(looseSecretFileProblem(file)).toBe(`${JSON.stringify(file)} can be read by other users (mode 0640); run chmod 600 ${file}`);
    chmodSync(file, 0o602);
    expect(looseSecretFileProblem(file)).toMatch(/can be written by other users \(mode 0602\)/);
  });

  it('refuses by default, naming the key and the config file; warns instead when told to', () => {
    chmodSync(file, 0o644);
    const problems: string[] = [];
    expect(new SecretFileCheck().check(file, 'hospitals[0].secretFile', 'relay.yaml', problems)).toBe(false);
    expect(problems).toEqual([`hospitals[0].secretFile: ${JSON.stringify(file)} can be read by other users (mode 0644); run chmod 600 ${file}, or set secretFilePermissions: warn to start anyway (relay.yaml)`]);
    expect(() => checkSecretFiles(new SecretFileCheck('refuse'), [[file, 'relays[0].secretFile']], 'agent.yaml')).toThrow(ConfigError);

    const warn = new SecretFileCheck('warn');
    expect(warn.check(file, 'vendors[0].keyFile', 'relay.yaml', problems)).toBe(true);
    expect(problems).toHaveLength(1);
    expect(warn.warnings).toEqual([`vendors[0].keyFile: ${JSON.stringify(file)} can be read by other users (mode 0644); run chmod 600 ${file} (relay.yaml); used anyway because secretFilePermissions is warn`]);
  });

  it('narrows existing files to 0600 and skips missing ones', () => {
    chmodSync(file, 0o644);
    narrowToPrivate([file, join(dir.path, 'absent-wal')]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
