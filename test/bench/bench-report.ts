// What a bench run found: measurements (each with its unit and how it was taken)
// and the goals checked against them. Printed as tables, written as JSON and
// Markdown under test/bench/results/ so a run can be compared with the committed one.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';

export interface Measurement {
  section: string;
  measure: string;
  value: number;
  unit: string;
  note: string;
}

export interface GoalCheck {
  goal: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface MachineDescription {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  disk: string;
}

export function describeMachine(disk: string): MachineDescription {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    disk,
  };
}

/** Rounds for display: 3 significant digits below 100, whole numbers above. */
export function shown(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(3)).toString();
}

export class BenchReport {
  readonly measurements: Measurement[] = [];
  readonly goals: GoalCheck[] = [];
  /** Raw series kept for the JSON (e.g. RSS samples), by name. */
  readonly series: Record<string, unknown> = {};
  private section = '';

  begin(section: string): void {
    this.section = section;
    process.stderr.write(`\n== ${section}\n`);
  }

  record(measure: string, value: number, unit: string, note = ''): number {
    this.measurements.push({ section: this.section, measure, value, unit, note });
    process.stderr.write(`  ${measure}: ${shown(value)} ${unit}${note ? `  (${note})` : ''}\n`);
    return value;
  }

  attach(name: string, data: unknown): void {
    this.series[name] = data;
  }

  check(goal: string, target: string, measured: string, met: boolean): void {
    this.goals.push({ goal, target, measured, met });
  }

  table(): string {
    const lines: string[] = [];
    let section = '';
    for (const m of this.measurements) {
      if (m.section !== section) {
        section = m.section;
        lines.push(`\n${section}`);
      }
      lines.push(`  ${m.measure.padEnd(58)} ${shown(m.value).padStart(11)} ${m.unit}${m.note ? `  — ${m.note}` : ''}`);
    }
    lines.push('\nGoals');
    for (const g of this.goals) lines.push(`  ${g.met ? 'MET    ' : 'NOT MET'}  ${g.goal}: ${g.measured} (goal ${g.target})`);
    return `${lines.join('\n')}\n`;
  }

  markdown(machine: MachineDescription, startedAt: Date, seconds: number): string {
    const out = [
      `# Bench run ${startedAt.toISOString()}`,
      '',
      `${machine.cores} cores (${machine.cpu}), ${machine.memoryGiB} GiB, Linux ${machine.kernel}, Node ${machine.node}; ${machine.disk}. Run took ${Math.round(seconds)} s.`,
      '',
      '| goal | target | measured | |',
      '|---|---|---|---|',
      ...this.goals.map((g) => `| ${g.goal} | ${g.target} | ${g.measured} | ${g.met ? 'met' : '**not met**'} |`),
    ];
    let section = '';
    for (const m of this.measurements) {
      if (m.section !== section) {
        section = m.section;
        out.push('', `## ${section}`, '', '| measure | value | unit | how |', '|---|---:|---|---|');
      }
      out.push(`| ${m.measure} | ${shown(m.value)} | ${m.unit} | ${m.note} |`);
    }
    return `${out.join('\n')}\n`;
  }

  write(dir: string, machine: MachineDescription, startedAt: Date, seconds: number): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'latest.json'),
      `${JSON.stringify({ startedAt: startedAt.toISOString(), seconds, machine, goals: this.goals, measurements: this.measurements, series: this.series }, null, 2)}\n`,
    );
    writeFileSync(join(dir, 'latest.md'), this.markdown(machine, startedAt, seconds));
  }
}
