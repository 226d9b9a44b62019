import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from '../../agent/config.js';
import { ConfigError, loadConfigFile, parseConfigText } from '../../runtime/index.js';
import { agentConfigProblems } from '../support/agent-config-problems.js';

const parse = (text: string) => parseConfigText(text, 'agent.yaml', AgentConfigSchema);

const base = `
hospital: { id: demo-hospital }
dataDir: ./data
relays:
  - { name: cloud, address: "127.0.0.1:7443", secret: s3cret, allowPlaintext: true }
`;
const feeds = `
feeds:
  - { name: clinical, relay: cloud, streams: [adt, results], class: clinical }
  - { name: appointments, relay: cloud, streams: [appointments] }
  - { name: pacs, relay: cloud, streams: [imaging], class: bulk }
`;

const problemsOf = agentConfigProblems;

describe('agent config: bandwidth', () => {
  it('defaults to an unlimited uplink, three classes and standard feeds', () => {
    const config = parse(base + feeds);
    expect(config.bandwidth).toEqual({ rate: null, classes: ['clinical', 'standard', 'bulk'], timetable: [] });
    expect(config.feeds.map((f) => f.class)).toEqual(['clinical', 'standard', 'bulk']);
  });

  it('reads rates, sizes, the zone and a timetable into the timetable’s own shape', () => {
    const config = parse(
      base +
        feeds +
        `
bandwidth:
  rate: 100Mbps
  burstBytes: 256KiB
  maxInFlightBytes: 2MB
  timezone: Asia/Shanghai
  timetable:
    - { name: clinic-hours, days: mon-fri, from: "08:00", to: "18:00", rate: 20Mbit/s }
    - { name: bulk-night, classes: [bulk], allow: true, from: "22:00", to: "06:00" }
    - { name: weekend, days: [sat, sun], rate: unlimited }
`,
    );
    expect(config.bandwidth).toMatchObject({ rate: 12_500_000, burstBytes: 262_144, maxInFlightBytes: 2_000_000, timezone: 'Asia/Shanghai' });
    expect(config.bandwidth.timetable).toEqual([
      { name: 'clinic-hours', days: [1, 2, 3, 4, 5], fromSecond: 8 * 3600, toSecond: 18 * 3600, rateBytesPerSecond: 2_500_000 },
      { name: 'bulk-night', days: [0, 1, 2, 3, 4, 5, 6], fromSecond: 22 * 3600, toSecond: 6 * 3600, classRule: { classes: ['bulk'], allow: true } },
      { name: 'weekend', days: [0, 6], fromSecond: 0, toSecond: 86_400, rateBytesPerSecond: null },
    ]);
  });

  it('names the key, the value and what was wrong for a bad rate', () => {
    expect(problemsOf(base + 'bandwidth: { rate: 20Mb/s }\n')).toEqual([
      'bandwidth.rate: "20Mb/s" is ambiguous: write "20Mbit/s" (bits) or "20MB/s" (bytes), got "20Mb/s" (agent.yaml)',
    ]);
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: day, rate: 5 parsecs/s }] }\n')[0]).toMatch(
      /^bandwidth\.timetable\[0\]\.rate: unknown unit "parsecs\/s": expected a rate such as .*, got "5 parsecs\/s" \(agent\.yaml\)$/,
    );
    expect(problemsOf(base + 'bandwidth: { burstBytes: 0 }\n')).toEqual(['bandwidth.burstBytes: expected at least 1 byte, got 0 (agent.yaml)']);
  });

  it('refuses a feed class and a window class that bandwidth.classes does not declare', () => {
    expect(problemsOf(base + 'feeds: [{ name: f, relay: cloud, streams: [adt], class: urgent }]\n')).toEqual([
      'feeds[0].class: expected one of the classes under bandwidth.classes (clinical, standard, bulk); a feed without one is "standard", got "urgent" (agent.yaml)',
    ]);
    expect(problemsOf(base + 'bandwidth: { classes: [stat, routine], timetable: [{ name: w, classes: [routine, bulk], allow: false }] }\n')).toEqual([
      'bandwidth.timetable[0].classes[1]: expected one of the classes under bandwidth.classes (stat, routine), got "bulk" (agent.yaml)',
    ]);
    expect(problemsOf(base + 'bandwidth: { classes: [a, b, a] }\n')).toEqual(['bandwidth.classes[2]: expected a class not listed before, got "a" (agent.yaml)']);
  });

  it('says what is wrong with a window: times, days, half a class rule, nothing to do, unknown keys', () => {
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: w, from: "25:00", rate: 1MB/s }] }\n')[0]).toMatch(/^bandwidth\.timetable\[0\]\.from: expected a time of day "HH:MM" or "HH:MM:SS" \(24-hour\), got "25:00"/);
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: w, days: mon-funday, rate: 1MB/s }] }\n')[0]).toMatch(/^bandwidth\.timetable\[0\]\.days: .*"funday" is not a day/);
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: w, classes: [bulk] }] }\n')[0]).toMatch(/^bandwidth\.timetable\[0\]\.allow: expected classes and allow together/);
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: w, from: "08:00", to: "18:00" }] }\n')[0]).toMatch(/^bandwidth\.timetable\[0\]: expected rate, or classes with allow: this window changes nothing/);
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: w, from: "08:00", to: "08:00", rate: 1MB/s }] }\n')[0]).toMatch(/^bandwidth\.timetable\[0\]\.to: expected a time other than from/);
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: w, rate: 1MB/s, start: "08:00" }] }\n')).toEqual(['bandwidth.timetable[0].start: unknown key (agent.yaml)']);
    expect(problemsOf(base + 'bandwidth: { timetable: [{ name: w, rate: 1MB/s }, { name: w, rate: 2MB/s }] }\n')[0]).toMatch(/^bandwidth\.timetable\[1\]\.name: expected a window name not used/);
  });

  it('reads the bandwidth section of the shipped example config', () => {
    const example = loadConfigFile(new URL('../../examples/agent.yaml', import.meta.url).pathname, AgentConfigSchema);
    expect(example.bandwidth).toMatchObject({ rate: 6_250_000, classes: ['clinical', 'standard', 'bulk'], timezone: 'Asia/Shanghai' });
    expect(example.bandwidth.timetable.map((w) => w.name)).toEqual(['clinic-hours', 'bulk-night']);
    expect(example.feeds.map((f) => f.class)).toEqual(['clinical', 'standard']);
  });

  it('refuses a time zone the runtime does not know', () => {
    expect(problemsOf(base + 'bandwidth: { timezone: Mars/Olympus_Mons }\n')).toEqual([
      'bandwidth.timezone: expected an IANA time zone such as "Asia/Shanghai", got "Mars/Olympus_Mons" (agent.yaml)',
    ]);
  });
});
