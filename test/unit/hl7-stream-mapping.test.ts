import { describe, expect, it } from 'vitest';
import {
  DEFAULT_HL7_MAPPING,
  Hl7Error,
  Hl7MappingError,
  Hl7Message,
  mergeMapping,
  resolveHl7Route,
  type Hl7MappingRule,
} from '../../agent/hl7/index.js';

function msg(type: string, ...segments: string[]): Hl7Message {
  return Hl7Message.parse([`MSH|^~\\&|SRC|FAC|||20240105||${type}|CTRL-1|P|2.5`, ...segments].join('\r'));
}

function mappingError(fn: () => unknown): Hl7MappingError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Hl7MappingError);
    return err as Hl7MappingError;
  }
  throw new Error('expected an Hl7MappingError');
}

const PID = 'PID|1||P12345^^^HOSP^MR~110101199003077777^^^CHN^NNCHN||张^三丰';

describe('resolveHl7Route with the defaults', () => {
  const rules = DEFAULT_HL7_MAPPING;

  it('routes ADT by patient id, as an upsert', () => {
    expect(resolveHl7Route(msg('ADT^A01^ADT_A01', PID), rules)).toEqual({ stream: 'adt', key: 'P12345', op: 'upsert' });
    expect(resolveHl7Route(msg('ADT^A08', PID), rules)).toEqual({ stream: 'adt', key: 'P12345', op: 'upsert' });
  });

  it('deletes the patient record on ADT^A29 (delete person information)', () => {
    expect(resolveHl7Route(msg('ADT^A29', PID), rules)).toEqual({ stream: 'adt', key: 'P12345', op: 'delete' });
  });

  it('routes ORU by the filler order number, then ORC-3', () => {
    expect(resolveHl7Route(msg('ORU^R01', PID, 'ORC|RE|PL1|FL9', 'OBR|1|PL1|FL1^LAB'), rules)).toEqual({
      stream: 'results',
      key: 'FL1',
      op: 'upsert',
    });
    expect(resolveHl7Route(msg('ORU^R01', PID, 'ORC|RE|PL1|FL9', 'OBR|1|PL1|'), rules).key).toBe('FL9');
  });

  it('routes ORM by the placer order number, then OBR-2, then ORC-3', () => {
    expect(resolveHl7Route(msg('ORM^O01', PID, 'ORC|NW|PL1^HIS|FL1', 'OBR|1|PL2'), rules)).toEqual({
      stream: 'orders',
      key: 'PL1',
      op: 'upsert',
    });
    expect(resolveHl7Route(msg('ORM^O01', PID, 'ORC|NW||FL1', 'OBR|1|PL2'), rules).key).toBe('PL2');
    expect(resolveHl7Route(msg('ORM^O01', PID, 'ORC|NW||FL1', 'OBR|1|'), rules).key).toBe('FL1');
  });

  it('routes SIU by the appointment id', () => {
    expect(resolveHl7Route(msg('SIU^S12', 'SCH|APT-7^RIS|FILL-7'), rules)).toEqual({ stream: 'appointments', key: 'APT-7', op: 'upsert' });
    expect(resolveHl7Route(msg('SIU^S12', 'SCH||FILL-7'), rules).key).toBe('FILL-7');
  });

  it('routes anything else to hl7-other by control id', () => {
    expect(resolveHl7Route(msg('MDM^T02', PID), rules)).toEqual({ stream: 'hl7-other', key: 'CTRL-1', op: 'upsert' });
  });

  it('answers a message without its key with a mapping error naming the paths (AE 101)', () => {
    const err = mappingError(() => resolveHl7Route(msg('ORU^R01', PID, 'OBR|1|PL1|'), rules));
    expect(err.hl7Code).toBe('101');
    expect(err.stream).toBe('results');
    expect(err.keyPaths).toEqual(['OBR-3.1', 'ORC-3.1']);
    expect(err.message).toContain('OBR-3.1 or ORC-3.1');
    expect(err.location).toEqual({ segment: 'OBR', sequence: 1, field: 3, component: 1 });
  });

  it('treats HL7 null ("") as no key', () => {
    const err = mappingError(() => resolveHl7Route(msg('ADT^A01', 'PID|1||""'), rules));
    expect(err.message).toContain('PID-3.1');
  });
});

describe('mergeMapping', () => {
  it('consults configured rules before the defaults', () => {
    const rules = mergeMapping([{ messageType: 'ORU', stream: 'lab-results', keyPaths: ['OBR-2.1'] }]);
    expect(resolveHl7Route(msg('ORU^R01', 'OBR|1|PL1|FL1'), rules)).toEqual({ stream: 'lab-results', key: 'PL1', op: 'upsert' });
    expect(resolveHl7Route(msg('ADT^A01', PID), rules).stream).toBe('adt');
    expect(rules.filter((r) => r.messageType === 'ORU')).toHaveLength(1);
  });

  it('lets a trigger-specific rule win over the type rule for that trigger only', () => {
    const rules = mergeMapping([{ messageType: 'ADT^A08', stream: 'adt-updates', keyPaths: ['PID-3[2].1'] }]);
    expect(resolveHl7Route(msg('ADT^A08', PID), rules)).toEqual({ stream: 'adt-updates', key: '110101199003077777', op: 'upsert' });
    expect(resolveHl7Route(msg('ADT^A01', PID), rules).stream).toBe('adt');
    expect(resolveHl7Route(msg('ADT^A29', PID), rules).op).toBe('delete');
  });

  it('replaces every default for a type the configuration maps', () => {
    const rules = mergeMapping([{ messageType: 'adt', stream: 'patients', keyPaths: ['PID-2.1', 'PID-3.1'] }]);
    expect(resolveHl7Route(msg('ADT^A29', PID), rules)).toEqual({ stream: 'patients', key: 'P12345', op: 'upsert' });
  });

  it('prefers specificity to order, and order among equals', () => {
    const rules: Hl7MappingRule[] = [
      { messageType: '*', stream: 'everything', keyPaths: ['MSH-10'] },
      { messageType: 'ADT_A01', stream: 'first', keyPaths: ['PID-3.1'] },
      { messageType: 'ADT^A01', stream: 'second', keyPaths: ['PID-3.1'] },
      { messageType: 'ADT', stream: 'any-adt', keyPaths: ['PID-3.1'] },
    ];
    expect(resolveHl7Route(msg('ADT^A01', PID), rules).stream).toBe('first');
    expect(resolveHl7Route(msg('ADT^A02', PID), rules).stream).toBe('any-adt');
    expect(resolveHl7Route(msg('ORU^R01', PID), rules).stream).toBe('everything');
  });

  it('refuses a message no rule covers (AE 200)', () => {
    const rules: Hl7MappingRule[] = [{ messageType: 'ADT', stream: 'adt', keyPaths: ['PID-3.1'] }];
    try {
      resolveHl7Route(msg('ORU^R01'), rules);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(Hl7Error);
      expect((err as Hl7Error).hl7Code).toBe('200');
    }
  });

  it('names the rule and the path when a rule is malformed', () => {
    expect(() => mergeMapping([{ messageType: 'ADT', stream: 'x', keyPaths: ['PID3'] }])).toThrow(/rule 1 .*"PID3"/);
    expect(() => mergeMapping([{ messageType: 'ADT^A01^X', stream: 'x', keyPaths: ['PID-3'] }])).toThrow(RangeError);
    expect(() => mergeMapping([{ messageType: 'ADT', stream: 'x', keyPaths: [] }])).toThrow(/keyPaths/);
  });
});
