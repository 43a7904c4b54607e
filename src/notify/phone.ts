/**
 * Phone numbers are stored and sent in E.164 (`+8613800000001`): Twilio refuses anything else (21211).
 * libphonenumber-js is not among the project's packages, so this is a small strict rule for what Duban
 * meets in practice — mainland mobiles and landlines, and numbers already written in E.164:
 *
 * - `13800000001`, `138 0000 0001`, `138-0000-0001`, `+86 138 0000 0001`, `0086…`, `86…` → `+8613800000001`
 *   (an 11-digit mainland mobile starts with 1 and a second digit 3–9);
 * - `010-12345678`, `0571-8765432` (0 + area code + 7–8 digits) → `+861012345678`, `+865718765432`;
 * - `+<country><number>` with 8–15 digits in all, for numbers outside the mainland, kept as typed.
 *
 * Anything else is refused: a number that cannot be normalized cannot receive an alert.
 */
const SEPARATORS = /[\s\-().\u00a0\u3000]/g;
const MOBILE = /^1[3-9]\d{9}$/;
const LANDLINE = /^0(10|2\d|[3-9]\d{2})(\d{7,8})$/; // Beijing 10, 2x, then three-digit area codes
const E164 = /^\+[1-9]\d{7,14}$/;

/** The number in E.164, or null when it cannot be normalized. */
export function normalizePhone(input: string): string | null {
  if (typeof input !== 'string' || input.length > 40) return null;
  // Full-width digits and plus signs (from Chinese input methods) become ASCII.
  let s = input.normalize('NFKC').replace(SEPARATORS, '');
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  if (s.startsWith('+86')) return mainland(s.slice(3), true);
  if (s.startsWith('+')) return E164.test(s) ? s : null;
  if (!/^\d+$/.test(s)) return null;
  if (s.length === 13 && s.startsWith('86')) return mainland(s.slice(2), true);
  return mainland(s, false);
}

function mainland(national: string, international: boolean): string | null {
  if (MOBILE.test(national)) return `+86${national}`;
  // Written internationally a landline drops its trunk 0 (+86 10 12345678), though some keep it (+86 010 …).
  const landline = LANDLINE.exec(national.startsWith('0') || !international ? national : `0${national}`);
  return landline ? `+86${landline[1]}${landline[2]}` : null;
}

/** Shown to those who may not read it: the country and first digits, then ****, then the last four. */
export function maskPhone(phone: string): string {
  if (phone.length <= 8) return '****';
  return `${phone.slice(0, phone.length - 8)}****${phone.slice(-4)}`;
}
