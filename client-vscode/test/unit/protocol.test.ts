import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { summaryOf, summaryTarget, visibleRangesParams } from '../../src/protocol';

const r = (a: number, b: number) => ({ start: { line: a }, end: { line: b } });

describe('visibleRangesParams', () => {
  it('sorts and merges overlapping or touching ranges', () => {
    assert.deepEqual(visibleRangesParams('file:///a.py', [r(40, 60), r(0, 10), r(11, 20), r(55, 70)]), {
      uri: 'file:///a.py',
      ranges: [r(0, 20), r(40, 70)],
    });
  });
  it('keeps separate ranges apart (folded regions) and normalises reversed ones', () => {
    assert.deepEqual(visibleRangesParams('u', [r(30, 25), r(0, 5)]).ranges, [r(0, 5), r(25, 30)]);
    assert.deepEqual(visibleRangesParams('u', []).ranges, []);
  });
});

describe('summaryTarget', () => {
  it('reads the server\'s copy arguments, with or without the summary', () => {
    assert.deepEqual(summaryTarget(['file:///a.py', 4, 8, 'Add two numbers.']), {
      uri: 'file:///a.py', line: 4, character: 8, summary: 'Add two numbers.',
    });
    assert.deepEqual(summaryTarget(['file:///a.py', 4, 8, null]), { uri: 'file:///a.py', line: 4, character: 8 });
    assert.deepEqual(summaryTarget(['file:///a.py', 4]), { uri: 'file:///a.py', line: 4, character: 0 });
  });
  it('is undefined without a uri and line (the palette)', () => {
    assert.equal(summaryTarget([]), undefined);
    assert.equal(summaryTarget([{ uri: 'x' }]), undefined);
    assert.equal(summaryTarget(['file:///a.py', -1, 0]), undefined);
  });
});

describe('summaryOf', () => {
  it('returns the summary or says why there is none', () => {
    assert.deepEqual(summaryOf({ qualname: 'add', summary: 'Add.' }), { summary: 'Add.', qualname: 'add', error: '' });
    assert.deepEqual(summaryOf({ qualname: 'add', summary: null, error: 'model unavailable: x' }), {
      qualname: 'add', error: 'model unavailable: x',
    });
    assert.deepEqual(summaryOf(null), { error: 'no function or class at the cursor' });
  });
});
