// Names and payloads of the lenscribe server's protocol extensions. Pure (no `vscode` import).

/** Server commands (workspace/executeCommand). */
export const SERVER_SUMMARIZE_FILE = 'lenscribe.summarizeFile';
export const SERVER_SUMMARIZE_WORKSPACE = 'lenscribe.summarizeWorkspace';

/**
 * Client -> server notification: the lines of a document that are on screen, so their summaries are computed first.
 * Params: {uri, ranges: [{start: {line}, end: {line}}]} (0-based lines, end inclusive).
 */
export const NOTIFY_VISIBLE_RANGES = 'lenscribe/visibleRanges';

export interface LineRange {
  start: { line: number };
  end: { line: number };
}

export interface VisibleRangesParams {
  uri: string;
  ranges: LineRange[];
}

/** The notification's params for an editor's visible ranges: sorted, overlapping or touching ranges merged. */
export function visibleRangesParams(uri: string, ranges: ReadonlyArray<LineRange>): VisibleRangesParams {
  const sorted = ranges
    .map((r) => ({ start: Math.max(0, Math.min(r.start.line, r.end.line)), end: Math.max(0, r.start.line, r.end.line) }))
    .sort((a, b) => a.start - b.start);
  const merged: Array<{ start: number; end: number }> = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.start <= last.end + 1) {
      last.end = Math.max(last.end, r.end);
    } else {
      merged.push({ ...r });
    }
  }
  return { uri, ranges: merged.map((r) => ({ start: { line: r.start }, end: { line: r.end } })) };
}

/** Server commands behind the code actions; each takes (uri, line, character) (UTF-16 columns from VS Code). */
export const SERVER_INSERT_DOCSTRING = 'lenscribe.insertDocstring';
export const SERVER_REGENERATE = 'lenscribe.regenerateSummary';
export const SERVER_SUMMARY_AT = 'lenscribe.summaryAt';
/** The client command the server's "Copy summary" code action runs: (uri, line, character, summary | null). */
export const CLIENT_COPY_SUMMARY = 'lenscribe.client.copySummary';

export interface SummaryTarget {
  uri: string;
  line: number;
  character: number;
  /** The summary when the server had it cached; otherwise ask SERVER_SUMMARY_AT. */
  summary?: string;
}

/** The arguments of CLIENT_COPY_SUMMARY as the server sends them, or undefined (e.g. run from the palette). */
export function summaryTarget(args: ReadonlyArray<unknown>): SummaryTarget | undefined {
  const [uri, line, character, summary] = args;
  if (typeof uri !== 'string' || typeof line !== 'number' || !Number.isInteger(line) || line < 0) {
    return undefined;
  }
  const col = typeof character === 'number' && Number.isInteger(character) && character >= 0 ? character : 0;
  return typeof summary === 'string' && summary.trim() !== ''
    ? { uri, line, character: col, summary }
    : { uri, line, character: col };
}

/** The summary text in a SERVER_SUMMARY_AT or SERVER_REGENERATE result, or the reason there is none. */
export function summaryOf(result: unknown): { summary?: string; qualname?: string; error: string } {
  const r = (typeof result === 'object' && result !== null ? result : {}) as Record<string, unknown>;
  const qualname = typeof r.qualname === 'string' ? r.qualname : undefined;
  if (typeof r.summary === 'string' && r.summary.trim() !== '') {
    return { summary: r.summary, qualname, error: '' };
  }
  if (result === null || result === undefined) {
    return { error: 'no function or class at the cursor' };
  }
  return { qualname, error: typeof r.error === 'string' && r.error ? r.error : 'no summary' };
}
