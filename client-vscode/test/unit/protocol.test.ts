import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { visibleRangesParams } from '../../src/protocol';

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
