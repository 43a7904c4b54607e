/**
 * Applicant identity numbers, validated by their check characters:
 * 居民身份证号码 (GB 11643, ISO 7064 MOD 11-2) and 统一社会信用代码 (GB 32100).
 */
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

export function residentIdCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]!;
  return ID_CHECK[sum % 11]!;
}

export function isResidentId(value: string): boolean {
  const v = value.toUpperCase();
  if (!/^[1-9]\d{5}(18|19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}[\dX]$/.test(v)) return false;
  const birth = new Date(`${v.slice(6, 10)}-${v.slice(10, 12)}-${v.slice(12, 14)}T00:00:00Z`);
  if (Number.isNaN(birth.getTime()) || birth.toISOString().slice(0, 10) !== `${v.slice(6, 10)}-${v.slice(10, 12)}-${v.slice(12, 14)}`) return false;
  return residentIdCheck(v) === v[17];
}

const USCC_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

export function usccCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_CHARS.indexOf(first17[i]!) * USCC_WEIGHTS[i]!;
  const c = 31 - (sum % 31);
  return USCC_CHARS[c === 31 ? 0 : c]!;
}

export function isUscc(value: string): boolean {
  const v = value.toUpperCase();
  if (!/^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/.test(v)) return false;
  return usccCheck(v) === v[17];
}

export type IdType = 'resident_id' | 'uscc';

/** The reason an identity number is invalid, or undefined when it is valid. */
export function identityProblem(idType: IdType, idNumber: string): string | undefined {
  if (idType === 'resident_id') return isResidentId(idNumber) ? undefined : '居民身份证号码无效 (invalid resident ID number: format, birth date or check digit)';
  return isUscc(idNumber) ? undefined : '统一社会信用代码无效 (invalid unified social credit code: format or check character)';
}
