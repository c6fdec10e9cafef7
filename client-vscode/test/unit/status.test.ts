import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { StatusModel, renderStatus } from '../../src/status';

describe('StatusModel', () => {
  it('shows the server state', () => {
    const m = new StatusModel();
    assert.match(m.view().text, /circle-slash/);
    m.setState('starting');
    assert.equal(m.view().text, '$(sync~spin) Lenscribe');
    m.setState('running', 'lenscribe.server.pythonPath');
    assert.equal(m.view().text, '$(check) Lenscribe');
    assert.match(m.view().tooltip, /ready \(lenscribe\.server\.pythonPath\)/);
    m.setState('failed', 'exit code 2');
    assert.equal(m.view().severity, 'error');
    assert.match(m.view().tooltip, /failed: exit code 2/);
  });

  it('follows work-done progress begin, report and end', () => {
    const m = new StatusModel();
    let changes = 0;
    m.onChange(() => changes++);
    m.setState('running');
    m.begin('tok', { title: 'Summarizing workspace', percentage: 0, cancellable: true });
    assert.equal(m.view().text, '$(sync~spin) Lenscribe: Summarizing workspace (0%)');
    assert.ok(m.busy());
    assert.deepEqual(m.cancellable(), ['tok']);
    m.report('tok', { message: '3/10 files', percentage: 30.4 });
    assert.equal(m.view().text, '$(sync~spin) Lenscribe: Summarizing workspace 3/10 files (30%)');
    m.report('other', { message: 'ignored' });
    m.end('tok');
    assert.equal(m.view().text, '$(check) Lenscribe');
    assert.ok(!m.busy());
    assert.equal(changes, 4); // setState, begin, report, end: the unknown token changes nothing
  });

  it('clears progress when the server stops', () => {
    const m = new StatusModel();
    m.setState('running');
    m.begin(1, { title: 'x' });
    m.setState('failed', 'crash');
    assert.ok(!m.busy());
    m.setState('running');
    assert.equal(m.view().text, '$(check) Lenscribe');
  });
});

describe('renderStatus', () => {
  it('shows the newest progress and counts the others', () => {
    const v = renderStatus('running', '', [
      { title: 'Summarizing workspace', percentage: 150, cancellable: false },
      { title: 'Indexing', message: 'a.py', cancellable: false },
    ]);
    assert.equal(v.text, '$(sync~spin) Lenscribe: Indexing a.py (+1)');
    assert.equal(v.tooltip, 'Lenscribe: Summarizing workspace (100%)\nIndexing: a.py');
  });
});
