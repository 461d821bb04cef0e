import t from 'tap';
import { opaqueString, saslprep } from '../../src/stun/saslprep.js';

t.test('SASLprep: the RFC 4013 §3 examples', async (t) => {
  t.equal(saslprep('I\u00adX'), 'IX', 'SOFT HYPHEN mapped to nothing');
  t.equal(saslprep('user'), 'user', 'no transformation');
  t.equal(saslprep('USER'), 'USER', 'case preserved');
  t.equal(saslprep('\u00aa'), 'a', 'NFKC');
  t.equal(saslprep('\u2168'), 'IX', 'NFKC, matches example 1');
  t.equal(saslprep('\u0007'), undefined, 'prohibited character');
});

t.test('SASLprep: RFC 4013 §3 example 7 (bidirectional check)', { todo: 'saslprep.ts has no RFC 3454 §6 bidi check' }, async (t) => {
  t.equal(saslprep('\u0627\u0031'), undefined);
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
