/**
 * Password preparation for STUN keys: SASLprep (RFC 4013, used by RFC 5389) and the PRECIS
 * OpaqueString profile (RFC 8265 §4.2, used by RFC 8489). Both return undefined for input the
 * profile prohibits, so callers decide whether to reject or fall back.
 */

import { passesBidiCheck } from './stringprep-bidi.js';

// RFC 3454 C.1.2: non-ASCII space characters, mapped to U+0020 by SASLprep.
const NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200B\u202F\u205F\u3000]/g;
// RFC 8265 §4.2.1: OpaqueString maps only general category Zs. That is C.1.2 without U+200B
// ZERO WIDTH SPACE (Cf), which is default-ignorable and therefore disallowed instead.
const ZS_NON_ASCII_SPACE = /[\u00A0\u1680\u2000-\u200A\u202F\u205F\u3000]/g;
// RFC 3454 B.1: "commonly mapped to nothing" (SASLprep removes these).
const MAPPED_TO_NOTHING = /[\u00AD\u034F\u1806\u180B-\u180D\u200B-\u200D\u2060\uFE00-\uFE0F\uFEFF]/g;
// RFC 3454 C.2–C.9, the output SASLprep prohibits (RFC 4013 §2.3; C.1.2 is mapped away first):
// controls, private use, non-characters, surrogate code points (lone surrogates, in a JS string),
// inappropriate for plain text or canonical representation, display-changing, and tagging.
const SASL_PROHIBITED =
  /[\u0000-\u001F\u007F-\u009F\u0340\u0341\u06DD\u070F\u180E\u200C-\u200F\u2028-\u202E\u2060-\u2063\u206A-\u206F\u2FF0-\u2FFB\uD800-\uF8FF\uFDD0-\uFDEF\uFEFF\uFFF9-\uFFFF\u{1D173}-\u{1D17A}\u{1FFFE}\u{1FFFF}\u{2FFFE}\u{2FFFF}\u{3FFFE}\u{3FFFF}\u{4FFFE}\u{4FFFF}\u{5FFFE}\u{5FFFF}\u{6FFFE}\u{6FFFF}\u{7FFFE}\u{7FFFF}\u{8FFFE}\u{8FFFF}\u{9FFFE}\u{9FFFF}\u{AFFFE}\u{AFFFF}\u{BFFFE}\u{BFFFF}\u{CFFFE}\u{CFFFF}\u{DFFFE}\u{DFFFF}\u{E0001}\u{E0020}-\u{E007F}\u{EFFFE}-\u{10FFFF}]/u;
// RFC 8264 §9: FreeformClass disallows controls and default-ignorable code points.
const OPAQUE_DISALLOWED =
  /[\u0000-\u001F\u007F-\u009F\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8]/;

/**
 * RFC 4013 SASLprep: map spaces and ignorables, NFKC, reject prohibited output and strings that fail
 * the bidirectional check; undefined if rejected. Unassigned code points are allowed (a query, §2.5).
 */
export function saslprep(input: string): string | undefined {
  const out = input.replace(NON_ASCII_SPACE, ' ').replace(MAPPED_TO_NOTHING, '').normalize('NFKC');
  if (SASL_PROHIBITED.test(out) || !passesBidiCheck(out)) return undefined;
  return out;
}

/** RFC 8265 §4.2 OpaqueString: map non-ASCII spaces to U+0020, NFC, reject empty or disallowed. */
export function opaqueString(input: string): string | undefined {
  const out = input.replace(ZS_NON_ASCII_SPACE, ' ').normalize('NFC');
  if (out.length === 0 || OPAQUE_DISALLOWED.test(out)) return undefined;
  return out;
}
