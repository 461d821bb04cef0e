/**
 * Password preparation for STUN keys: SASLprep (RFC 4013, used by RFC 5389) and the PRECIS
 * OpaqueString profile (RFC 8265 §4.2, used by RFC 8489). Both return undefined for input the
 * profile prohibits, so callers decide whether to reject or fall back.
 */

// RFC 3454 C.1.2: non-ASCII space characters, mapped to U+0020 by SASLprep.
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
// RFC 8265 §4.2.1: OpaqueString maps only general category Zs. That is C.1.2 without U+200B
// ZERO WIDTH SPACE (Cf), which is default-ignorable and therefore disallowed instead.
const ZS_NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
// RFC 3454 B.1: "commonly mapped to nothing" (SASLprep removes these).
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
// Controls (C.2.1, C.2.2), private use (C.3), non-characters (C.4), surrogates handled by JS, and
// the inappropriate/display-changing characters (C.5–C.9) of RFC 3454.
const SASL_PROHIBITED =
  /[\u0000-\u001F\u007F-\u009F\u06DD\u070F\u180E\u200C-\u200F\u2028-\u202E\u2060-\u2063\u206A-\u206F\uFEFF\uFFF9-\uFFFD\uE000-\uF8FF\uFDD0-\uFDEF\uFFFE\uFFFF\u0340\u0341\u2FF0-\u2FFB]/;
// RFC 8264 §9: FreeformClass disallows controls and default-ignorable code points.
const OPAQUE_DISALLOWED =
  /[\u0000-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8]/;

/** RFC 4013 SASLprep: map spaces and ignorables, NFKC, reject prohibited output; undefined if rejected. */
export function saslprep(input: string): string | undefined {
  const out = input.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  if (SASL_PROHIBITED.test(out)) return undefined;
  return out;
}

/** RFC 8265 §4.2 OpaqueString: map non-ASCII spaces to U+0020, NFC, reject empty or disallowed. */
export function opaqueString(input: string): string | undefined {
  const out = input.replace(ZS_NON_ASCII_SPACE, ' ').normalize('NFC');
  if (out.length === 0 || OPAQUE_DISALLOWED.test(out)) return undefined;
  return out;
}
