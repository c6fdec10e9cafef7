import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { describeWorkspaceResult, outlineMarkdown, summariesOf } from '../../src/outline';

describe('outlineMarkdown', () => {
  it("returns the server's markdown when there is one", () => {
    assert.equal(outlineMarkdown({ markdown: '# a.py\n', summaries: [] }, 'a.py'), '# a.py\n');
    assert.equal(outlineMarkdown({ outline: '# b\n' }, 'b'), '# b\n');
    assert.equal(outlineMarkdown('# c\n', 'c'), '# c\n');
  });

  it('builds one from the summaries otherwise', () => {
    const md = outlineMarkdown(
      {
        summaries: [
          { name: 'load', kind: 'function', summary: 'Load the file.\nReturn its rows.', range: { start: { line: 4, character: 0 } } },
          { name: 'Inventory', kind: 'class', summary: '', start: [10, 0] },
        ],
      },
      'src/a.py',
    );
    assert.equal(
      md,
      ['# src/a.py', '', '## function `load` (line 5)', '', 'Load the file.\nReturn its rows.', '', '## class `Inventory` (line 11)', '', '_(no summary)_', ''].join('\n'),
    );
  });

  it('says so when there is nothing to summarize', () => {
    assert.match(outlineMarkdown({ summaries: [] }, 'empty.py'), /No functions or classes/);
    assert.match(outlineMarkdown(null, 'x.py'), /No functions or classes/);
  });
});

describe('summariesOf', () => {
  it('reads line numbers in the shapes a server may use', () => {
    assert.deepEqual(
      summariesOf([{ name: 'a', line: 2 }, { name: 'b', start: { line: 3 } }, { name: 'c' }, 'junk']).map((s) => s.line),
      [2, 3, undefined, undefined],
    );
  });
});

describe('describeWorkspaceResult', () => {
  it("describes the server's workspace report", () => {
    assert.deepEqual(describeWorkspaceResult({ files: 3, skipped: 0, chunks: 12, cached: 2, summarized: 10, failed: 0, seconds: 1.234, cancelled: false }), {
      ok: true,
      text: 'workspace summarized: 3 files, 12 functions and classes (10 summarized, 2 cached) in 1.2 s.',
    });
    assert.deepEqual(describeWorkspaceResult({ files: 1, chunks: 1, summarized: 0, skipped: 2, cancelled: true }), {
      ok: true,
      text: 'workspace summarize cancelled: 1 file, 1 function or class (0 summarized, 2 files skipped).',
    });
  });

  it('reports an error result as a failure', () => {
    assert.deepEqual(describeWorkspaceResult({ error: 'model unavailable: no manifest' }), {
      ok: false,
      text: 'workspace summarize failed: model unavailable: no manifest',
    });
  });

  it('copes with results it does not know', () => {
    assert.deepEqual(describeWorkspaceResult(null), { ok: true, text: 'workspace summarized.' });
    assert.deepEqual(describeWorkspaceResult({}), { ok: true, text: 'workspace summarized: done.' });
  });
});
