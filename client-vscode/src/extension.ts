import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { execFile, spawn } from 'child_process';
import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  ErrorAction,
  ErrorHandler,
  ErrorHandlerResult,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  Message,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  StaticFeature,
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  DidChangeConfigurationNotification,
  FeatureState,
  ClientCapabilities,
} from 'vscode-languageclient/node';
import { LaunchError, NOT_FOUND, PROBE_ARGS, Probe, ServerLaunch, formatCommand, resolveServerLaunch } from './serverCommand';
import {
  InstallProbe,
  NoPythonError,
  VERSION_PROBE_ARGS,
  findBasePython,
  formatVersion,
  installSteps,
  isOutdated,
  noServerAction,
  parseMarker,
  parseProbeOutput,
  pickWheel,
  pythonCandidates,
  venvLayout,
} from './install';
import { PathContext, SettingGetter, initializationOptions, toServerSettings, trustedSettingGetter } from './settings';
import { StatusModel } from './status';
import { describeWorkspaceResult, outlineMarkdown } from './outline';
import { NOTIFY_VISIBLE_RANGES, SERVER_SUMMARIZE_FILE, SERVER_SUMMARIZE_WORKSPACE, visibleRangesParams } from './protocol';
import { CLIENT_COPY_SUMMARY, SERVER_INSERT_DOCSTRING, SERVER_REGENERATE, SERVER_SUMMARY_AT, summaryOf, summaryTarget } from './protocol';

const SECTION = 'lenscribe';
/** The languages the server's chunker knows (VS Code language ids). */
export const LANGUAGE_IDS = [
  'python',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'go',
  'java',
  'rust',
  'c',
  'cpp',
  'csharp',
  'ruby',
  'php',
];
/** Client commands (the palette). Distinct ids: vscode-languageclient registers the server's own command ids. */
const CMD_SUMMARIZE_FILE = 'lenscribe.client.summarizeFile';
const CMD_SUMMARIZE_WORKSPACE = 'lenscribe.client.summarizeWorkspace';
const CMD_RESTART = 'lenscribe.client.restartServer';
const CMD_SHOW_OUTPUT = 'lenscribe.client.showOutput';
const CMD_MENU = 'lenscribe.client.statusMenu';
const CMD_INSTALL = 'lenscribe.client.installServer';
const CMD_REINSTALL = 'lenscribe.client.reinstallServer';
// The summary actions at the cursor (the server also offers them as code actions: the lightbulb).
const CMD_INSERT_DOCSTRING = 'lenscribe.client.insertDocstring';
const CMD_REGENERATE = 'lenscribe.client.regenerateSummary';
const STOP_TIMEOUT_MS = 5000;
const PROBE_TIMEOUT_MS = 15000;
/** One install step (pip downloading onnxruntime and the tree-sitter grammars on a slow line) at most. */
const INSTALL_STEP_TIMEOUT_MS = 15 * 60 * 1000;
const VISIBLE_RANGES_DELAY_MS = 150;

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<{ client(): LanguageClient | undefined }> {
  controller = new Controller(context);
  await controller.start();
  return { client: () => controller?.client };
}

export async function deactivate(): Promise<void> {
  const c = controller;
  controller = undefined;
  await c?.stop();
}

function pathContext(): PathContext {
  return { home: os.homedir(), workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath, env: process.env };
}

/** Reads `section` settings; in Restricted Mode the workspace's values of settings naming a path or a command
 * (RESTRICTED_SETTINGS, package.json's untrustedWorkspaces.restrictedConfigurations) are ignored. */
function settingGetter(section: string = SECTION): SettingGetter {
  const config = vscode.workspace.getConfiguration(section);
  return trustedSettingGetter(
    (key) => config.get(key),
    (key) => config.inspect(key),
    vscode.workspace.isTrusted,
    section,
  );
}

function serverSettingsFromVscode(): ReturnType<typeof toServerSettings> {
  return toServerSettings(settingGetter(), pathContext());
}

/** Node-side probes for resolveServerLaunch. */
function nodeProbe(output: vscode.OutputChannel): Probe {
  const isFile = (p: string): boolean => {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  };
  return {
    platform: process.platform,
    isFile,
    which(name: string): string | undefined {
      if (name.includes('/') || name.includes('\\')) {
        return isFile(name) ? name : undefined;
      }
      const exts = process.platform === 'win32' ? (process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
      for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
        for (const ext of exts) {
          const candidate = path.join(dir, name + ext);
          if (dir !== '' && isFile(candidate)) {
            return candidate;
          }
        }
      }
      return undefined;
    },
    importError(python: string): Promise<string | undefined> {
      return new Promise((resolve) => {
        execFile(python, [...PROBE_ARGS], { timeout: PROBE_TIMEOUT_MS }, (error, _stdout, stderr) => {
          if (!error) {
            resolve(undefined);
            return;
          }
          const lastLine = stderr.trim().split(/\r?\n/).pop() ?? '';
          const why = (error as NodeJS.ErrnoException).code === 'ENOENT' ? NOT_FOUND : lastLine || error.message;
          output.appendLine(`[lenscribe] probe ${python}: ${why}`);
          resolve(why);
        });
      });
    },
  };
}

/** Node-side probes for findBasePython. */
function nodeInstallProbe(output: vscode.OutputChannel): InstallProbe {
  const probe = nodeProbe(output);
  return {
    platform: process.platform,
    which: (name) => probe.which(name),
    pythonInfo(python: string) {
      return new Promise((resolve) => {
        execFile(python, [...VERSION_PROBE_ARGS], { timeout: PROBE_TIMEOUT_MS }, (error, stdout, stderr) => {
          if (error) {
            const lastLine = stderr.trim().split(/\r?\n/).pop() ?? '';
            resolve({ error: (error as NodeJS.ErrnoException).code === 'ENOENT' ? NOT_FOUND : lastLine || error.message });
            return;
          }
          resolve(parseProbeOutput(stdout));
        });
      });
    },
  };
}

/** Runs one install step, its output into the output channel; rejects with the last lines on failure. */
function runStep(
  command: string,
  args: string[],
  cwd: string,
  output: vscode.OutputChannel,
  token: vscode.CancellationToken,
): Promise<void> {
  return new Promise((resolve, reject) => {
    output.appendLine(`[lenscribe] $ ${formatCommand({ command, args })}`);
    const child = spawn(command, args, { cwd, env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PYTHONUNBUFFERED: '1' } });
    let tail = '';
    const onData = (data: Buffer): void => {
      const text = data.toString();
      tail = (tail + text).slice(-2000);
      output.append(text);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    const timer = setTimeout(() => child.kill(), INSTALL_STEP_TIMEOUT_MS);
    const cancel = token.onCancellationRequested(() => child.kill());
    child.on('error', (e) => {
      clearTimeout(timer);
      cancel.dispose();
      reject(new Error(`${command}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      cancel.dispose();
      if (code === 0) {
        resolve();
        return;
      }
      const last = tail
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l !== '')
        .slice(-3)
        .join(' / ');
      const why = token.isCancellationRequested ? 'cancelled' : signal ? `killed (${signal})` : `exit status ${code}`;
      reject(new Error(`${why}${last ? `: ${last}` : ''}`));
    });
  });
}

/** Replaces vscode-languageclient's work-done progress handling so the status bar shows the server's progress. */
class ProgressToStatus implements StaticFeature {
  private readonly disposables = new Map<string | number, vscode.Disposable>();

  constructor(
    private readonly client: LanguageClient,
    private readonly status: StatusModel,
  ) {}

  getState(): FeatureState {
    return { kind: 'static' };
  }

  fillClientCapabilities(capabilities: ClientCapabilities): void {
    capabilities.window = capabilities.window ?? {};
    capabilities.window.workDoneProgress = true;
  }

  initialize(): void {
    // Registered after the built-in ProgressFeature: the same method's handler is replaced by this one.
    this.client.onRequest(WorkDoneProgressCreateRequest.type, (params) => {
      this.track(params.token);
    });
  }

  /** Follows one progress token (server-created, or one the client put in a request's workDoneToken). */
  track(token: string | number): void {
    if (this.disposables.has(token)) {
      return;
    }
    const disposable = this.client.onProgress(WorkDoneProgress.type, token, (value) => {
      switch (value.kind) {
        case 'begin':
          this.status.begin(token, value);
          break;
        case 'report':
          this.status.report(token, value);
          break;
        case 'end':
          this.status.end(token);
          this.disposables.get(token)?.dispose();
          this.disposables.delete(token);
          break;
      }
    });
    this.disposables.set(token, disposable);
  }

  clear(): void {
    for (const d of this.disposables.values()) {
      d.dispose();
    }
    this.disposables.clear();
  }
}

/** Restarts a crashed server a few times, then gives up with a message instead of looping. */
class LenscribeErrorHandler implements ErrorHandler {
  private readonly restarts: number[] = [];

  constructor(private readonly controller: Controller) {}

  error(_error: Error, _message: Message | undefined, count: number | undefined): ErrorHandlerResult {
    return { action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown };
  }

  closed(): CloseHandlerResult {
    // Stopping on purpose, or the server died before it answered initialize: the failed start is reported once, by
    // Controller.doStart; restarting a server that cannot start would only repeat the failure.
    if (this.controller.stopping || this.controller.client?.quietStart === true) {
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    this.restarts.push(now);
    while (this.restarts.length > 0 && now - this.restarts[0] > 3 * 60 * 1000) {
      this.restarts.shift();
    }
    if (this.restarts.length > 3) {
      this.controller.reportFailure('the server stopped 4 times in 3 minutes; it will not be restarted');
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    this.controller.output.appendLine('[lenscribe] the server stopped unexpectedly; restarting it');
    return { action: CloseAction.Restart, handled: true };
  }
}

/**
 * The output channel, remembering the tail of what the server wrote to stderr (vscode-languageclient passes the
 * server's stderr to append(); its own log lines go through appendLine()) so a failed start can quote it.
 */
class RecordingOutputChannel implements vscode.OutputChannel {
  private tail = '';

  constructor(private readonly channel: vscode.OutputChannel) {}

  get name(): string {
    return this.channel.name;
  }

  append(value: string): void {
    this.tail = (this.tail + value).slice(-4000);
    this.channel.append(value);
  }

  appendLine(value: string): void {
    this.channel.appendLine(value);
  }

  replace(value: string): void {
    this.channel.replace(value);
  }

  clear(): void {
    this.tail = '';
    this.channel.clear();
  }

  show(columnOrPreserve?: vscode.ViewColumn | boolean, preserveFocus?: boolean): void {
    if (typeof columnOrPreserve === 'boolean' || columnOrPreserve === undefined) {
      this.channel.show(columnOrPreserve);
    } else {
      this.channel.show(columnOrPreserve, preserveFocus);
    }
  }

  hide(): void {
    this.channel.hide();
  }

  dispose(): void {
    this.channel.dispose();
  }

  /** Forgets the stderr seen so far (a new server process starts). */
  mark(): void {
    this.tail = '';
  }

  /** The last lines the server wrote to stderr, on one line. */
  lastServerOutput(lines = 3): string {
    const text = this.tail
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '')
      .slice(-lines)
      .join(' / ');
    return text.length > 400 ? `…${text.slice(-400)}` : text;
  }
}

/** A LanguageClient whose start-up failures are reported once, by the controller, with an actionable message. */
class LenscribeLanguageClient extends LanguageClient {
  quietStart = false;

  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    super.error(message, data, this.quietStart ? false : showNotification);
  }
}

class Controller {
  client: LenscribeLanguageClient | undefined;
  stopping = false;
  readonly output: RecordingOutputChannel;
  private readonly status = new StatusModel();
  private readonly item: vscode.StatusBarItem;
  private progressFeature: ProgressToStatus | undefined;
  private launch: ServerLaunch | undefined;
  private startPromise: Promise<void> | undefined;
  private tokenCounter = 0;
  private visibleTimer: NodeJS.Timeout | undefined;
  private readonly visiblePending = new Map<string, vscode.TextEditor>();
  private readonly storageDir: string;
  private readonly wheelDir: string;
  private installing: Promise<boolean> | undefined;
  private updateOffered = false;

  constructor(context: vscode.ExtensionContext) {
    this.storageDir = context.globalStorageUri.fsPath;
    this.wheelDir = context.asAbsolutePath('server');
    this.output = new RecordingOutputChannel(vscode.window.createOutputChannel('Lenscribe'));
    this.item = vscode.window.createStatusBarItem('lenscribe.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Lenscribe';
    this.item.command = CMD_MENU;
    this.status.onChange(() => this.render());
    this.render();
    this.item.show();
    context.subscriptions.push(
      this.output,
      this.item,
      vscode.commands.registerCommand(CMD_SUMMARIZE_FILE, (uri?: vscode.Uri) => this.summarizeFile(uri)),
      vscode.commands.registerCommand(CMD_SUMMARIZE_WORKSPACE, () => this.summarizeWorkspace()),
      vscode.commands.registerCommand(CMD_RESTART, () => this.restart()),
      vscode.commands.registerCommand(CMD_SHOW_OUTPUT, () => this.output.show(true)),
      vscode.commands.registerCommand(CMD_MENU, () => this.menu()),
      vscode.commands.registerCommand(CMD_INSTALL, () => this.installServer()),
      vscode.commands.registerCommand(CMD_REINSTALL, () => this.installServer()),
      vscode.commands.registerCommand(CLIENT_COPY_SUMMARY, (...args: unknown[]) => this.copySummary(...args)),
      vscode.commands.registerCommand(CMD_INSERT_DOCSTRING, () =>
        this.runAtCursor(SERVER_INSERT_DOCSTRING, 'Lenscribe: inserting the summary as a docstring')),
      vscode.commands.registerCommand(CMD_REGENERATE, () =>
        this.runAtCursor(SERVER_REGENERATE, 'Lenscribe: regenerating the summary (beam search)')),
      vscode.window.onDidChangeTextEditorVisibleRanges((e) => this.queueVisibleRanges([e.textEditor])),
      vscode.window.onDidChangeVisibleTextEditors((editors) => this.queueVisibleRanges(editors)),
      { dispose: () => clearTimeout(this.visibleTimer) },
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(`${SECTION}.server`)) {
          this.output.appendLine('[lenscribe] server settings changed: restarting the server');
          void this.restart();
        }
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.output.appendLine('[lenscribe] workspace trusted: restarting the server with its settings');
        void this.restart();
      }),
    );
  }

  private render(): void {
    const view = this.status.view();
    this.item.text = view.text;
    this.item.tooltip = this.launch ? `${view.tooltip}\n${formatCommand(this.launch)}` : view.tooltip;
    this.item.backgroundColor =
      view.severity === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.severity === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  reportFailure(reason: string): void {
    this.status.setState('failed', reason);
    void vscode.window.showErrorMessage(`Lenscribe: ${reason}.`, 'Restart Server', 'Show Output').then((pick) => {
      if (pick === 'Restart Server') {
        void this.restart();
      } else if (pick === 'Show Output') {
        this.output.show(true);
      }
    });
  }

  start(): Promise<void> {
    if (this.startPromise === undefined) {
      this.startPromise = this.doStart().finally(() => {
        this.startPromise = undefined;
      });
    }
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    this.stopping = false;
    this.status.setState('starting');
    const get = settingGetter();
    const defaultInterpreter = settingGetter('python')('defaultInterpreterPath');
    let launch: ServerLaunch;
    try {
      launch = await resolveServerLaunch(
        {
          command: get('server.command'),
          pythonPath: get('server.pythonPath'),
          interpreterHints: [typeof defaultInterpreter === 'string' ? defaultInterpreter : ''].filter(
            (p) => p !== '' && p !== 'python',
          ),
          workspaceFolders: (vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
          trusted: vscode.workspace.isTrusted,
          managedPython: this.layout().python,
        },
        nodeProbe(this.output),
      );
    } catch (e) {
      const reason = e instanceof LaunchError ? e.message : String(e);
      this.output.appendLine(`[lenscribe] cannot start the server: ${reason}`);
      const wheel = this.bundledWheel();
      if (e instanceof LaunchError && noServerAction({ command: get('server.command'), pythonPath: get('server.pythonPath'), wheel }) === 'offer-install') {
        this.status.setState('failed', 'no server installed');
        void vscode.window
          .showWarningMessage(
            'Lenscribe: its language server is not installed. Install it into a private environment of the extension ' +
              `(made with your Python ${formatVersion([3, 11])}+; the server's dependencies come from the package index)?`,
            'Install Server',
            'Show Output',
            'Open Settings',
          )
          .then((pick) => {
            if (pick === 'Install Server') {
              void this.installServer();
            } else if (pick === 'Show Output') {
              this.output.show(true);
            } else if (pick === 'Open Settings') {
              void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.server`);
            }
          });
        return;
      }
      this.status.setState('failed', 'no server command');
      void vscode.window.showErrorMessage(`Lenscribe: cannot start the language server. ${reason}`, 'Open Settings', 'Show Output').then((pick) => {
        if (pick === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.server`);
        } else if (pick === 'Show Output') {
          this.output.show(true);
        }
      });
      return;
    }
    this.launch = launch;
    this.output.appendLine(`[lenscribe] starting the server (${launch.source}): ${formatCommand(launch)}`);
    if (launch.command === this.layout().python) {
      this.offerUpdate();
    }

    const cwd = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const serverOptions: ServerOptions = {
      command: launch.command,
      args: launch.args,
      options: { cwd: cwd && fs.existsSync(cwd) ? cwd : undefined, env: { ...process.env, PYTHONUNBUFFERED: '1' } },
    };
    let owner: LenscribeLanguageClient | undefined = undefined;
    const clientOptions: LanguageClientOptions = {
      documentSelector: LANGUAGE_IDS.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
      ]),
      initializationOptions: initializationOptions(get, pathContext()),
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      synchronize: { configurationSection: SECTION },
      errorHandler: new LenscribeErrorHandler(this),
      initializationFailedHandler: () => false,
      middleware: {
        workspace: {
          // workspace/configuration: answer the "lenscribe" section with the mapped server settings.
          configuration: (params, token, next) => {
            const mapped = params.items.map((item) => (item.section === SECTION ? serverSettingsFromVscode() : undefined));
            if (mapped.every((m) => m !== undefined)) {
              return mapped;
            }
            return Promise.resolve(next(params, token)).then((result) =>
              Array.isArray(result) ? result.map((r: unknown, i: number) => mapped[i] ?? r) : result,
            );
          },
          // workspace/didChangeConfiguration: send {lenscribe: <server settings>} (never the client-only keys), from
          // this client only and only while it runs (sending would start a client that is not started yet).
          didChangeConfiguration: async () => {
            if (owner !== undefined && owner.state === State.Running && this.client === owner && !this.stopping) {
              await owner.sendNotification(DidChangeConfigurationNotification.type, {
                settings: { [SECTION]: serverSettingsFromVscode() },
              });
            }
          },
        },
      },
    };
    const client = new LenscribeLanguageClient('lenscribe', 'Lenscribe', serverOptions, clientOptions);
    owner = client;
    this.progressFeature = new ProgressToStatus(client, this.status);
    client.registerFeature(this.progressFeature);
    client.onDidChangeState((e) => {
      if (this.client !== client) {
        return;
      }
      if (e.newState === State.Running) {
        this.status.setState('running', launch.source);
      } else if (e.newState === State.Starting) {
        this.status.setState('starting');
      } else if (e.newState === State.Stopped && this.status.serverState !== 'failed') {
        this.status.setState(this.stopping ? 'stopped' : 'failed', this.stopping ? '' : 'the server stopped');
      }
    });
    this.client = client;
    client.quietStart = true;
    this.output.mark();
    let failure: string | undefined;
    try {
      await client.start();
      // start() can resolve although the server died during initialize (vscode-languageclient 9 then forgets the
      // failed start): only a running client counts.
      if (!client.isRunning()) {
        failure = 'the server exited during start-up';
      }
    } catch (e) {
      failure = e instanceof Error ? e.message : String(e);
    }
    client.quietStart = false;
    if (failure === undefined) {
      this.status.setState('running', launch.source);
      this.queueVisibleRanges(vscode.window.visibleTextEditors);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 300)); // the last of the server's stderr may still be on its way
    const stderr = this.output.lastServerOutput();
    const message = failure + (stderr ? `; the server said: ${stderr}` : '');
    this.output.appendLine(`[lenscribe] the server failed to start: ${message}`);
    this.status.setState('failed', message);
    void vscode.window
      .showErrorMessage(
        `Lenscribe: the language server failed to start (${formatCommand(launch)}): ${message}. ` +
          "Check `lenscribe.server.pythonPath` / `lenscribe.server.command`; the output has the server's log.",
        'Show Output',
        'Open Settings',
        'Retry',
      )
      .then((pick) => {
        if (pick === 'Show Output') {
          this.output.show(true);
        } else if (pick === 'Open Settings') {
          void vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.server`);
        } else if (pick === 'Retry') {
          void this.restart();
        }
      });
  }

  /** The extension's own server environment (in its global storage). */
  private layout(): ReturnType<typeof venvLayout> {
    return venvLayout(this.storageDir, process.platform);
  }

  /** The .vsix's server wheel (server/lenscribe-*.whl), or undefined in a build without one. */
  private bundledWheel(): string | undefined {
    try {
      return pickWheel(fs.readdirSync(this.wheelDir));
    } catch {
      return undefined;
    }
  }

  /** Once per session: the own environment holds an older wheel than this extension carries. */
  private offerUpdate(): void {
    const wheel = this.bundledWheel();
    let markerText: string | undefined;
    try {
      markerText = fs.readFileSync(this.layout().marker, 'utf8');
    } catch {
      markerText = undefined;
    }
    if (this.updateOffered || !isOutdated(parseMarker(markerText), wheel)) {
      return;
    }
    this.updateOffered = true;
    void vscode.window
      .showInformationMessage(`Lenscribe: this extension carries a newer server (${wheel}).`, 'Update Server')
      .then((pick) => {
        if (pick === 'Update Server') {
          void this.installServer();
        }
      });
  }

  /** Lenscribe: Install Server / Update/Reinstall Server. Resolves to whether the server was installed. */
  installServer(): Promise<boolean> {
    if (this.installing === undefined) {
      this.installing = this.doInstall().finally(() => {
        this.installing = undefined;
      });
    }
    return this.installing;
  }

  private async doInstall(): Promise<boolean> {
    const wheel = this.bundledWheel();
    if (wheel === undefined) {
      void vscode.window.showErrorMessage(
        `Lenscribe: this build of the extension carries no server wheel (${this.wheelDir}). Install the server yourself ` +
          '(`pip install lenscribe`, or `pip install -e .` in a checkout) and set `lenscribe.server.pythonPath`.',
      );
      return false;
    }
    const layout = this.layout();
    const defaultInterpreter = settingGetter('python')('defaultInterpreterPath');
    const candidates = pythonCandidates([defaultInterpreter === 'python' ? '' : defaultInterpreter], process.platform);
    this.output.appendLine(`[lenscribe] installing the server from ${wheel} into ${layout.dir}`);
    let failedStep = 'finding Python';
    try {
      await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Lenscribe: installing the server', cancellable: true },
        async (progress, token) => {
          progress.report({ message: `finding Python ${formatVersion([3, 11])}+` });
          const base = await findBasePython(candidates, nodeInstallProbe(this.output));
          this.output.appendLine(`[lenscribe] using Python ${formatVersion(base.version)} at ${base.python}`);
          await this.stop();
          fs.mkdirSync(this.storageDir, { recursive: true });
          fs.rmSync(layout.dir, { recursive: true, force: true });
          const steps = installSteps(base.python, layout, path.join(this.wheelDir, wheel));
          for (const [i, step] of steps.entries()) {
            if (token.isCancellationRequested) {
              throw new Error('cancelled');
            }
            failedStep = step.title;
            progress.report({ message: `${step.title} (${i + 1}/${steps.length})`, increment: 100 / steps.length });
            await runStep(step.command, step.args, this.storageDir, this.output, token);
          }
          fs.writeFileSync(
            layout.marker,
            JSON.stringify({ wheel, python: base.python, pythonVersion: formatVersion(base.version), installedAt: new Date().toISOString() }, null, 2),
          );
        },
      );
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.output.appendLine(`[lenscribe] installing the server failed (${failedStep}): ${reason}`);
      this.status.setState('failed', 'installing the server failed');
      const pick = await vscode.window.showErrorMessage(
        e instanceof NoPythonError ? `Lenscribe: cannot install the server. ${reason}` : `Lenscribe: installing the server failed while ${failedStep}: ${reason}`,
        'Show Output',
        'Retry',
      );
      if (pick === 'Show Output') {
        this.output.show(true);
      } else if (pick === 'Retry') {
        return this.installServer();
      }
      return false;
    }
    this.output.appendLine(`[lenscribe] the server is installed in ${layout.dir}`);
    const get = settingGetter();
    if (noServerAction({ command: get('server.command'), pythonPath: get('server.pythonPath'), wheel }) === 'report-setting') {
      void vscode.window.showWarningMessage(
        'Lenscribe: the server is installed, but `lenscribe.server.command` or `lenscribe.server.pythonPath` is set and wins over it; clear it to use the installed server.',
      );
    } else {
      vscode.window.setStatusBarMessage('Lenscribe: the server is installed', 5000);
    }
    await this.restart();
    return true;
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client === undefined) {
      return;
    }
    this.stopping = true;
    try {
      if (client.state !== State.Stopped) {
        await client.stop(STOP_TIMEOUT_MS);
      }
    } catch (e) {
      this.output.appendLine(`[lenscribe] stopping the server: ${e instanceof Error ? e.message : String(e)}`);
    }
    try {
      await client.dispose(STOP_TIMEOUT_MS);
    } catch {
      // already stopped
    }
    this.status.setState('stopped');
  }

  async restart(): Promise<void> {
    this.stopping = true; // at once: listeners of the same configuration change must not talk to the old client
    await this.startPromise?.catch(() => undefined);
    await this.stop();
    await this.start();
  }

  private async running(): Promise<LenscribeLanguageClient | undefined> {
    await this.startPromise;
    const client = this.client;
    if (client !== undefined && client.state === State.Running) {
      return client;
    }
    const pick = await vscode.window.showErrorMessage('Lenscribe: the language server is not running.', 'Restart Server', 'Show Output');
    if (pick === 'Restart Server') {
      await this.restart();
    } else if (pick === 'Show Output') {
      this.output.show(true);
    }
    return undefined;
  }

  /** Tells the server which lines are on screen (lenscribe/visibleRanges), at most every VISIBLE_RANGES_DELAY_MS. */
  private queueVisibleRanges(editors: readonly vscode.TextEditor[]): void {
    for (const editor of editors) {
      const doc = editor.document;
      if ((doc.uri.scheme === 'file' || doc.uri.scheme === 'untitled') && LANGUAGE_IDS.includes(doc.languageId)) {
        this.visiblePending.set(doc.uri.toString(), editor);
      }
    }
    if (this.visiblePending.size === 0 || this.visibleTimer !== undefined) {
      return;
    }
    this.visibleTimer = setTimeout(() => {
      this.visibleTimer = undefined;
      const client = this.client;
      const editors = [...this.visiblePending.values()];
      this.visiblePending.clear();
      if (client === undefined || client.state !== State.Running) {
        return;
      }
      for (const editor of editors) {
        const params = visibleRangesParams(
          client.code2ProtocolConverter.asUri(editor.document.uri),
          editor.visibleRanges.map((r) => ({ start: { line: r.start.line }, end: { line: r.end.line } })),
        );
        client.sendNotification(NOTIFY_VISIBLE_RANGES, params).catch(() => undefined);
      }
    }, VISIBLE_RANGES_DELAY_MS);
  }

  private newToken(): string {
    this.tokenCounter += 1;
    return `lenscribe-client-${process.pid}-${Date.now()}-${this.tokenCounter}`;
  }

  async summarizeFile(target?: vscode.Uri): Promise<void> {
    const document =
      target instanceof vscode.Uri
        ? await vscode.workspace.openTextDocument(target)
        : vscode.window.activeTextEditor?.document;
    if (document === undefined) {
      void vscode.window.showWarningMessage('Lenscribe: open a source file first.');
      return;
    }
    const client = await this.running();
    if (client === undefined) {
      return;
    }
    const uri = client.code2ProtocolConverter.asUri(document.uri);
    let result: unknown;
    try {
      result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: `Lenscribe: summarizing ${path.basename(document.fileName)}` },
        () => client.sendRequest(ExecuteCommandRequest.type, { command: SERVER_SUMMARIZE_FILE, arguments: [uri] }),
      );
    } catch (e) {
      void vscode.window.showErrorMessage(`Lenscribe: summarizing ${path.basename(document.fileName)} failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const label = vscode.workspace.asRelativePath(document.uri, false);
    const markdown = outlineMarkdown(result, label);
    const outline = await vscode.workspace.openTextDocument({ language: 'markdown', content: markdown });
    const openAs = vscode.workspace.getConfiguration(SECTION).get<string>('outline.openAs', 'document');
    if (openAs === 'preview') {
      await vscode.commands.executeCommand('markdown.showPreviewToSide', outline.uri);
    } else {
      // vscode.open rather than showTextDocument(document, Beside): the latter also leaves a tab in the first group (VS Code 1.139)
      await vscode.commands.executeCommand('vscode.open', outline.uri, { viewColumn: vscode.ViewColumn.Beside, preview: false });
      if (openAs === 'both') {
        await vscode.commands.executeCommand('markdown.showPreviewToSide', outline.uri);
      }
    }
  }

  async summarizeWorkspace(): Promise<void> {
    const client = await this.running();
    if (client === undefined) {
      return;
    }
    const token = this.newToken();
    this.progressFeature?.track(token);
    let result: unknown;
    try {
      result = await client.sendRequest(ExecuteCommandRequest.type, {
        command: SERVER_SUMMARIZE_WORKSPACE,
        arguments: [],
        workDoneToken: token,
      });
    } catch (e) {
      void vscode.window.showErrorMessage(`Lenscribe: summarizing the workspace failed: ${e instanceof Error ? e.message : String(e)}`);
      return;
    } finally {
      this.status.end(token);
    }
    const { ok, text } = describeWorkspaceResult(result);
    this.output.appendLine(`[lenscribe] ${text}`);
    if (ok) {
      void vscode.window.showInformationMessage(`Lenscribe: ${text}`);
    } else {
      void vscode.window.showErrorMessage(`Lenscribe: ${text}`);
    }
  }

  /** The server command arguments for the active editor's cursor: (uri, line, UTF-16 character). */
  private cursorArgs(client: LanguageClient): [string, number, number] | undefined {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
      void vscode.window.showWarningMessage('Lenscribe: open a source file first.');
      return undefined;
    }
    const pos = editor.selection.active;
    return [client.code2ProtocolConverter.asUri(editor.document.uri), pos.line, pos.character];
  }

  /** "Copy summary" (the code action's arguments, or the cursor from the palette): puts it on the clipboard. */
  async copySummary(...args: unknown[]): Promise<string | undefined> {
    const target = summaryTarget(args);
    let text = target?.summary;
    let qualname: string | undefined;
    if (text === undefined) {
      const client = await this.running();
      const where = client && (target ? [target.uri, target.line, target.character] : this.cursorArgs(client));
      if (client === undefined || where === undefined) {
        return undefined;
      }
      const found = summaryOf(await client.sendRequest(ExecuteCommandRequest.type, { command: SERVER_SUMMARY_AT, arguments: where }));
      if (found.summary === undefined) {
        void vscode.window.showWarningMessage(`Lenscribe: ${found.error}`);
        return undefined;
      }
      text = found.summary;
      qualname = found.qualname;
    }
    await vscode.env.clipboard.writeText(text);
    vscode.window.setStatusBarMessage(`Lenscribe: copied the summary${qualname ? ` of ${qualname}` : ''}`, 3000);
    return text;
  }

  /** A server command on the function/class at the cursor (insert docstring, regenerate); returns its result. */
  async runAtCursor(command: string, title: string): Promise<unknown> {
    const client = await this.running();
    const args = client && this.cursorArgs(client);
    if (client === undefined || args === undefined) {
      return undefined;
    }
    try {
      return await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, () =>
        client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }),
      );
    } catch (e) {
      void vscode.window.showErrorMessage(`${title} failed: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  private async menu(): Promise<void> {
    const items: Array<vscode.QuickPickItem & { run: () => unknown }> = [];
    for (const token of this.status.cancellable()) {
      items.push({
        label: '$(stop) Cancel the running summarize',
        run: () => this.client?.sendNotification(WorkDoneProgressCancelNotification.type, { token }),
      });
    }
    items.push(
      { label: '$(file) Summarize File', run: () => this.summarizeFile() },
      { label: '$(files) Summarize Workspace', run: () => this.summarizeWorkspace() },
      { label: '$(debug-restart) Restart Server', run: () => this.restart() },
      { label: '$(cloud-download) Update/Reinstall Server', run: () => this.installServer() },
      { label: '$(output) Show Output', run: () => this.output.show(true) },
      { label: '$(gear) Settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', SECTION) },
    );
    const pick = await vscode.window.showQuickPick(items, { placeHolder: this.status.view().tooltip.split('\n')[0] });
    await pick?.run();
  }
}
