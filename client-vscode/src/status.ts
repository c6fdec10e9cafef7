// The status-bar item's model: server state plus the server's work-done progress, rendered to text.
// Pure (no `vscode` import) so the unit tests can drive it.

export type ServerState = 'stopped' | 'starting' | 'running' | 'failed';

export interface ProgressEntry {
  title: string;
  message?: string;
  percentage?: number;
  cancellable: boolean;
}

export interface StatusView {
  text: string;
  tooltip: string;
  /** 'error' paints the item with the error background. */
  severity: 'normal' | 'warning' | 'error';
}

type Token = string | number;

export class StatusModel {
  private state: ServerState = 'stopped';
  private detail = '';
  private readonly progress = new Map<Token, ProgressEntry>();
  private readonly listeners: Array<() => void> = [];

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const l of this.listeners) {
      l();
    }
  }

  get serverState(): ServerState {
    return this.state;
  }

  setState(state: ServerState, detail = ''): void {
    this.state = state;
    this.detail = detail;
    if (state !== 'running') {
      this.progress.clear();
    }
    this.changed();
  }

  begin(token: Token, value: { title?: string; message?: string; percentage?: number; cancellable?: boolean }): void {
    this.progress.set(token, {
      title: value.title ?? 'working',
      message: value.message,
      percentage: value.percentage,
      cancellable: value.cancellable === true,
    });
    this.changed();
  }

  report(token: Token, value: { message?: string; percentage?: number; cancellable?: boolean }): void {
    const entry = this.progress.get(token);
    if (entry === undefined) {
      return;
    }
    if (value.message !== undefined) {
      entry.message = value.message;
    }
    if (value.percentage !== undefined) {
      entry.percentage = value.percentage;
    }
    if (value.cancellable !== undefined) {
      entry.cancellable = value.cancellable;
    }
    this.changed();
  }

  end(token: Token): void {
    if (this.progress.delete(token)) {
      this.changed();
    }
  }

  /** Tokens of running progress that the server lets the user cancel. */
  cancellable(): Token[] {
    return [...this.progress.entries()].filter(([, e]) => e.cancellable).map(([t]) => t);
  }

  busy(): boolean {
    return this.progress.size > 0;
  }

  view(): StatusView {
    return renderStatus(this.state, this.detail, [...this.progress.values()]);
  }
}

function clampPercent(p: number): number {
  return Math.max(0, Math.min(100, Math.round(p)));
}

/** The status-bar text and tooltip for a state and the running progress (newest last). */
export function renderStatus(state: ServerState, detail: string, progress: ProgressEntry[]): StatusView {
  const name = 'Lenscribe';
  switch (state) {
    case 'stopped':
      return { text: `$(circle-slash) ${name}`, tooltip: `${name}: server stopped${detail ? ` (${detail})` : ''} — click for actions`, severity: 'warning' };
    case 'failed':
      return { text: `$(error) ${name}`, tooltip: `${name}: server failed${detail ? `: ${detail}` : ''} — click for actions`, severity: 'error' };
    case 'starting':
      return { text: `$(sync~spin) ${name}`, tooltip: `${name}: starting the server${detail ? ` (${detail})` : ''}`, severity: 'normal' };
    case 'running':
      break;
  }
  if (progress.length === 0) {
    return { text: `$(check) ${name}`, tooltip: `${name}: ready${detail ? ` (${detail})` : ''} — click for actions`, severity: 'normal' };
  }
  const current = progress[progress.length - 1];
  let text = `$(sync~spin) ${name}: ${current.title}`;
  if (current.message) {
    text += ` ${current.message}`;
  }
  if (current.percentage !== undefined) {
    text += ` (${clampPercent(current.percentage)}%)`;
  }
  const lines = progress.map((p) => {
    let line = p.title;
    if (p.message) {
      line += `: ${p.message}`;
    }
    if (p.percentage !== undefined) {
      line += ` (${clampPercent(p.percentage)}%)`;
    }
    return line;
  });
  const more = progress.length > 1 ? ` (+${progress.length - 1})` : '';
  return { text: text + more, tooltip: `${name}: ${lines.join('\n')}`, severity: 'normal' };
}
