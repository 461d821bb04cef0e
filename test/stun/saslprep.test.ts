import t from 'tap';
import { spawnSync } from 'node:child_process';
import { opaqueString, saslprep } from '../../src/stun/saslprep.js';
import { isLCat, isRandALCat } from '../../src/stun/stringprep-bidi.js';

/** Prints RFC 3454's tables D.1, D.2, C.2.1–C.9 and B.1 + C.1.2 as JSON lists of [first, last] ranges. */
const PYTHON_TABLES = `
import json, stringprep as s
def ranges(f):
    out, start = [], None
    for cp in range(0x110000):
        v = not 0xD800 <= cp <= 0xDFFF and f(chr(cp))
        if v and start is None: start = cp
        if not v and start is not None: out.append([start, cp - 1]); start = None
    if start is not None: out.append([start, 0x10FFFF])
    return out
prohibited = lambda c: any(f(c) for f in (s.in_table_c21_c22, s.in_table_c3, s.in_table_c4, s.in_table_c5,
    s.in_table_c6, s.in_table_c7, s.in_table_c8, s.in_table_c9))
print(json.dumps({'d1': ranges(s.in_table_d1), 'd2': ranges(s.in_table_d2), 'prohibited': ranges(prohibited),
    'mapped': ranges(lambda c: s.in_table_b1(c) or s.in_table_c12(c))}))
`;

t.test('SASLprep: the RFC 4013 §3 examples', async (t) => {
  t.equal(saslprep('I\u00adX'), 'IX', 'SOFT HYPHEN mapped to nothing');
  t.equal(saslprep('user'), 'user', 'no transformation');
  t.equal(saslprep('USER'), 'USER', 'case preserved');
  t.equal(saslprep('\u00aa'), 'a', 'NFKC');
  t.equal(saslprep('\u2168'), 'IX', 'NFKC, matches example 1');
  t.equal(saslprep('\u0007'), undefined, 'prohibited character');
});

t.test('SASLprep: the bidirectional check (RFC 3454 §6, RFC 4013 §2.4)', async (t) => {
  t.equal(saslprep('\u0627\u0031'), undefined, 'RFC 4013 §3 example 7: RandALCat first, but a digit last');
  t.equal(saslprep('\u0031\u0627'), undefined, 'RandALCat last, but a digit first');
  t.equal(saslprep('\u0627\u0031\u0628'), '\u0627\u0031\u0628', 'digits between right-to-left letters');
  t.equal(saslprep('\u05e9\u05dc\u05d5\u05dd'), '\u05e9\u05dc\u05d5\u05dd', 'Hebrew only');
  t.equal(saslprep('\u0627'), '\u0627', 'one RandALCat character is first and last');
  t.equal(saslprep('\u0627a\u0628'), undefined, 'an LCat letter between right-to-left letters');
  t.equal(saslprep('\u05d0\u{20000}\u05d0'), undefined, 'an LCat character outside the BMP (a CJK Extension B ideograph)');
  t.equal(saslprep('a\u0627'), undefined, 'left-to-right, then right-to-left');
  t.equal(saslprep('\u200f\u0627'), undefined, 'RIGHT-TO-LEFT MARK is RandALCat but prohibited (C.8, rule 1)');
  t.equal(saslprep('a1 b'), 'a1 b', 'no RandALCat: no bidi rule applies');
});

t.test('SASLprep: prohibited code points outside the BMP and lone surrogates (RFC 3454 C.2.2–C.9)', async (t) => {
  const prohibited: [string, string][] = [
    ['a\u{1d173}b', 'C.2.2 MUSICAL SYMBOL BEGIN BEAM'],
    ['\u{f0000}', 'C.3 supplementary private use area A'],
    ['\u{10fffd}', 'C.3 supplementary private use area B'],
    ['\u{1fffe}', 'C.4 non-character'],
    ['\u{10ffff}', 'C.4 non-character'],
    ['a\ud800b', 'C.5 a lone high surrogate'],
    ['a\udc00', 'C.5 a lone low surrogate'],
    ['a\u{e0001}', 'C.9 LANGUAGE TAG'],
    ['a\u{e0041}', 'C.9 TAG LATIN CAPITAL LETTER A'],
  ];
  for (const [s, why] of prohibited) t.equal(saslprep(s), undefined, why);
  t.equal(saslprep('a\u{10000}'), 'a\u{10000}', 'a surrogate pair is one code point, not C.5');
  t.equal(saslprep('\u{1f600}'), '\u{1f600}', 'unassigned in Unicode 3.2: allowed in a query (RFC 4013 §2.5)');
});

// Python's standard library implements RFC 3454's tables from its own Unicode 3.2 database: an
// independent source. Without python3 there is nothing to compare with.
const oracle = spawnSync('python3', ['-c', PYTHON_TABLES], { encoding: 'utf8', maxBuffer: 1 << 24 });
const oracleMissing =
  oracle.error || oracle.status !== 0 ? `python3 with its stringprep module is not available (${oracle.error?.message ?? oracle.stderr.trim()})` : false;

t.test('SASLprep: tables D.1, D.2 and C.2–C.9 agree with Python\'s stringprep module at every code point', { skip: oracleMissing }, async (t) => {
  const tables = JSON.parse(oracle.stdout) as Record<'d1' | 'd2' | 'prohibited' | 'mapped', Array<[number, number]>>;
  const inTable = (ranges: Array<[number, number]>) => {
    const set = new Set<number>();
    for (const [from, to] of ranges) for (let cp = from; cp <= to; cp++) set.add(cp);
    return set;
  };
  const [d1, d2, prohibited, mapped] = [inTable(tables.d1), inTable(tables.d2), inTable(tables.prohibited), inTable(tables.mapped)];
  t.ok(d1.has(0x0627) && d2.has(0x41) && prohibited.has(0xe0001), 'the oracle answers');
  const wrong: Record<string, string[]> = { d1: [], d2: [], prohibited: [] };
  let compared = 0;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    if (isRandALCat(cp) !== d1.has(cp)) wrong.d1!.push(cp.toString(16));
    if (isLCat(cp) !== d2.has(cp)) wrong.d2!.push(cp.toString(16));
    const ch = String.fromCodePoint(cp);
    // Only code points SASLprep passes through unchanged test the prohibition table alone.
    if (mapped.has(cp) || ch.normalize('NFKC') !== ch) continue;
    compared++;
    if ((saslprep(ch) === undefined) !== prohibited.has(cp)) wrong.prohibited!.push(cp.toString(16));
  }
  t.ok(compared > 1_000_000, `compared ${compared} unmapped code points`);
  t.same(wrong.d1!.slice(0, 20), [], 'D.1 RandALCat');
  t.same(wrong.d2!.slice(0, 20), [], 'D.2 LCat');
  t.same(wrong.prohibited!.slice(0, 20), [], 'C.2.1–C.9 prohibited output');
});

t.test('SASLprep: the RFC 5769 §2.4 password', async (t) => {
  t.equal(saslprep('The\u00adM\u00aatr\u2168'), 'TheMatrIX');
  t.equal(saslprep('VOkJxbRl1RmTxUk/WvJxBt'), 'VOkJxbRl1RmTxUk/WvJxBt', 'ASCII is unchanged');
});

t.test('SASLprep: mapping and prohibited output (RFC 3454 tables used by RFC 4013 §2)', async (t) => {
  t.equal(saslprep('a\u00a0b'), 'a b', 'C.1.2 non-ASCII space → SPACE');
  t.equal(saslprep('a\u3000b'), 'a b', 'IDEOGRAPHIC SPACE → SPACE');
  t.equal(saslprep('a\u200db'), 'ab', 'B.1 ZERO WIDTH JOINER → nothing');
  t.equal(saslprep('a\ufeffb'), 'ab', 'B.1 ZERO WIDTH NO-BREAK SPACE → nothing');
  t.equal(saslprep('\ufb01'), 'fi', 'NFKC ligature');
  t.equal(saslprep('\uff21'), 'A', 'NFKC fullwidth');
  t.equal(saslprep(''), '', 'empty is not prohibited by SASLprep itself');
  const prohibited: [string, string][] = [
    ['\u0000', 'C.2.1 NUL'],
    ['a\u007fb', 'C.2.1 DEL'],
    ['a\u0085b', 'C.2.2 NEL'],
    ['a\u2028b', 'C.2.2 LINE SEPARATOR'],
    ['\ue000', 'C.3 private use'],
    ['\ufdd0', 'C.4 non-character'],
    ['\uffff', 'C.4 non-character'],
    ['\ufffd', 'C.6 REPLACEMENT CHARACTER'],
    ['\u2ff0', 'C.7 ideographic description'],
    ['a\u200eb', 'C.8 LEFT-TO-RIGHT MARK'],
    ['a\u202eb', 'C.8 RIGHT-TO-LEFT OVERRIDE'],
  ];
  for (const [s, why] of prohibited) t.equal(saslprep(s), undefined, why);
});

t.test('OpaqueString: the RFC 8265 §4.2 rules', async (t) => {
  t.equal(opaqueString('correct horse battery staple'), 'correct horse battery staple');
  t.equal(opaqueString('Correct Horse Battery Staple'), 'Correct Horse Battery Staple', 'no case mapping');
  t.equal(opaqueString('\u03c0\u00df\u00e5'), '\u03c0\u00df\u00e5', 'non-ASCII letters are fine');
  t.equal(opaqueString('Jack of \u2666s'), 'Jack of \u2666s', 'symbols are fine');
  t.equal(opaqueString('foo\u1680bar'), 'foo bar', 'OGHAM SPACE MARK (Zs) → SPACE');
  t.equal(opaqueString('a\u00a0b\u3000c'), 'a b c', 'other Zs spaces → SPACE');
  t.equal(opaqueString('e\u0301'), '\u00e9', 'NFC');
  // NFC, not NFKC: compatibility characters stay (vectors.md pitfall 4).
  t.equal(opaqueString('\u00aa'), '\u00aa');
  t.equal(opaqueString('\u2168'), '\u2168');
  t.equal(opaqueString('\ufb01'), '\ufb01');
  t.equal(opaqueString('TheMatrIX'), 'TheMatrIX');
});

t.test('OpaqueString: disallowed input (RFC 8264 §9 FreeformClass, RFC 8265 §4.2.2)', async (t) => {
  const disallowed: [string, string][] = [
    ['', 'empty'],
    ['my cat is a \u0009by', 'control character (TAB)'],
    ['a\u0000b', 'NUL'],
    ['a\u0085b', 'C1 control'],
    ['The\u00adM\u00aatr\u2168', 'RFC 8489 B.1 raw password: SOFT HYPHEN is default-ignorable'],
    ['a\u00adb', 'SOFT HYPHEN'],
    ['a\u200db', 'ZERO WIDTH JOINER'],
    ['a\ufeffb', 'BOM'],
    ['a\u2060b', 'WORD JOINER'],
    ['a\ufe0fb', 'variation selector'],
    // U+200B is general category Cf, not Zs: it is default-ignorable, so disallowed, and must not
    // be mapped to SPACE like the real spaces above.
    ['a\u200bb', 'ZERO WIDTH SPACE'],
  ];
  for (const [s, why] of disallowed) t.equal(opaqueString(s), undefined, why);
});
