// The message stream of a simulated hospital: HL7 v2 ADT, ORU and ORM messages from a
// HIS and a LIS, and JSON rows from local apps, all derived from one seed.
//
// What it deliberately reproduces from the field, because the agent must cope with it:
//  1. The same record changes again and again (A08 updates of recent patients,
//     preliminary results finalised later, orders changed or cancelled): the latest
//     version per key is what the local copy must end up holding.
//  2. A share of messages is GB18030 with MSH-18 'GB 18030-2000'; the rest UTF-8.
//  3. Free text contains HL7 delimiters (units like 10^9/L, ranges like 3.5~9.5,
//     "CK & CK-MB"), escaped as \S\ \R\ \T\ \F\ \E\.
//  4. Sizes from ~0.5 KB (a clinic registration) to ~5 KB (a full blood count with
//     long interpretive comments).
//  5. Both HL7 2.5 and 2.4 in MSH-12.
//
// Keys follow the agent's mapping: ADT → PID-3.1 (MRN), ORU → OBR-3.1 (filler order
// number), ORM → ORC-2.1 (placer order number).

import iconv from 'iconv-lite';
import {
  ChineseIdentityGenerator,
  REGIONS,
  type ChineseIdentity,
  type PatientClass,
  type PersonName,
  type Sex,
} from './chinese-identity.js';
import { SeededRandom, hashSeed, type Seed } from './seeded-random.js';

export type CorpusStream = 'adt' | 'results' | 'orders';
export type JsonStream = 'appointments' | 'his.patient';
/** MSH-18 values this corpus emits (HL7 table 0211). */
export type Hl7Charset = 'UNICODE UTF-8' | 'GB 18030-2000';

export interface CorpusMessage {
  /** The message, segments terminated by CR (the last one too). */
  text: string;
  /** `text` encoded as its MSH-18 says: UTF-8, or GB18030. */
  bytes: Buffer;
  /** MSH-10, unique within a corpus and tagged with the seed so corpora do not collide. */
  controlId: string;
  /** MSH-9 without the structure, e.g. 'ADT^A08'. */
  messageType: string;
  stream: CorpusStream;
  /** ADT: PID-3.1; ORU: OBR-3.1; ORM: ORC-2.1. */
  key: string;
  charset: Hl7Charset;
  /** MSH-3; with MSH-4 it scopes the agent's retransmission dedupe. */
  sendingApplication: 'HIS' | 'LIS';
}

export interface JsonRow {
  stream: JsonStream;
  row: Record<string, unknown> & { key: string };
}

export interface Hl7CorpusOptions {
  seed: Seed;
  /** Share of messages encoded as GB18030, 0..1. Default 0.2. */
  gb18030Share?: number;
  /** Size of the patient pool messages are drawn from. Default 2000. */
  patients?: number;
  /** Simulated time of the first message; each message advances it 0.2–4 s. Default {@link DEFAULT_CORPUS_START}. */
  startTime?: Date;
  /** MSH-4 / MSH-6 and the assigning authority of MRNs. Default 'WARDLINE-DEMO-HOSPITAL'. */
  facility?: string;
}

/** Fixed so that a seed alone determines every byte; pass `startTime` for live-looking timestamps. */
export const DEFAULT_CORPUS_START = new Date('2024-03-01T00:30:00Z');
export const DEFAULT_FACILITY = 'WARDLINE-DEMO-HOSPITAL';
/** Messages are kept within [MIN_MESSAGE_BYTES, MAX_MESSAGE_BYTES] once encoded. */
export const MIN_MESSAGE_BYTES = 512;
export const MAX_MESSAGE_BYTES = 5 * 1024;

// --- HL7 text building -----------------------------------------------------------------

const ESCAPES: Record<string, string> = { '\\': '\\E\\', '|': '\\F\\', '^': '\\S\\', '~': '\\R\\', '&': '\\T\\' };

/**
 * Escapes HL7 delimiters in free text (`\` first, so escapes are not escaped twice).
 * CR and LF would end the segment, so they become spaces.
 */
export function escapeHl7(text: string): string {
  if (!/[\\|^~&\r\n]/.test(text)) return text;
  return text.replace(/[\\|^~&]/g, (c) => ESCAPES[c]!).replace(/[\r\n]+/g, ' ');
}

/** Joins components; callers escape free text with {@link escapeHl7} first. */
function c(...parts: (string | undefined)[]): string {
  return trimEmpty(parts, '^');
}

/** A segment from sparse fields by number, for segments where most fields are empty. */
function segAt(id: string, fields: Record<number, string | undefined>): string {
  let last = 0;
  for (const k in fields) last = Math.max(last, Number(k));
  const list: (string | undefined)[] = new Array(last);
  for (let i = 1; i <= last; i++) list[i - 1] = fields[i];
  return seg(id, ...list);
}

function trimEmpty(parts: (string | undefined)[], separator: string): string {
  // Builds the string directly: this runs for every field of every message.
  let out = '';
  let gap = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (i > 0) gap += separator;
    if (part) {
      out += gap + part;
      gap = '';
    }
  }
  return out;
}

/** A segment from its id and fields 1..n (trailing empty fields dropped, as senders do). */
function seg(id: string, ...fields: (string | undefined)[]): string {
  return trimEmpty([id, ...fields], '|');
}

const CST_OFFSET_MS = 8 * 3600_000;

let lastTimeMs = NaN;
let lastTimeText = '';

/** YYYYMMDDHHMMSS in China Standard Time. */
function hl7Time(ms: number): string {
  // One message asks for the same instant many times over.
  if (ms !== lastTimeMs) {
    lastTimeMs = ms;
    lastTimeText = new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 19).replace(/[-T:]/g, '');
  }
  return lastTimeText;
}

/** ISO 8601 with the +08:00 offset, as local apps write it. */
function isoCst(ms: number): string {
  return new Date(ms + CST_OFFSET_MS).toISOString().slice(0, 19) + '+08:00';
}

function xpn(name: PersonName): string {
  return c(escapeHl7(name.family), escapeHl7(name.given), '', '', '', '', 'L');
}

// --- Catalogues ------------------------------------------------------------------------

interface Department {
  code: string;
  name: string;
  ward: string;
  diagnoses: readonly (readonly [string, string])[];
}

const DEPARTMENTS: readonly Department[] = [
  { code: '0301', name: '心血管内科', ward: '心内一病区', diagnoses: [['I10.x00', '原发性高血压'], ['I20.000', '不稳定型心绞痛'], ['I21.900', '急性心肌梗死'], ['I50.900', '心力衰竭'], ['I48.x00', '心房颤动']] },
  { code: '0302', name: '呼吸与危重症医学科', ward: '呼吸二病区', diagnoses: [['J18.900', '肺炎'], ['J44.100', '慢性阻塞性肺病伴有急性加重'], ['J45.900', '支气管哮喘'], ['C34.900', '肺恶性肿瘤']] },
  { code: '0303', name: '消化内科', ward: '消化病区', diagnoses: [['K29.700', '胃炎'], ['K25.900', '胃溃疡'], ['K74.600', '肝硬化'], ['K85.900', '急性胰腺炎']] },
  { code: '0304', name: '内分泌科', ward: '内分泌病区', diagnoses: [['E11.900', '2型糖尿病'], ['E05.900', '甲状腺功能亢进症'], ['E78.500', '高脂血症']] },
  { code: '0305', name: '神经内科', ward: '神内一病区', diagnoses: [['I63.900', '脑梗死'], ['G40.900', '癫痫'], ['G45.900', '短暂性脑缺血发作']] },
  { code: '0306', name: '肾内科', ward: '肾内病区', diagnoses: [['N18.500', '慢性肾脏病5期'], ['N04.900', '肾病综合征']] },
  { code: '0401', name: '普通外科', ward: '普外二病区', diagnoses: [['K35.800', '急性阑尾炎'], ['K80.200', '胆囊结石'], ['K40.900', '腹股沟疝']] },
  { code: '0402', name: '骨科', ward: '骨科病区', diagnoses: [['S72.000', '股骨颈骨折'], ['M51.202', '腰椎间盘突出症'], ['M17.900', '膝关节病']] },
  { code: '0501', name: '妇产科', ward: '产科病区', diagnoses: [['O80.000', '单胎顺产'], ['N80.000', '子宫腺肌病'], ['D25.900', '子宫平滑肌瘤']] },
  { code: '0601', name: '儿科', ward: '儿科病区', diagnoses: [['J06.900', '急性上呼吸道感染'], ['A09.900', '胃肠炎'], ['J20.900', '急性支气管炎']] },
  { code: '0701', name: '肿瘤科', ward: '肿瘤病区', diagnoses: [['C16.900', '胃恶性肿瘤'], ['C50.900', '乳房恶性肿瘤'], ['C18.900', '结肠恶性肿瘤']] },
  { code: '0801', name: '急诊科', ward: '急诊留观', diagnoses: [['R07.400', '胸痛'], ['R10.400', '腹痛'], ['S06.000', '脑震荡']] },
];

const ETHNIC_GROUPS: readonly (readonly [readonly [string, string], number])[] = [
  [['01', '汉族'], 91], [['02', '蒙古族'], 0.5], [['03', '回族'], 0.8], [['04', '藏族'], 0.5],
  [['05', '维吾尔族'], 0.8], [['06', '苗族'], 0.7], [['08', '壮族'], 1.4], [['11', '满族'], 0.8],
];

/** PV1-20 financial class: who pays. */
const INSURANCE: readonly (readonly [readonly [string, string], number])[] = [
  [['01', '城镇职工基本医疗保险'], 45], [['02', '城乡居民基本医疗保险'], 35], [['03', '自费'], 15], [['04', '商业医疗保险'], 5],
];

const RELATIONS: readonly (readonly [string, string])[] = [['SPO', '配偶'], ['CHD', '子女'], ['PAR', '父母'], ['SIB', '兄弟姐妹']];

const ALLERGENS: readonly (readonly [string, string, string, string])[] = [
  // [allergen type (HL7 0127), code, allergen, reaction]
  ['DA', 'Y0001', '青霉素', '皮疹'], ['DA', 'Y0002', '头孢类抗生素', '荨麻疹'], ['DA', 'Y0003', '磺胺类药物', '皮疹、瘙痒'],
  ['DA', 'Y0004', '阿司匹林', '支气管痉挛'], ['DA', 'Y0005', '碘造影剂', '恶心、喉头水肿'], ['FA', 'F0001', '海鲜', '荨麻疹'],
  ['FA', 'F0002', '花生', '口唇肿胀'], ['EA', 'E0001', '花粉', '打喷嚏、流涕'],
];

type FlagMode = 'both' | 'high' | 'low';

interface NumericAnalyte {
  kind: 'NM';
  code: string;
  name: string;
  loinc?: string;
  unit: string;
  ref: { M: readonly [number, number]; F: readonly [number, number] };
  /** What OBX-7 shows when it is not simply "low-high" (e.g. "<0.55"). */
  display?: string;
  decimals: number;
  flags: FlagMode;
  /** Far outside the range is flagged HH/LL (critical value), not just H/L. */
  critical: boolean;
}

interface TextAnalyte {
  kind: 'ST';
  code: string;
  name: string;
  normal: string;
  abnormal: readonly string[];
}

type Analyte = NumericAnalyte | TextAnalyte;

interface Panel {
  code: string;
  name: string;
  /** HL7 table 0074 diagnostic service section. */
  section: string;
  specimen: readonly [string, string];
  instrument: string;
  method: string;
  analytes: readonly Analyte[];
}

function nm(
  code: string,
  name: string,
  loinc: string | undefined,
  unit: string,
  range: readonly [number, number] | { M: readonly [number, number]; F: readonly [number, number] },
  decimals: number,
  options: { display?: string; flags?: FlagMode; critical?: boolean } = {},
): NumericAnalyte {
  const ref = 'M' in range ? range : { M: range, F: range };
  return {
    kind: 'NM', code, name, unit, ref, decimals,
    flags: options.flags ?? 'both', critical: options.critical ?? false,
    ...(loinc === undefined ? {} : { loinc }),
    ...(options.display === undefined ? {} : { display: options.display }),
  };
}

function st(code: string, name: string, normal = '阴性', abnormal: readonly string[] = ['±', '1+', '2+', '3+']): TextAnalyte {
  return { kind: 'ST', code, name, normal, abnormal };
}

const LIVER = [
  nm('ALT', '丙氨酸氨基转移酶', '1742-6', 'U/L', { M: [9, 50], F: [7, 40] }, 0),
  nm('AST', '天门冬氨酸氨基转移酶', '1920-8', 'U/L', { M: [15, 40], F: [13, 35] }, 0),
  nm('ALP', '碱性磷酸酶', '6768-6', 'U/L', { M: [45, 125], F: [35, 100] }, 0),
  nm('GGT', 'γ-谷氨酰转移酶', '2324-2', 'U/L', { M: [10, 60], F: [7, 45] }, 0),
  nm('TBIL', '总胆红素', undefined, 'μmol/L', { M: [0, 26], F: [0, 21] }, 1, { flags: 'high' }),
  nm('DBIL', '直接胆红素', undefined, 'μmol/L', [0, 8], 1, { flags: 'high' }),
  nm('TP', '总蛋白', '2885-2', 'g/L', [65, 85], 1),
  nm('ALB', '白蛋白', '1751-7', 'g/L', [40, 55], 1),
  nm('GLB', '球蛋白', '10834-0', 'g/L', [20, 40], 1),
  nm('A/G', '白球比', '1759-0', '', [1.2, 2.4], 2),
];
const KIDNEY = [
  nm('UREA', '尿素', undefined, 'mmol/L', { M: [3.1, 8.0], F: [2.6, 7.5] }, 2),
  nm('CREA', '肌酐', '14682-9', 'μmol/L', { M: [57, 111], F: [41, 81] }, 0),
  nm('UA', '尿酸', '14933-6', 'μmol/L', { M: [208, 428], F: [155, 357] }, 0),
];

const PANELS: readonly (readonly [Panel, number])[] = [
  [{
    code: 'XCG', name: '血常规', section: 'HM', specimen: ['BLD', '全血(EDTA-K2)'], instrument: 'XN-1000', method: '鞘流阻抗法/流式细胞术',
    analytes: [
      nm('WBC', '白细胞计数', '6690-2', '10^9/L', [3.5, 9.5], 2, { critical: true }),
      nm('NEUT%', '中性粒细胞百分比', '770-8', '%', [40, 75], 1),
      nm('LYMPH%', '淋巴细胞百分比', '736-9', '%', [20, 50], 1),
      nm('MONO%', '单核细胞百分比', '5905-5', '%', [3, 10], 1),
      nm('EO%', '嗜酸性粒细胞百分比', '713-8', '%', [0.4, 8.0], 1),
      nm('BASO%', '嗜碱性粒细胞百分比', '706-2', '%', [0, 1], 1, { flags: 'high' }),
      nm('NEUT#', '中性粒细胞绝对值', '751-8', '10^9/L', [1.8, 6.3], 2),
      nm('LYMPH#', '淋巴细胞绝对值', '731-0', '10^9/L', [1.1, 3.2], 2),
      nm('RBC', '红细胞计数', '789-8', '10^12/L', { M: [4.3, 5.8], F: [3.8, 5.1] }, 2),
      nm('HGB', '血红蛋白', '718-7', 'g/L', { M: [130, 175], F: [115, 150] }, 0, { critical: true }),
      nm('HCT', '红细胞压积', '4544-3', '%', { M: [40, 50], F: [35, 45] }, 1),
      nm('MCV', '平均红细胞体积', '787-2', 'fL', [82, 100], 1),
      nm('MCH', '平均红细胞血红蛋白含量', '785-6', 'pg', [27, 34], 1),
      nm('MCHC', '平均红细胞血红蛋白浓度', '786-4', 'g/L', [316, 354], 0),
      nm('PLT', '血小板计数', '777-3', '10^9/L', [125, 350], 0, { critical: true }),
    ],
  }, 30],
  [{ code: 'GGN', name: '肝功能', section: 'CH', specimen: ['SER', '血清'], instrument: 'AU5800', method: '速率法/比色法', analytes: LIVER }, 10],
  [{ code: 'GSGN', name: '肝肾功能', section: 'CH', specimen: ['SER', '血清'], instrument: 'AU5800', method: '速率法/酶法', analytes: [...LIVER, ...KIDNEY] }, 10],
  [{ code: 'SGN', name: '肾功能', section: 'CH', specimen: ['SER', '血清'], instrument: 'AU5800', method: '酶法', analytes: KIDNEY }, 6],
  [{
    code: 'XZ', name: '血脂四项', section: 'CH', specimen: ['SER', '血清'], instrument: 'AU5800', method: '酶法/直接法',
    analytes: [
      nm('TC', '总胆固醇', '14647-2', 'mmol/L', [2.8, 5.2], 2, { display: '<5.20', flags: 'high' }),
      nm('TG', '甘油三酯', '14927-8', 'mmol/L', [0.4, 1.7], 2, { display: '<1.70', flags: 'high' }),
      nm('HDL-C', '高密度脂蛋白胆固醇', '14646-4', 'mmol/L', [1.04, 2.0], 2, { display: '>1.04', flags: 'low' }),
      nm('LDL-C', '低密度脂蛋白胆固醇', '22748-8', 'mmol/L', [1.5, 3.4], 2, { display: '<3.40', flags: 'high' }),
    ],
  }, 6],
  [{
    code: 'DJZ', name: '电解质', section: 'CH', specimen: ['SER', '血清'], instrument: 'AU5800', method: '离子选择电极法',
    analytes: [
      nm('K', '钾', '2823-3', 'mmol/L', [3.5, 5.3], 2, { critical: true }),
      nm('Na', '钠', '2951-2', 'mmol/L', [137, 147], 1),
      nm('Cl', '氯', '2075-0', 'mmol/L', [99, 110], 1),
      nm('Ca', '钙', '17861-6', 'mmol/L', [2.11, 2.52], 2),
      nm('Mg', '镁', undefined, 'mmol/L', [0.75, 1.02], 2),
      nm('P', '无机磷', undefined, 'mmol/L', [0.85, 1.51], 2),
    ],
  }, 8],
  [{
    code: 'TDX', name: '糖代谢', section: 'CH', specimen: ['SER', '血清/全血'], instrument: 'AU5800', method: '己糖激酶法/HPLC',
    analytes: [
      nm('GLU', '葡萄糖', '14749-6', 'mmol/L', [3.9, 6.1], 2, { critical: true }),
      nm('HbA1c', '糖化血红蛋白', '4548-4', '%', [4.0, 6.0], 1),
      nm('GA', '糖化白蛋白', undefined, '%', [11, 16], 1),
    ],
  }, 6],
  [{
    code: 'NX', name: '凝血四项+D-二聚体', section: 'HM', specimen: ['PLAS', '血浆(枸橼酸钠)'], instrument: 'CS-5100', method: '凝固法/免疫比浊法',
    analytes: [
      nm('PT', '凝血酶原时间', '5902-2', 's', [9.4, 12.5], 1),
      nm('INR', '国际标准化比值', '6301-6', '', [0.8, 1.2], 2),
      nm('APTT', '活化部分凝血活酶时间', '3173-2', 's', [25.1, 36.5], 1),
      nm('TT', '凝血酶时间', undefined, 's', [10.3, 16.6], 1),
      nm('FIB', '纤维蛋白原', '3255-7', 'g/L', [2.0, 4.0], 2),
      nm('DD', 'D-二聚体', '48065-7', 'mg/L FEU', [0.05, 0.55], 2, { display: '<0.55', flags: 'high' }),
    ],
  }, 8],
  [{
    code: 'XJ', name: '心肌标志物', section: 'CH', specimen: ['SER', '血清'], instrument: 'cobas e601', method: '电化学发光法',
    analytes: [
      nm('cTnI', '肌钙蛋白I', '10839-9', 'ng/mL', [0.001, 0.04], 3, { display: '<0.04', flags: 'high', critical: true }),
      nm('CK', '肌酸激酶', undefined, 'U/L', { M: [50, 310], F: [40, 200] }, 0),
      nm('CK-MB', '肌酸激酶同工酶', undefined, 'U/L', [2, 24], 1, { flags: 'high' }),
      nm('MYO', '肌红蛋白', undefined, 'ng/mL', [10, 70], 1, { flags: 'high' }),
      nm('NT-proBNP', 'N末端B型利钠肽原', '33762-6', 'pg/mL', [5, 125], 0, { display: '<125', flags: 'high' }),
    ],
  }, 6],
  [{
    code: 'GR', name: '感染指标', section: 'SR', specimen: ['SER', '血清'], instrument: 'cobas e601', method: '免疫比浊法/电化学发光法',
    analytes: [
      nm('CRP', 'C反应蛋白', '1988-5', 'mg/L', [0.1, 10], 2, { flags: 'high' }),
      nm('PCT', '降钙素原', '33959-8', 'ng/mL', [0.01, 0.05], 3, { display: '<0.05', flags: 'high' }),
      nm('IL-6', '白细胞介素-6', undefined, 'pg/mL', [0.5, 7], 2, { flags: 'high' }),
      nm('SAA', '血清淀粉样蛋白A', undefined, 'mg/L', [0.5, 10], 1, { flags: 'high' }),
    ],
  }, 6],
  [{
    code: 'NCG', name: '尿常规', section: 'UR', specimen: ['UR', '尿液'], instrument: 'UF-5000', method: '干化学法/流式细胞术',
    analytes: [
      nm('pH', '酸碱度', undefined, '', [4.5, 8.0], 1),
      nm('SG', '比重', undefined, '', [1.003, 1.03], 3),
      st('PRO', '尿蛋白'), st('UGLU', '尿葡萄糖'), st('KET', '酮体'), st('BLD', '隐血'),
      st('LEU', '白细胞酯酶'), st('NIT', '亚硝酸盐', '阴性', ['阳性']), st('BIL', '胆红素'),
      st('URO', '尿胆原', '正常', ['1+', '2+']),
    ],
  }, 8],
];

const EXAMS: readonly (readonly [string, string, string])[] = [
  // [code, name, diagnostic service section]
  ['CT0101', '胸部CT平扫', 'CT'], ['CT0201', '头颅CT平扫', 'CT'], ['MR0301', '腰椎MR平扫', 'MR'],
  ['US0101', '腹部彩超(肝胆胰脾)', 'US'], ['DR0101', '胸部正侧位片', 'RAD'], ['EC0101', '十二导联心电图', 'EC'],
  ['ES0101', '电子胃镜检查', 'OTH'], ['US0301', '心脏彩超', 'US'],
];

// Report-level remarks as LIS technologists write them; several contain HL7 delimiters on purpose.
const SHORT_REMARKS: readonly string[] = [
  '本结果仅对所检标本负责，请结合临床。',
  '标本轻度溶血，可能影响钾、乳酸脱氢酶结果，建议复查。',
  '白细胞分类经人工镜检复核。',
  '血小板聚集，建议枸橼酸钠抗凝管复查。',
  'CK & CK-MB 同步升高，请结合心电图及临床表现。',
  '参考区间：成人 3.5~9.5 10^9/L（WS/T 405-2012）。',
  '标本采集时间与送检时间间隔 >2h，结果仅供参考。',
  '患者正在使用华法林抗凝治疗，INR请结合用药评估。',
  '脂血标本，已高速离心处理后检测。',
  '复查结果与前次一致 | 已电话告知护士站。',
  '检测路径：C:\\LIS\\REPORT\\ 已归档。',
];

const LONG_REMARKS: readonly string[] = [
  '检验结果解读：本次检测中性粒细胞比例及绝对值升高，淋巴细胞比例相对降低，结合C反应蛋白及降钙素原水平，提示存在细菌感染可能；建议结合患者体温、咳嗽咳痰等临床症状，必要时完善痰培养及药敏试验，动态复查血常规与感染指标以评估抗感染治疗效果。',
  '检验结果解读：血红蛋白及红细胞压积降低，平均红细胞体积和平均红细胞血红蛋白含量均低于参考区间下限，呈小细胞低色素性改变，提示缺铁性贫血可能；建议完善血清铁、铁蛋白、总铁结合力及网织红细胞计数检查，并排查慢性失血（如消化道出血、月经过多）等病因。',
  '检验结果解读：丙氨酸氨基转移酶与天门冬氨酸氨基转移酶均明显升高，AST/ALT 比值 <1，伴γ-谷氨酰转移酶轻度升高，提示肝细胞损伤；请结合病毒性肝炎标志物、近期用药史（含中草药及保健品）及饮酒史综合判断，建议一至两周后复查肝功能。',
  '检验结果解读：肌钙蛋白I高于第99百分位参考上限，肌酸激酶同工酶同步升高，结合胸痛病史需高度警惕急性心肌损伤；建议立即行十二导联心电图检查，并于3小时后复查肌钙蛋白以观察动态变化，本结果已按危急值流程上报。',
  '检验结果解读：空腹血糖及糖化血红蛋白均高于参考区间，糖化白蛋白同步升高，提示近2~3个月血糖控制欠佳；建议内分泌科随诊，调整降糖方案，并定期监测血糖、血脂、肾功能及尿微量白蛋白，注意低血糖风险。',
  '检验结果解读：D-二聚体明显升高，纤维蛋白原轻度升高，凝血酶原时间与活化部分凝血活酶时间在参考区间内；D-二聚体阴性预测价值高而阳性特异性有限，术后、妊娠、恶性肿瘤及感染均可导致升高，请结合Wells评分及影像学检查排除静脉血栓栓塞。',
  '质量控制说明：本批次室内质控在控（Westgard 多规则 1_3s/2_2s/R_4s 未触发），仪器于当日 07:30 完成日常维护与定标；如对结果有疑问，请于报告发出后48小时内联系检验科（分机 6021），标本保留7天可供复检。',
  '危急值报告记录：检验科于报告审核时发现危急值，已按《临床危急值报告制度》电话通知病区护士站，接听者复述确认结果，通知时间及接听人姓名已记录于LIS危急值登记模块；请临床医师在15分钟内处理并在病程记录中体现。',
];

const OBX_REMARKS: readonly string[] = ['已复检，结果可靠。', '结果已复查。', '超出线性范围，稀释后检测。', '请结合临床。', '与前次结果比较变化显著(delta check)。'];

const NOTES_FOR_ORDERS: readonly string[] = [
  '空腹采血', '术前检查', '复查', '急查，请优先处理', '患者行动不便，床旁采血', '请与前次结果比较', '抗凝治疗中',
];

const APPOINTMENT_CHANNELS: readonly string[] = ['微信公众号', '支付宝生活号', '自助机', '人工窗口', '114预约平台', '医院App'];
const DOCTOR_TITLES: readonly (readonly [string, number])[] = [['主任医师', 2], ['副主任医师', 3], ['主治医师', 5], ['住院医师', 2]];
const REGISTRATION_FEES: Record<string, number> = { 主任医师: 50, 副主任医师: 30, 主治医师: 15, 住院医师: 10 };

// --- Corpus state ----------------------------------------------------------------------

interface Doctor {
  id: string;
  name: PersonName;
  title: string;
  department: Department;
}

interface Visit {
  number: string;
  patientClass: PatientClass;
  department: Department;
  attending: Doctor;
  room?: string;
  bed?: string;
  startMs: number;
}

interface Patient {
  identity: ChineseIdentity;
  maritalStatus: string;
  ethnicGroup: readonly [string, string];
  insurance: readonly [string, string];
  contact?: { name: PersonName; relation: readonly [string, string]; mobile: string };
  allergies: (readonly [string, string, string, string])[];
  diagnoses: (readonly [string, string])[];
  heightCm?: number;
  weightKg?: number;
  visit?: Visit;
}

interface LabOrder {
  kind: 'lab';
  placer: string;
  patient: Patient;
  panel: Panel;
  orderedBy: Doctor;
  orderedMs: number;
  stat: boolean;
  note?: string;
}

interface ExamOrder {
  kind: 'exam';
  placer: string;
  patient: Patient;
  exam: readonly [string, string, string];
  orderedBy: Doctor;
  orderedMs: number;
  stat: boolean;
  note?: string;
}

type Order = LabOrder | ExamOrder;

interface ObservationValue {
  analyte: Analyte;
  value: string;
  flag: string;
  remark?: string;
}

interface LabResult {
  order: LabOrder;
  filler: string;
  values: ObservationValue[];
  status: 'P' | 'F' | 'C';
  collectedMs: number;
  technologist: Doctor;
}

interface Appointment {
  id: string;
  patient: Patient;
  doctor: Doctor;
  scheduledMs: number;
  channel: string;
  status: 'booked' | 'checked-in' | 'cancelled';
}

type MessageKind = 'A01' | 'A04' | 'A08' | 'ORU' | 'ORM';

const MESSAGE_MIX: readonly (readonly [MessageKind, number])[] = [
  ['A01', 8], ['A04', 12], ['A08', 15], ['ORU', 45], ['ORM', 20],
];

// Bounds on the bookkeeping that makes records recur, so a corpus can run for days.
const RECENT_PATIENTS = 60;
const MAX_PENDING = 500;

/**
 * A deterministic stream of HL7 messages and JSON rows from one simulated hospital.
 * Two corpora with the same options yield the same bytes in the same order.
 */
export class Hl7Corpus {
  private readonly rng: SeededRandom;
  private readonly people: ChineseIdentityGenerator;
  private readonly facility: string;
  private readonly gb18030Share: number;
  private readonly controlIdTag: string;
  private readonly pool: Patient[] = [];
  private readonly doctors: Doctor[] = [];
  private readonly technologists: Doctor[] = [];
  private readonly seen: Patient[] = [];
  private readonly seenSet = new Set<Patient>();
  private readonly recent: Patient[] = [];
  private readonly pendingLabOrders: LabOrder[] = [];
  private readonly openOrders: Order[] = [];
  private readonly preliminary: LabResult[] = [];
  private readonly finals: LabResult[] = [];
  private readonly appointments: Appointment[] = [];
  private clockMs: number;
  private messageSerial = 0;
  private orderSerial = 0;
  private fillerSerial = 0;
  private appointmentSerial = 0;

  constructor(options: Hl7CorpusOptions) {
    const start = options.startTime ?? DEFAULT_CORPUS_START;
    this.rng = new SeededRandom(options.seed);
    this.people = new ChineseIdentityGenerator(this.rng.fork('people'), { referenceDate: start });
    this.facility = options.facility ?? DEFAULT_FACILITY;
    this.gb18030Share = options.gb18030Share ?? 0.2;
    this.clockMs = start.getTime();
    this.controlIdTag = hashSeed(`control-id/${String(options.seed)}`).toString(16).toUpperCase().padStart(8, '0').slice(0, 6);
    const staffRng = this.rng.fork('staff');
    for (const department of DEPARTMENTS) {
      for (let i = 0; i < 3; i++) {
        this.doctors.push({
          id: `D${String(this.doctors.length * 37 + 1001).padStart(4, '0')}`,
          name: this.people.name(),
          title: staffRng.weighted(DOCTOR_TITLES),
          department,
        });
      }
    }
    const lab = DEPARTMENTS[0]!; // technologists are never shown with a department
    for (let i = 0; i < 6; i++) {
      this.technologists.push({ id: `T${String(201 + i * 7).padStart(4, '0')}`, name: this.people.name(), title: '主管技师', department: lab });
    }
    const poolRng = this.rng.fork('pool');
    for (let i = 0; i < (options.patients ?? 2000); i++) this.pool.push(this.makePatient(poolRng));
  }

  /** The next HL7 message. */
  next(): CorpusMessage {
    this.clockMs += this.rng.int(200, 4000);
    let kind = this.rng.weighted(MESSAGE_MIX);
    // Updates and orders need someone who has already been registered.
    if ((kind === 'A08' || kind === 'ORM' || kind === 'ORU') && this.seen.length === 0) kind = 'A04';
    switch (kind) {
      case 'A01':
      case 'A04':
        return this.registration(kind);
      case 'A08':
        return this.update();
      case 'ORM':
        return this.order();
      case 'ORU':
        return this.result();
    }
  }

  /** The next JSON row a local app would post to the agent's ingest API. */
  nextJsonRow(): JsonRow {
    this.clockMs += this.rng.int(200, 4000);
    if (this.seen.length > 0 && this.rng.chance(0.35)) {
      const patient = this.recentOrSeen();
      return { stream: 'his.patient', row: this.patientRow(patient) };
    }
    if (this.appointments.length > 0 && this.rng.chance(0.3)) {
      const appointment = this.appointments[this.rng.int(0, this.appointments.length - 1)]!;
      if (appointment.status === 'booked') {
        appointment.status = this.rng.chance(0.75) ? 'checked-in' : 'cancelled';
        return { stream: 'appointments', row: this.appointmentRow(appointment) };
      }
    }
    const patient = this.rng.pick(this.pool);
    const doctor = this.rng.pick(this.doctors);
    const day = Math.floor((this.clockMs + CST_OFFSET_MS) / 86_400_000) + this.rng.int(1, 14);
    // Morning clinic 08:00–11:30, afternoon 14:00–17:00, in 10-minute slots (CST).
    const minutes = this.rng.chance(0.6) ? 8 * 60 + this.rng.int(0, 21) * 10 : 14 * 60 + this.rng.int(0, 18) * 10;
    const appointment: Appointment = {
      id: `YY${String(++this.appointmentSerial).padStart(9, '0')}`,
      patient,
      doctor,
      scheduledMs: day * 86_400_000 + minutes * 60_000 - CST_OFFSET_MS,
      channel: this.rng.pick(APPOINTMENT_CHANNELS),
      status: 'booked',
    };
    this.appointments.push(appointment);
    if (this.appointments.length > MAX_PENDING) this.appointments.shift();
    return { stream: 'appointments', row: this.appointmentRow(appointment) };
  }

  // --- ADT -----------------------------------------------------------------------------

  private registration(kind: 'A01' | 'A04'): CorpusMessage {
    const patient = this.rng.pick(this.pool);
    const patientClass: PatientClass = kind === 'A01' ? 'I' : this.rng.chance(0.85) ? 'O' : 'E';
    const department = patientClass === 'E' ? DEPARTMENTS[DEPARTMENTS.length - 1]! : this.rng.pick(DEPARTMENTS);
    const visit: Visit = {
      number: this.people.visitNumber(patientClass, new Date(this.clockMs)),
      patientClass,
      department,
      attending: this.doctorIn(department),
      startMs: this.clockMs,
    };
    if (patientClass === 'I') {
      visit.room = String(this.rng.int(1, 30)).padStart(2, '0');
      visit.bed = String(this.rng.int(1, 3)).padStart(2, '0');
      patient.heightCm ??= this.heightFor(patient);
      patient.weightKg = this.weightFor(patient);
    }
    patient.visit = visit;
    if (this.rng.chance(0.7)) patient.diagnoses = [this.rng.pick(department.diagnoses)];
    this.touch(patient);
    return this.adt(kind, patient);
  }

  private update(): CorpusMessage {
    const patient = this.recentOrSeen();
    // One A08 usually carries one change; which one varies, as it does at a registration desk.
    const change = this.rng.weighted<string>([['mobile', 20], ['address', 12], ['contact', 10], ['bed', 20], ['allergy', 12], ['diagnosis', 20], ['attending', 6]]);
    const visit = patient.visit!;
    switch (change) {
      case 'mobile':
        patient.identity = { ...patient.identity, mobile: this.people.mobile() };
        break;
      case 'address':
        patient.identity = { ...patient.identity, address: this.people.address() };
        break;
      case 'contact':
        patient.contact = { name: this.people.name(), relation: this.rng.pick(RELATIONS), mobile: this.people.mobile() };
        break;
      case 'bed':
        if (visit.patientClass === 'I') {
          visit.room = String(this.rng.int(1, 30)).padStart(2, '0');
          visit.bed = String(this.rng.int(1, 3)).padStart(2, '0');
        } else {
          // Outpatients have no bed; the desk corrects the payer instead.
          patient.insurance = this.rng.weighted(INSURANCE);
        }
        break;
      case 'allergy':
        if (patient.allergies.length < 3) patient.allergies.push(this.rng.pick(ALLERGENS));
        break;
      case 'diagnosis':
        if (patient.diagnoses.length < 4) patient.diagnoses.push(this.rng.pick(visit.department.diagnoses));
        break;
      case 'attending':
        visit.attending = this.doctorIn(visit.department);
        break;
    }
    this.touch(patient);
    return this.adt('A08', patient);
  }

  private adt(event: 'A01' | 'A04' | 'A08', patient: Patient): CorpusMessage {
    const visit = patient.visit!;
    const segments = [
      seg('EVN', event, hl7Time(this.clockMs), '', '', c(visit.attending.id, escapeHl7(visit.attending.name.family), escapeHl7(visit.attending.name.given))),
      this.pid(patient),
    ];
    if (patient.contact) {
      const k = patient.contact;
      segments.push(seg('NK1', '1', xpn(k.name), c(k.relation[0], k.relation[1], 'HL70063'), '', c(k.mobile, 'PRN', 'CP')));
    }
    segments.push(this.pv1(patient));
    if (visit.patientClass === 'I' && patient.heightCm !== undefined && patient.weightKg !== undefined) {
      const t = hl7Time(visit.startMs);
      segments.push(seg('OBX', '1', 'NM', c('8302-2', '身高', 'LN'), '', String(patient.heightCm), 'cm', '', '', '', '', 'F', '', '', t));
      segments.push(seg('OBX', '2', 'NM', c('29463-7', '体重', 'LN'), '', patient.weightKg.toFixed(1), 'kg', '', '', '', '', 'F', '', '', t));
    }
    patient.allergies.forEach((a, i) => {
      const types: Record<string, string> = { DA: '药物过敏', FA: '食物过敏', EA: '环境过敏' };
      segments.push(seg('AL1', String(i + 1), c(a[0], types[a[0]], 'HL70127'), c(a[1], escapeHl7(a[2]), 'L'), 'MO', escapeHl7(a[3])));
    });
    patient.diagnoses.forEach((d, i) => {
      segments.push(seg('DG1', String(i + 1), '', c(d[0], escapeHl7(d[1]), 'ICD10'), escapeHl7(d[1]), hl7Time(visit.startMs), i === 0 ? 'A' : 'W'));
    });
    return this.finish({
      app: 'HIS', type: 'ADT', event, structure: 'ADT_A01', stream: 'adt', key: patient.identity.mrn,
      body: () => segments,
    });
  }

  // --- Orders --------------------------------------------------------------------------

  private order(): CorpusMessage {
    // Clinicians revise and cancel orders they placed recently: same placer number again.
    if (this.openOrders.length > 0 && this.rng.chance(0.15)) {
      const index = this.rng.int(Math.max(0, this.openOrders.length - 30), this.openOrders.length - 1);
      const existing = this.openOrders[index]!;
      const control = this.rng.chance(0.6) ? 'XO' : 'CA';
      if (control === 'CA') {
        this.openOrders.splice(index, 1);
        removeFrom(this.pendingLabOrders, existing);
      } else {
        existing.stat = !existing.stat;
        existing.note = this.rng.pick(NOTES_FOR_ORDERS);
      }
      return this.orm(existing, control);
    }
    const patient = this.recentOrSeen();
    const department = patient.visit!.department;
    const base = { placer: this.nextPlacer(), patient, orderedBy: this.doctorIn(department), orderedMs: this.clockMs, stat: this.rng.chance(0.15) };
    const order: Order = this.rng.chance(0.7)
      ? { kind: 'lab', ...base, panel: this.rng.weighted(PANELS) }
      : { kind: 'exam', ...base, exam: this.rng.pick(EXAMS) };
    if (this.rng.chance(0.4)) order.note = this.rng.pick(NOTES_FOR_ORDERS);
    pushBounded(this.openOrders, order);
    if (order.kind === 'lab') pushBounded(this.pendingLabOrders, order);
    this.touch(patient);
    return this.orm(order, 'NW');
  }

  private orm(order: Order, control: 'NW' | 'XO' | 'CA'): CorpusMessage {
    const doctor = order.orderedBy;
    const service = order.kind === 'lab'
      ? c(order.panel.code, escapeHl7(order.panel.name), 'L')
      : c(order.exam[0], escapeHl7(order.exam[1]), 'L');
    const section = order.kind === 'lab' ? order.panel.section : order.exam[2];
    const priority = order.stat ? 'S' : 'R';
    const orderedAt = hl7Time(order.orderedMs);
    const segments = [
      this.pid(order.patient),
      this.pv1(order.patient),
      segAt('ORC', {
        1: control, 2: c(order.placer, 'HIS'), 5: control === 'CA' ? 'CA' : 'SC', 7: c('', '', '', orderedAt, '', priority),
        9: hl7Time(this.clockMs), 10: this.staff(doctor), 12: this.staff(doctor), 13: c(doctor.department.code, '', '', this.facility),
        14: c(this.departmentPhone(doctor.department), 'WPN', 'PH'), 17: c(doctor.department.code, escapeHl7(doctor.department.name)),
      }),
      segAt('OBR', {
        1: '1', 2: c(order.placer, 'HIS'), 4: service, 5: priority, 6: orderedAt,
        15: order.kind === 'lab' ? specimen(order.panel) : undefined, 16: this.staff(doctor), 24: section,
      }),
    ];
    if (order.note) segments.push(seg('NTE', '1', 'P', escapeHl7(order.note)));
    const dx = order.patient.diagnoses[0];
    if (dx) segments.push(seg('DG1', '1', '', c(dx[0], escapeHl7(dx[1]), 'ICD10'), escapeHl7(dx[1]), '', 'W'));
    return this.finish({ app: 'HIS', type: 'ORM', event: 'O01', structure: 'ORM_O01', stream: 'orders', key: order.placer, body: () => segments });
  }

  // --- Results -------------------------------------------------------------------------

  private result(): CorpusMessage {
    // A preliminary report is finalised later, and now and then a final one corrected:
    // both reuse the filler order number, so only the last version should survive.
    if (this.preliminary.length > 0 && this.rng.chance(0.25)) {
      const result = this.preliminary.shift()!;
      result.status = 'F';
      // Sometimes the final run differs from the preliminary one (rerun, dilution).
      if (this.rng.chance(0.3)) result.values = this.observePanel(result.order.panel, result.order.patient.identity.sex);
      pushBounded(this.finals, result);
      return this.oru(result);
    }
    if (this.finals.length > 0 && this.rng.chance(0.03)) {
      const result = this.finals.splice(this.rng.int(0, this.finals.length - 1), 1)[0]!;
      result.status = 'C';
      result.values = this.observePanel(result.order.panel, result.order.patient.identity.sex);
      result.values[0]!.remark = '更正报告：原结果录入错误，以本次为准。';
      return this.oru(result);
    }
    let order: LabOrder;
    if (this.pendingLabOrders.length > 0 && this.rng.chance(0.75)) {
      order = this.pendingLabOrders.splice(this.rng.int(0, Math.min(20, this.pendingLabOrders.length - 1)), 1)[0]!;
      removeFrom(this.openOrders, order);
    } else {
      // Tests ordered on paper or at the LIS counter never produced an ORM.
      const patient = this.recentOrSeen();
      order = {
        kind: 'lab', placer: this.nextPlacer(), patient, panel: this.rng.weighted(PANELS),
        orderedBy: this.doctorIn(patient.visit!.department), orderedMs: this.clockMs - this.rng.int(600_000, 7_200_000), stat: false,
      };
    }
    const sex = order.patient.identity.sex;
    const values = this.observePanel(order.panel, sex);
    for (const v of values) if (v.flag !== 'N' && this.rng.chance(0.3)) v.remark = this.rng.pick(OBX_REMARKS);
    const result: LabResult = {
      order,
      filler: this.nextFiller(),
      values,
      status: this.rng.chance(0.12) ? 'P' : 'F',
      collectedMs: Math.max(order.orderedMs, this.clockMs - this.rng.int(1_800_000, 5_400_000)),
      technologist: this.rng.pick(this.technologists),
    };
    if (result.status === 'P') pushBounded(this.preliminary, result);
    else pushBounded(this.finals, result);
    this.touch(order.patient);
    return this.oru(result);
  }

  private oru(result: LabResult): CorpusMessage {
    const { order, values } = result;
    const panel = order.panel;
    const tech = result.technologist;
    const reported = hl7Time(this.clockMs);
    // Long remarks are what push a report towards 5 KB; most reports carry few or none.
    const remarkCount = this.rng.weighted<number>([[0, 40], [1, 20], [2, 15], [3, 10], [5, 8], [8, 7]]);
    const remarks: string[] = [];
    for (let i = 0; i < remarkCount; i++) {
      remarks.push(i === 0 || this.rng.chance(0.5) ? this.rng.pick(LONG_REMARKS) : this.rng.pick(SHORT_REMARKS));
    }
    if (this.rng.chance(0.5)) remarks.push(this.rng.pick(SHORT_REMARKS));
    // First, so that trimming an oversized report drops the commentary, not the method.
    remarks.unshift(`检测方法：${panel.method}；仪器：${panel.instrument}；审核者：${tech.name.full}。`);
    const head = [
      this.pid(order.patient),
      this.pv1(order.patient),
      segAt('ORC', {
        1: 'RE', 2: c(order.placer, 'HIS'), 3: c(result.filler, 'LIS'), 5: result.status === 'P' ? 'A' : 'CM', 9: reported,
        12: this.staff(order.orderedBy),
      }),
      segAt('OBR', {
        1: '1', 2: c(order.placer, 'HIS'), 3: c(result.filler, 'LIS'), 4: c(panel.code, escapeHl7(panel.name), 'L'),
        6: hl7Time(order.orderedMs), 7: hl7Time(result.collectedMs), 14: hl7Time(result.collectedMs + 900_000),
        15: specimen(panel), 16: this.staff(order.orderedBy), 22: reported, 24: panel.section, 25: result.status,
      }),
    ];
    const sex = order.patient.identity.sex;
    const observations: string[] = [];
    values.forEach((v, i) => {
      const a = v.analyte;
      const code = c(escapeHl7(a.code), escapeHl7(a.name), 'L');
      observations.push(segAt('OBX', {
        1: String(i + 1),
        2: a.kind,
        3: a.kind === 'NM' && a.loinc ? c(code, a.loinc, '', 'LN') : code,
        5: escapeHl7(v.value),
        6: a.kind === 'NM' ? escapeHl7(a.unit) : undefined,
        7: escapeHl7(a.kind === 'NM' ? a.display ?? `${a.ref[sex][0]}-${a.ref[sex][1]}` : a.normal),
        8: v.flag,
        11: result.status,
        14: hl7Time(result.collectedMs + 1_800_000),
        16: this.staff(tech),
        18: c(escapeHl7(panel.instrument)),
      }));
      if (v.remark) observations.push(seg('NTE', '1', 'L', escapeHl7(v.remark)));
    });
    return this.finish({
      app: 'LIS', type: 'ORU', event: 'R01', structure: 'ORU_R01', stream: 'results', key: result.filler,
      body: (trim) => {
        const kept = remarks.slice(0, Math.max(0, remarks.length - trim));
        return [...head, ...kept.map((r, i) => seg('NTE', String(i + 1), 'L', escapeHl7(r))), ...observations];
      },
    });
  }

  private observePanel(panel: Panel, sex: Sex): ObservationValue[] {
    const numbers = new Map<string, number>();
    for (const a of panel.analytes) if (a.kind === 'NM') numbers.set(a.code, this.draw(a, sex));
    deriveCalculated(numbers);
    return panel.analytes.map((analyte) => {
      if (analyte.kind === 'ST') {
        return this.rng.chance(0.8)
          ? { analyte, value: analyte.normal, flag: 'N' }
          : { analyte, value: this.rng.pick(analyte.abnormal), flag: 'A' };
      }
      return { analyte, ...formatValue(analyte, numbers.get(analyte.code)!, sex) };
    });
  }

  private draw(analyte: NumericAnalyte, sex: Sex): number {
    const [low, high] = analyte.ref[sex];
    const canHigh = analyte.flags !== 'low';
    const canLow = analyte.flags !== 'high';
    // About a quarter of hospital lab values fall outside the reference range.
    const roll = this.rng.next();
    const band = roll < 0.72 ? 'normal' : canHigh && (!canLow || roll < 0.86) ? 'high' : 'low';
    const critical = analyte.critical && this.rng.chance(0.15);
    if (band === 'normal') return this.rng.float(low, high);
    if (band === 'low') return low * this.rng.float(critical ? 0.3 : 0.6, 0.97);
    return high * this.rng.float(1.03, critical ? 4 : 1.8);
  }

  // --- Shared segments -----------------------------------------------------------------

  private pid(patient: Patient): string {
    const p = patient.identity;
    const region = p.address.region;
    return segAt('PID', {
      1: '1',
      // The resident ID travels as a second identifier, typed NNCHN (national person id, China).
      3: `${c(p.mrn, '', '', this.facility, 'MR')}~${c(p.residentId, '', '', 'CHN', 'NNCHN')}`,
      5: xpn(p.name),
      7: p.birthDate,
      8: p.sex,
      11: c(escapeHl7(p.address.street), escapeHl7(region.district), escapeHl7(region.city), escapeHl7(region.province), region.postcode, 'CHN', 'H'),
      13: c(p.mobile, 'PRN', 'CP'),
      15: c('zh', '中文', 'ISO639'),
      16: patient.maritalStatus,
      22: c(patient.ethnicGroup[0], escapeHl7(patient.ethnicGroup[1]), 'GB3304'),
      23: escapeHl7(birthPlace(p)),
      26: 'CHN',
      28: 'CHN',
    });
  }

  private pv1(patient: Patient): string {
    const v = patient.visit!;
    const location = v.patientClass === 'I'
      ? c(v.department.code, v.room, v.bed, this.facility, '', '', '', '', escapeHl7(v.department.ward))
      : c(v.department.code, '', '', this.facility, '', '', '', '', escapeHl7(`${v.department.name}${v.patientClass === 'E' ? '' : '门诊'}`));
    return segAt('PV1', {
      1: '1',
      2: v.patientClass,
      3: location,
      4: v.patientClass === 'E' ? 'E' : 'R',
      7: this.staff(v.attending),
      10: v.department.code,
      19: c(v.number, '', '', this.facility, 'VN'),
      20: c(patient.insurance[0], escapeHl7(patient.insurance[1])),
      44: hl7Time(v.startMs),
    });
  }

  private departmentPhone(department: Department): string {
    // One extension per department, so the same department always shows the same number.
    return `0755-8600${department.code}`;
  }

  private staff(d: Doctor): string {
    return c(d.id, escapeHl7(d.name.family), escapeHl7(d.name.given), '', '', escapeHl7(d.title));
  }

  // --- Assembly ------------------------------------------------------------------------

  private finish(m: {
    app: 'HIS' | 'LIS';
    type: 'ADT' | 'ORU' | 'ORM';
    event: string;
    structure: string;
    stream: CorpusStream;
    key: string;
    /** Builds the segments after MSH; `trim` asks for that many fewer optional remarks. */
    body: (trim: number) => string[];
  }): CorpusMessage {
    const charset: Hl7Charset = this.rng.chance(this.gb18030Share) ? 'GB 18030-2000' : 'UNICODE UTF-8';
    const version = this.rng.chance(0.15) ? '2.4' : '2.5';
    const controlId = `${m.app}${this.controlIdTag}${String(++this.messageSerial).padStart(9, '0')}`;
    const msh = `MSH|^~\\&|${m.app}|${this.facility}|WARDLINE|${this.facility}|${hl7Time(this.clockMs)}+0800||` +
      `${m.type}^${m.event}^${m.structure}|${controlId}|P|${version}|||||CHN|${charset}`;
    for (let trim = 0; ; trim++) {
      const segments = [msh, ...m.body(trim)];
      const text = segments.join('\r') + '\r';
      const bytes = charset === 'GB 18030-2000' ? iconv.encode(text, 'gb18030') : Buffer.from(text, 'utf8');
      // Only remark-bearing bodies shrink with `trim`; a body that cannot shrink is accepted as is.
      if (bytes.length <= MAX_MESSAGE_BYTES || trim > 32) {
        return { text, bytes, controlId, messageType: `${m.type}^${m.event}`, stream: m.stream, key: m.key, charset, sendingApplication: m.app };
      }
    }
  }

  // --- Pool bookkeeping ----------------------------------------------------------------

  private makePatient(rng: SeededRandom): Patient {
    const identity = this.people.next();
    const age = ageAt(identity.birthDate, this.clockMs);
    const patient: Patient = {
      identity,
      maritalStatus: age < 22 ? 'S' : rng.weighted([['M', 75], ['S', 12], ['D', 6], ['W', age > 60 ? 10 : 1]]),
      ethnicGroup: rng.weighted(ETHNIC_GROUPS),
      insurance: rng.weighted(INSURANCE),
      allergies: rng.chance(0.15) ? [rng.pick(ALLERGENS)] : [],
      diagnoses: [],
    };
    if (rng.chance(age < 18 || age > 70 ? 0.9 : 0.5)) {
      patient.contact = {
        name: this.people.name(),
        relation: age < 18 ? ['PAR', '父母'] : rng.pick(RELATIONS),
        mobile: this.people.mobile(),
      };
    }
    return patient;
  }

  private touch(patient: Patient): void {
    if (!this.seenSet.has(patient)) {
      this.seenSet.add(patient);
      this.seen.push(patient);
    }
    removeFrom(this.recent, patient);
    this.recent.push(patient);
    if (this.recent.length > RECENT_PATIENTS) this.recent.shift();
  }

  /** Mostly someone seen lately (so updates to one patient cluster), sometimes anyone registered. */
  private recentOrSeen(): Patient {
    return this.recent.length > 0 && this.rng.chance(0.7) ? this.rng.pick(this.recent) : this.rng.pick(this.seen);
  }

  private doctorIn(department: Department): Doctor {
    return this.rng.pick(this.doctors.filter((d) => d.department === department));
  }

  private heightFor(patient: Patient): number {
    const age = ageAt(patient.identity.birthDate, this.clockMs);
    if (age < 18) return Math.round(50 + age * 6.5 + this.rng.int(-5, 5));
    return patient.identity.sex === 'M' ? this.rng.int(160, 185) : this.rng.int(150, 172);
  }

  private weightFor(patient: Patient): number {
    const height = patient.heightCm ?? 165;
    // BMI 17–30, so weight stays plausible for the height.
    return Math.round(((height / 100) ** 2) * this.rng.float(17, 30) * 10) / 10;
  }

  private nextPlacer(): string {
    return `${hl7Time(this.clockMs).slice(0, 8)}${String(++this.orderSerial).padStart(6, '0')}`;
  }

  private nextFiller(): string {
    // Specimen barcodes: yymmdd + 6-digit serial, as printed on tube labels.
    return `${hl7Time(this.clockMs).slice(2, 8)}${String(++this.fillerSerial).padStart(6, '0')}`;
  }

  private patientRow(patient: Patient): JsonRow['row'] {
    const p = patient.identity;
    return {
      key: p.mrn,
      mrn: p.mrn,
      name: p.name.full,
      sex: p.sex,
      birthDate: `${p.birthDate.slice(0, 4)}-${p.birthDate.slice(4, 6)}-${p.birthDate.slice(6, 8)}`,
      residentId: p.residentId,
      mobile: p.mobile,
      address: p.address.full,
      ethnicGroup: patient.ethnicGroup[1],
      maritalStatus: patient.maritalStatus,
      insuranceType: patient.insurance[1],
      updatedAt: isoCst(this.clockMs),
    };
  }

  private appointmentRow(a: Appointment): JsonRow['row'] {
    return {
      key: a.id,
      appointmentId: a.id,
      mrn: a.patient.identity.mrn,
      patientName: a.patient.identity.name.full,
      mobile: a.patient.identity.mobile,
      department: a.doctor.department.name,
      doctorId: a.doctor.id,
      doctorName: a.doctor.name.full,
      doctorTitle: a.doctor.title,
      scheduledAt: isoCst(a.scheduledMs),
      channel: a.channel,
      feeYuan: REGISTRATION_FEES[a.doctor.title] ?? 10,
      status: a.status,
      updatedAt: isoCst(this.clockMs),
    };
  }
}

/** Province (and city) of the region that issued the resident ID. */
function birthPlace(identity: ChineseIdentity): string {
  const region = REGIONS.find((r) => r.code === identity.residentId.slice(0, 6));
  if (!region) return '';
  return region.city === region.province ? region.province : region.province + region.city;
}

/** OBR-15 specimen source: code & name & table 0070, as sub-components. */
function specimen(panel: Panel): string {
  return `${panel.specimen[0]}&${escapeHl7(panel.specimen[1])}&HL70070`;
}

function ageAt(birthDate: string, ms: number): number {
  const now = new Date(ms + CST_OFFSET_MS);
  const y = Number(birthDate.slice(0, 4));
  const md = Number(birthDate.slice(4, 8));
  const nowMd = (now.getUTCMonth() + 1) * 100 + now.getUTCDate();
  return now.getUTCFullYear() - y - (nowMd < md ? 1 : 0);
}

/**
 * Recomputes what an analyser calculates from other results, so that a report is
 * internally consistent (a differential summing to 150% would be noticed downstream).
 */
function deriveCalculated(v: Map<string, number>): void {
  const differential = ['NEUT%', 'LYMPH%', 'MONO%', 'EO%', 'BASO%'];
  if (differential.every((k) => v.has(k))) {
    const sum = differential.reduce((total, k) => total + v.get(k)!, 0);
    for (const k of differential) v.set(k, (v.get(k)! * 100) / sum);
  }
  const wbc = v.get('WBC');
  if (wbc !== undefined) {
    for (const [absolute, percent] of [['NEUT#', 'NEUT%'], ['LYMPH#', 'LYMPH%']] as const) {
      const share = v.get(percent);
      if (v.has(absolute) && share !== undefined) v.set(absolute, (wbc * share) / 100);
    }
  }
  const rbc = v.get('RBC');
  const hgb = v.get('HGB');
  const mcv = v.get('MCV');
  if (rbc !== undefined && hgb !== undefined && mcv !== undefined && v.has('HCT')) {
    const hct = (rbc * mcv) / 10;
    v.set('HCT', hct);
    v.set('MCH', hgb / rbc);
    v.set('MCHC', (hgb / hct) * 100);
  }
  const tp = v.get('TP');
  const albumin = v.get('ALB');
  if (tp !== undefined && albumin !== undefined && v.has('GLB')) {
    // Albumin is part of total protein; globulin is the rest and never near zero.
    const alb = Math.min(albumin, tp - 15);
    v.set('ALB', alb);
    const glb = tp - alb;
    v.set('GLB', glb);
    if (v.has('A/G')) v.set('A/G', alb / glb);
  }
}

/** OBX-5 text at the analyte's precision and the OBX-8 flag for that shown value. */
function formatValue(analyte: NumericAnalyte, value: number, sex: Sex): { value: string; flag: string } {
  const [low, high] = analyte.ref[sex];
  const text = value.toFixed(analyte.decimals);
  const shown = Number(text);
  let flag = 'N';
  if (shown > high && analyte.flags !== 'low') flag = analyte.critical && shown > high * 2 ? 'HH' : 'H';
  else if (shown < low && analyte.flags !== 'high') flag = analyte.critical && shown < low * 0.5 ? 'LL' : 'L';
  return { value: text, flag };
}

function removeFrom<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}

function pushBounded<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > MAX_PENDING) list.shift();
}
