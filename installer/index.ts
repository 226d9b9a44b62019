// The installer's public surface: what cli/install-command.ts and cli/uninstall-command.ts use.
export { install, type InstallOptions, type InstallResult } from './installer.js';
export { uninstall, type UninstallResult } from './uninstaller.js';
export { InstallAnswersSchema, loadInstallAnswers, type InstallAnswers } from './answers.js';
export { installLayout, SERVICE_USER, UNIT_NAME, type InstallLayout } from './install-layout.js';
export { evaluatePreflight, preflightFailed, renderPreflightTable, requiredDiskBytes, type PreflightCheck, type SystemFacts } from './preflight.js';
export { realSystemProbe, type SystemProbe, type ProbeRequest } from './system-probe.js';
export { renderSystemdUnit } from './systemd-unit.js';
export { askInstallAnswers, InstallQuestionsEndedError } from './interactive-answers.js';
export { copyProgram, installProgram, productionPackagePaths } from './program-copy.js';
export { renderLauncher, localAgentUrl } from './installer.js';
export { EnrolmentFailedError } from './errors.js';
export { renderAgentConfig } from './agent-config-file.js';
export { PROPOSED_HL7_FIELDS } from './proposed-policy.js';
