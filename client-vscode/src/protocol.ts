// Names and payloads of the codesum server's protocol extensions. Pure (no `vscode` import).

/** Server commands (workspace/executeCommand). */
export const SERVER_SUMMARIZE_FILE = 'codesum.summarizeFile';
export const SERVER_SUMMARIZE_WORKSPACE = 'codesum.summarizeWorkspace';

/**
 * Client -> server notification: the lines of a document that are on screen, so their summaries are computed first.
 * Params: {uri, ranges: [{start: {line}, end: {line}}]} (0-based lines, end inclusive).
 */
export const NOTIFY_VISIBLE_RANGES = 'codesum/visibleRanges';

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
