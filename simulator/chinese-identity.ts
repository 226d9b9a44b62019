// Realistic Chinese patient identities for the simulated hospital. Everything here is
// fabricated from a seed, but has the shape of the real thing, so that the agent's policy
// engine (which must never let these leave in clear) is exercised on plausible data:
// 18-character resident IDs with a correct check character, mobile numbers on real
// carrier prefixes, addresses whose district matches its postcode.

import type { SeededRandom } from './seeded-random.js';

export type Sex = 'M' | 'F';

/** A county-level administrative division (GB/T 2260 code) with streets that exist there. */
export interface Region {
  /** 6-digit GB/T 2260 code, the first six characters of a resident ID. */
  code: string;
  province: string;
  /** Equal to `province` for the four municipalities (北京市, 上海市, 天津市, 重庆市). */
  city: string;
  district: string;
  postcode: string;
  streets: readonly string[];
}

export const REGIONS: readonly Region[] = [
  { code: '110101', province: '北京市', city: '北京市', district: '东城区', postcode: '100010', streets: ['东长安街', '王府井大街', '东直门内大街'] },
  { code: '110105', province: '北京市', city: '北京市', district: '朝阳区', postcode: '100020', streets: ['建国路', '朝阳北路', '望京街', '东三环中路'] },
  { code: '110106', province: '北京市', city: '北京市', district: '丰台区', postcode: '100071', streets: ['丰台北路', '南三环西路'] },
  { code: '110108', province: '北京市', city: '北京市', district: '海淀区', postcode: '100080', streets: ['中关村大街', '学院路', '海淀大街'] },
  { code: '120101', province: '天津市', city: '天津市', district: '和平区', postcode: '300041', streets: ['南京路', '滨江道'] },
  { code: '130102', province: '河北省', city: '石家庄市', district: '长安区', postcode: '050011', streets: ['中山东路', '建设北大街'] },
  { code: '140105', province: '山西省', city: '太原市', district: '小店区', postcode: '030032', streets: ['长风街', '平阳路'] },
  { code: '210102', province: '辽宁省', city: '沈阳市', district: '和平区', postcode: '110001', streets: ['中华路', '南京北街'] },
  { code: '220102', province: '吉林省', city: '长春市', district: '南关区', postcode: '130022', streets: ['人民大街', '亚泰大街'] },
  { code: '230103', province: '黑龙江省', city: '哈尔滨市', district: '南岗区', postcode: '150001', streets: ['红军街', '西大直街'] },
  { code: '310101', province: '上海市', city: '上海市', district: '黄浦区', postcode: '200001', streets: ['南京东路', '淮海中路', '西藏中路'] },
  { code: '310104', province: '上海市', city: '上海市', district: '徐汇区', postcode: '200030', streets: ['漕溪北路', '肇嘉浜路', '衡山路'] },
  { code: '310115', province: '上海市', city: '上海市', district: '浦东新区', postcode: '200120', streets: ['世纪大道', '张杨路', '陆家嘴环路'] },
  { code: '320102', province: '江苏省', city: '南京市', district: '玄武区', postcode: '210018', streets: ['中山路', '北京东路'] },
  { code: '320506', province: '江苏省', city: '苏州市', district: '吴中区', postcode: '215104', streets: ['东吴北路', '宝带西路'] },
  { code: '330106', province: '浙江省', city: '杭州市', district: '西湖区', postcode: '310013', streets: ['文三路', '天目山路', '西溪路'] },
  { code: '340104', province: '安徽省', city: '合肥市', district: '蜀山区', postcode: '230031', streets: ['长江西路', '黄山路'] },
  { code: '350203', province: '福建省', city: '厦门市', district: '思明区', postcode: '361001', streets: ['中山路', '湖滨南路'] },
  { code: '360102', province: '江西省', city: '南昌市', district: '东湖区', postcode: '330006', streets: ['八一大道', '中山路'] },
  { code: '370102', province: '山东省', city: '济南市', district: '历下区', postcode: '250011', streets: ['泉城路', '经十路'] },
  { code: '370202', province: '山东省', city: '青岛市', district: '市南区', postcode: '266001', streets: ['香港中路', '中山路'] },
  { code: '410105', province: '河南省', city: '郑州市', district: '金水区', postcode: '450003', streets: ['花园路', '经三路'] },
  { code: '420106', province: '湖北省', city: '武汉市', district: '武昌区', postcode: '430061', streets: ['中南路', '中北路', '武珞路'] },
  { code: '430104', province: '湖南省', city: '长沙市', district: '岳麓区', postcode: '410006', streets: ['麓山南路', '枫林一路'] },
  { code: '440106', province: '广东省', city: '广州市', district: '天河区', postcode: '510630', streets: ['天河路', '体育西路', '黄埔大道西'] },
  { code: '440305', province: '广东省', city: '深圳市', district: '南山区', postcode: '518052', streets: ['科技南路', '深南大道', '南海大道'] },
  { code: '450103', province: '广西壮族自治区', city: '南宁市', district: '青秀区', postcode: '530022', streets: ['民族大道', '东葛路'] },
  { code: '460106', province: '海南省', city: '海口市', district: '龙华区', postcode: '570105', streets: ['国贸路', '滨海大道'] },
  { code: '500103', province: '重庆市', city: '重庆市', district: '渝中区', postcode: '400010', streets: ['民权路', '中山三路'] },
  { code: '510107', province: '四川省', city: '成都市', district: '武侯区', postcode: '610041', streets: ['人民南路四段', '武侯祠大街', '科华北路'] },
  { code: '530102', province: '云南省', city: '昆明市', district: '五华区', postcode: '650031', streets: ['东风西路', '人民中路'] },
  { code: '610113', province: '陕西省', city: '西安市', district: '雁塔区', postcode: '710061', streets: ['长安南路', '小寨东路'] },
  { code: '620102', province: '甘肃省', city: '兰州市', district: '城关区', postcode: '730030', streets: ['东岗西路', '庆阳路'] },
  { code: '650102', province: '新疆维吾尔自治区', city: '乌鲁木齐市', district: '天山区', postcode: '830002', streets: ['解放北路', '新华南路'] },
];

/** Mobile number prefixes in use by China Mobile, China Unicom, China Telecom and China Broadnet. */
export const MOBILE_PREFIXES: readonly string[] = [
  '130', '131', '132', '133', '134', '135', '136', '137', '138', '139',
  '145', '147', '150', '151', '152', '153', '155', '156', '157', '158', '159',
  '166', '173', '175', '176', '177', '178',
  '180', '181', '182', '183', '184', '185', '186', '187', '188', '189',
  '191', '193', '195', '198', '199',
];

// Weights are roughly the share (%) of the population in the 2020 census; the long tail
// and the compound surnames are there so that a name-matching rule cannot assume one
// character.
const SURNAMES: readonly (readonly [string, number])[] = [
  ['王', 7.1], ['李', 7.0], ['张', 6.7], ['刘', 5.4], ['陈', 4.5], ['杨', 3.1], ['黄', 2.2], ['赵', 2.0],
  ['吴', 2.0], ['周', 1.9], ['徐', 1.5], ['孙', 1.4], ['马', 1.3], ['朱', 1.2], ['胡', 1.1], ['郭', 1.1],
  ['何', 1.0], ['林', 0.9], ['罗', 0.9], ['高', 0.9], ['郑', 0.8], ['梁', 0.8], ['谢', 0.7], ['宋', 0.6],
  ['唐', 0.6], ['许', 0.6], ['韩', 0.6], ['冯', 0.5], ['邓', 0.5], ['曹', 0.5], ['彭', 0.5], ['曾', 0.5],
  ['肖', 0.5], ['田', 0.4], ['董', 0.4], ['袁', 0.4], ['潘', 0.4], ['于', 0.4], ['蒋', 0.4], ['蔡', 0.4],
  ['余', 0.4], ['杜', 0.3], ['叶', 0.3], ['程', 0.3], ['苏', 0.3], ['魏', 0.3], ['吕', 0.3], ['丁', 0.3],
  ['任', 0.3], ['沈', 0.3], ['欧阳', 0.03], ['司马', 0.01], ['诸葛', 0.01], ['上官', 0.01],
];

const GIVEN_MALE = [...'伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林峰毅志国建东亮洋'];
const GIVEN_FEMALE = [...'芳娜敏静丽艳娟霞秀英玲桂兰燕萍红婷雪琳倩颖慧佳怡欣悦梦晨雨涵瑶'];
const GIVEN_EITHER = [...'子文一思嘉晓小春海天乐安心云'];

/** A person's name as HL7 wants it (family, given) and as a Chinese form prints it. */
export interface PersonName {
  family: string;
  given: string;
  /** family + given, no space. */
  full: string;
}

export interface ChineseAddress {
  region: Region;
  /** Street name and number, with building/unit/room when there is one (e.g. 建国路88号3栋2单元501室). */
  street: string;
  /** The whole address as written on a form, e.g. 北京市朝阳区建国路88号. */
  full: string;
}

export interface ChineseIdentity {
  name: PersonName;
  sex: Sex;
  /** YYYYMMDD. */
  birthDate: string;
  /** 18-character resident ID (居民身份证号码), GB 11643 with ISO 7064 MOD 11-2 check character. */
  residentId: string;
  /** 11 digits, no separators. */
  mobile: string;
  address: ChineseAddress;
  /** Medical record number (病案号), 9 digits, unique within one generator. */
  mrn: string;
}

// ISO 7064 MOD 11-2 as GB 11643-1999 applies it: weight i = 2^(17-i) mod 11.
const CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const CHECK_CHARACTERS = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'] as const;

/**
 * The ISO 7064 MOD 11-2 check character (the 18th) of a resident ID.
 * @param first17 the first 17 characters, all digits.
 * @returns '0'–'9' or 'X'.
 */
export function residentIdCheckCharacter(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError(`expected 17 digits, got "${first17}"`);
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * CHECK_WEIGHTS[i]!;
  return CHECK_CHARACTERS[sum % 11]!;
}

/** True when `id` has 18 characters, a real calendar birth date and a correct check character. */
export function isValidResidentId(id: string): boolean {
  if (!/^\d{17}[\dX]$/.test(id)) return false;
  if (!isCalendarDate(id.slice(6, 14))) return false;
  return residentIdCheckCharacter(id.slice(0, 17)) === id[17];
}

/** The sex a resident ID encodes: an odd 17th digit is male, an even one female. */
export function residentIdSex(id: string): Sex {
  return Number(id[16]) % 2 === 1 ? 'M' : 'F';
}

function isCalendarDate(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** Inpatient (住院), outpatient (门诊) or emergency (急诊) — HL7 patient class I / O / E. */
export type PatientClass = 'I' | 'O' | 'E';

const VISIT_PREFIX: Record<PatientClass, string> = { I: 'ZY', O: 'MZ', E: 'JZ' };

/** The day every generated age is measured from, unless a generator is told otherwise. */
export const DEFAULT_REFERENCE_DATE = new Date('2024-03-01T00:00:00Z');

// Hospital patients skew old and very young compared with the population.
const AGE_BANDS: readonly (readonly [readonly [number, number], number])[] = [
  [[0, 4], 8], [[5, 17], 8], [[18, 39], 22], [[40, 59], 28], [[60, 79], 26], [[80, 99], 8],
];

export interface ChineseIdentityGeneratorOptions {
  /** Ages are computed back from this date. Default {@link DEFAULT_REFERENCE_DATE}. */
  referenceDate?: Date;
}

/**
 * Makes identities, names, mobiles, addresses and visit numbers from a seeded generator.
 * Resident IDs and medical record numbers are unique within one generator.
 */
export class ChineseIdentityGenerator {
  private readonly referenceDate: Date;
  private readonly issuedResidentIds = new Set<string>();
  private patientSerial = 0;
  private readonly visitSerials = new Map<string, number>();

  constructor(
    private readonly rng: SeededRandom,
    options: ChineseIdentityGeneratorOptions = {},
  ) {
    this.referenceDate = options.referenceDate ?? DEFAULT_REFERENCE_DATE;
  }

  /** A whole new patient. */
  next(): ChineseIdentity {
    const sex: Sex = this.rng.chance(0.5) ? 'M' : 'F';
    const name = this.name(sex);
    const birthDate = this.birthDate();
    const birthRegion = this.rng.pick(REGIONS);
    // Most patients live where their ID was issued; the rest moved to the city for work.
    const homeRegion = this.rng.chance(0.7) ? birthRegion : this.rng.pick(REGIONS);
    const residentId = this.residentId(birthRegion, birthDate, sex);
    return {
      name,
      sex,
      birthDate,
      residentId,
      mobile: this.mobile(),
      address: this.address(homeRegion),
      mrn: this.medicalRecordNumber(),
    };
  }

  /** A name; one-character given names are commoner among older people but occur at every age. */
  name(sex: Sex = this.rng.chance(0.5) ? 'M' : 'F'): PersonName {
    const family = this.rng.weighted(SURNAMES);
    const pool = sex === 'M' ? GIVEN_MALE : GIVEN_FEMALE;
    const first = this.rng.chance(0.2) ? this.rng.pick(GIVEN_EITHER) : this.rng.pick(pool);
    const given = this.rng.chance(0.3) ? first : first + this.rng.pick(pool);
    return { family, given, full: family + given };
  }

  /** An 11-digit mobile number on a real carrier prefix. */
  mobile(): string {
    return this.rng.pick(MOBILE_PREFIXES) + this.rng.digits(8);
  }

  /** An address in `region` (random if omitted). */
  address(region: Region = this.rng.pick(REGIONS)): ChineseAddress {
    let street = `${this.rng.pick(region.streets)}${this.rng.int(1, 399)}号`;
    // Residential compounds: building, unit, floor and room; the rest are street numbers.
    if (this.rng.chance(0.6)) {
      const floor = this.rng.int(1, 28);
      street += `${this.rng.int(1, 20)}栋${this.rng.int(1, 6)}单元${floor}${String(this.rng.int(1, 4)).padStart(2, '0')}室`;
    }
    const cityPart = region.city === region.province ? region.province : region.province + region.city;
    return { region, street, full: cityPart + region.district + street };
  }

  /**
   * A visit number: ZY (inpatient) + year + 6 digits, MZ (outpatient) / JZ (emergency) +
   * date + 5 digits; unique within this generator.
   * @param at the visit's start, taken as China Standard Time.
   */
  visitNumber(patientClass: PatientClass, at: Date): string {
    const local = new Date(at.getTime() + 8 * 3600_000);
    const ymd = local.toISOString().slice(0, 10).replaceAll('-', '');
    const scope = patientClass === 'I' ? `${VISIT_PREFIX.I}${ymd.slice(0, 4)}` : `${VISIT_PREFIX[patientClass]}${ymd}`;
    const serial = (this.visitSerials.get(scope) ?? 0) + 1;
    this.visitSerials.set(scope, serial);
    return scope + String(serial).padStart(patientClass === 'I' ? 6 : 5, '0');
  }

  private birthDate(): string {
    const [minAge, maxAge] = this.rng.weighted(AGE_BANDS);
    const age = this.rng.int(minAge, maxAge);
    const daysBack = age * 365 + this.rng.int(0, 364);
    const date = new Date(this.referenceDate.getTime() - daysBack * 86_400_000);
    return date.toISOString().slice(0, 10).replaceAll('-', '');
  }

  private residentId(region: Region, birthDate: string, sex: Sex): string {
    for (;;) {
      // The 3-digit sequence is odd for men and even for women; 000 is never issued.
      const sequence = sex === 'M' ? this.rng.int(0, 499) * 2 + 1 : this.rng.int(1, 499) * 2;
      const first17 = region.code + birthDate + String(sequence).padStart(3, '0');
      const id = first17 + residentIdCheckCharacter(first17);
      if (!this.issuedResidentIds.has(id)) {
        this.issuedResidentIds.add(id);
        return id;
      }
    }
  }

  private medicalRecordNumber(): string {
    // Multiplying by a constant coprime to 9e8 is a bijection on 0..9e8-1: numbers look
    // scattered, as real ones do after years of use, yet never repeat.
    const serial = this.patientSerial++;
    return String(100_000_000 + ((serial * 48_271 + 7_654_321) % 900_000_000));
  }
}
