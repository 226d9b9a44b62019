// The secrets the alert sinks need, read once at start beside the other secret
// files: the DingTalk and Feishu signing secrets, the SMTP password and the
// mail server's CA. Each secret file is checked like every other one
// (secretFilePermissions); a file that cannot be read or is empty stops the
// start naming the key, the path and the config file.
import { readFileSync } from 'node:fs';
import { ConfigError, checkSecretFiles, type SecretFileCheck } from '../../../runtime/index.js';
import type { AlertsConfig } from './alerts-config.js';

export interface AlertSecrets {
  dingtalkSecret?: string;
  feishuSecret?: string;
  emailPassword?: string;
  /** Not a secret (a CA certificate): read, not permission-checked. */
  emailCa?: string;
}

export function loadAlertSecrets(alerts: AlertsConfig, at: (path: string) => string, file: string, secrets: SecretFileCheck): AlertSecrets {
  const read = (key: string, path: string, secret: boolean): string => {
    const full = at(path);
    if (secret) checkSecretFiles(secrets, [[full, key]], file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8').replace(/\r?\n$/, '');
    } catch (cause) {
      const problem = `${key}: cannot read ${full}: ${(cause as Error).message} (${file})`;
      throw new ConfigError(`invalid config:\n  ${problem}`, file, [problem], { cause });
    }
    if (text === '') {
      const problem = `${key}: ${full} is empty (${file})`;
      throw new ConfigError(`invalid config:\n  ${problem}`, file, [problem]);
    }
    return text;
  };
  const out: AlertSecrets = {};
  if (alerts.dingtalk?.secretFile) out.dingtalkSecret = read('alerts.dingtalk.secretFile', alerts.dingtalk.secretFile, true);
  if (alerts.feishu?.secretFile) out.feishuSecret = read('alerts.feishu.secretFile', alerts.feishu.secretFile, true);
  if (alerts.email?.passwordFile) out.emailPassword = read('alerts.email.passwordFile', alerts.email.passwordFile, true);
  if (alerts.email?.caFile) out.emailCa = read('alerts.email.caFile', alerts.email.caFile, false);
  return out;
}
