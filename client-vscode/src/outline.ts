// The markdown outline of `lenscribe.summarizeFile`'s result. Pure (no `vscode` import).

export interface SummaryItem {
  name?: string;
  kind?: string;
  summary?: string;
  /** 0-based line of the definition, when the server gives one. */
  line?: number;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The 0-based start line of an item in any of the shapes a server may use: line, start.line, range.start.line, start[0]. */
function lineOf(item: Record<string, unknown>): number | undefined {
  if (typeof item.line === 'number') {
    return item.line;
  }
  const start = item.start ?? asRecord(item.range)?.start;
  if (Array.isArray(start) && typeof start[0] === 'number') {
    return start[0];
  }
  const rec = asRecord(start);
  return typeof rec?.line === 'number' ? rec.line : undefined;
}

/** The summaries of a result: `result.summaries` (or the result itself when it is an array). */
export function summariesOf(result: unknown): SummaryItem[] {
  const list = Array.isArray(result) ? result : asRecord(result)?.summaries;
  if (!Array.isArray(list)) {
    return [];
  }
  return list.map((raw): SummaryItem => {
    const item = asRecord(raw) ?? {};
    return {
      name: typeof item.name === 'string' ? item.name : undefined,
      kind: typeof item.kind === 'string' ? item.kind : undefined,
      summary: typeof item.summary === 'string' ? item.summary : undefined,
      line: lineOf(item),
    };
  });
}

/**
 * The outline to show for a summarizeFile result: the server's markdown (`markdown` or `outline` field, or the
 * result itself when it is a string); else one built from the summaries.
 */
export function outlineMarkdown(result: unknown, fileLabel: string): string {
  if (typeof result === 'string') {
    return result;
  }
  const rec = asRecord(result);
  for (const key of ['markdown', 'outline']) {
    const value = rec?.[key];
    if (typeof value === 'string' && value.trim() !== '') {
      return value;
    }
  }
  const items = summariesOf(result);
  const lines = [`# ${fileLabel}`, ''];
  if (items.length === 0) {
    lines.push('_No functions or classes to summarize._', '');
  }
  for (const item of items) {
    const where = item.line !== undefined ? ` (line ${item.line + 1})` : '';
    lines.push(`## ${item.kind ? `${item.kind} ` : ''}\`${item.name ?? '?'}\`${where}`, '');
    lines.push((item.summary ?? '').trim() || '_(no summary)_', '');
  }
  return lines.join('\n');
}

/** One line for the result of lenscribe.summarizeWorkspace (the server's WorkspaceReport, or {error}). */
export function describeWorkspaceResult(result: unknown): { ok: boolean; text: string } {
  const rec = asRecord(result);
  if (rec === undefined) {
    return { ok: true, text: 'workspace summarized.' };
  }
  if (typeof rec.error === 'string') {
    return { ok: false, text: `workspace summarize failed: ${rec.error}` };
  }
  const num = (key: string): number | undefined => (typeof rec[key] === 'number' ? rec[key] : undefined);
  const plural = (n: number, one: string, many: string): string => `${n} ${n === 1 ? one : many}`;
  const parts: string[] = [];
  const files = num('files');
  if (files !== undefined) {
    parts.push(plural(files, 'file', 'files'));
  }
  const chunks = num('chunks');
  if (chunks !== undefined) {
    parts.push(plural(chunks, 'function or class', 'functions and classes'));
  }
  const details: string[] = [];
  for (const [key, label] of [
    ['summarized', 'summarized'],
    ['cached', 'cached'],
    ['failed', 'failed'],
    ['skipped', 'files skipped'],
  ] as const) {
    const n = num(key);
    if (n !== undefined && (n > 0 || key === 'summarized')) {
      details.push(`${n} ${label}`);
    }
  }
  const seconds = num('seconds');
  let text = parts.length > 0 ? parts.join(', ') : 'done';
  if (details.length > 0) {
    text += ` (${details.join(', ')})`;
  }
  if (seconds !== undefined) {
    text += ` in ${seconds.toFixed(1)} s`;
  }
  return rec.cancelled === true ? { ok: true, text: `workspace summarize cancelled: ${text}.` } : { ok: true, text: `workspace summarized: ${text}.` };
}
