// Generalisation: a coarser value that is still useful for statistics (age bands,
// regional counts) but no longer points at one person. Anything that cannot be read
// as a date or an address becomes "" rather than leaving as it came: a value the
// policy meant to coarsen never leaves fine-grained by accident.
//
//   date     19850317 / 19850317083000+0800 → 1985 (year) or 198503 (month)
//            1985-03-17[T…] → 1985 or 1985-03;  1985/03/17 → 1985 or 1985/03
//   address  浙江省杭州市西湖区文三路 → 浙江省杭州市;  北京市朝阳区建国路88号 → 北京市;
//            广西壮族自治区南宁市青秀区… → 广西壮族自治区南宁市;  北京朝阳区… → 北京市

export type DatePrecision = 'year' | 'month';

const HL7_DATE = /^(\d{4})(\d{2})?(\d{2})?(?:\d{2,6}(?:\.\d{1,4})?)?(?:[+-]\d{4})?$/;
const SEPARATED_DATE = /^(\d{4})([-/.])(\d{1,2})(?:\2(\d{1,2}))?(?:[T ].*)?$/;

/** True when the value reads as a date (HL7 DT/DTM, ISO 8601, or YYYY/MM/DD). */
export function looksLikeDate(value: string): boolean {
  return readDate(value.trim()) !== undefined;
}

/** The year or year and month of a date, in the value's own style; "" when it is not a date. */
export function generalizeDate(value: string, precision: DatePrecision): string {
  const date = readDate(value.trim());
  if (date === undefined) return '';
  if (precision === 'year' || date.month === undefined) return date.year;
  return date.separator === undefined ? `${date.year}${date.month}` : `${date.year}${date.separator}${date.month}`;
}

function readDate(value: string): { year: string; month?: string; separator?: string } | undefined {
  const hl7 = HL7_DATE.exec(value);
  if (hl7) {
    const [, year, month] = hl7;
    if (!plausibleYear(year!) || (month !== undefined && !plausibleMonth(month))) return undefined;
    return month === undefined ? { year: year! } : { year: year!, month };
  }
  const separated = SEPARATED_DATE.exec(value);
  if (separated) {
    const [, year, separator, month] = separated;
    const mm = month!.padStart(2, '0');
    if (!plausibleYear(year!) || !plausibleMonth(mm)) return undefined;
    return { year: year!, month: mm, separator: separator! };
  }
  return undefined;
}

function plausibleYear(year: string): boolean {
  const y = Number(year);
  return y >= 1800 && y <= 2199;
}

function plausibleMonth(month: string): boolean {
  const m = Number(month);
  return m >= 1 && m <= 12;
}

const MUNICIPALITIES = ['北京', '上海', '天津', '重庆'];
const PROVINCE = /^(\p{Script=Han}{2,4}?省|\p{Script=Han}{2,10}?自治区|\p{Script=Han}{2,3}特别行政区)/u;
const CITY = /^(\p{Script=Han}{1,8}?)(自治州|地区|盟|市)/u;
/** Characters of a district, street or house, never of a city name: "朝阳区望京市场" has no city. */
const BELOW_CITY = /[区县旗路街道巷弄号村镇乡]/u;

/**
 * The province and city (prefecture level) an address starts with: "浙江省杭州市",
 * "北京市" for the municipalities, just the province when no city follows it, ""
 * when the text does not start like a Chinese address.
 */
export function generalizeAddress(value: string): string {
  const text = value.trim();
  for (const city of MUNICIPALITIES) {
    if (text.startsWith(city)) return `${city}市`;
  }
  const province = PROVINCE.exec(text)?.[1] ?? '';
  // A special administrative region has no prefecture-level city in the address.
  if (province.endsWith('特别行政区')) return province;
  const city = CITY.exec(text.slice(province.length));
  return city && !BELOW_CITY.test(city[1]!) ? province + city[0] : province;
}
