// Child processes for integration tests (turnserver, turnutils_*, stun,
// our own CLI) that are always cleaned up: on the owning tap test's teardown,
// and, as a last resort, when the test process exits. Processes are killed by
// PID only, never by name: other tests and other people may run the same
// tools on this machine.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** Anything with tap's `t.teardown` (a tap Test), so helpers need not import tap. */
export interface Teardownable {
  teardown(fn: () => unknown): void;
}

/** How a process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A line test: a regular expression, or a predicate. */
export type LineMatcher = RegExp | ((line: string) => boolean);

/** Which output a line wait looks at. */
export type StreamName = 'stdout' | 'stderr' | 'both';

/** Options of {@link spawnTracked}. */
export interface SpawnTrackedOptions extends Omit<SpawnOptions, 'stdio' | 'detached'> {
  /** The tap test that owns the process: it is killed in that test's teardown. */
  t?: Teardownable;
  /** Text written to stdin, which is then closed (stdin is closed at once when absent). */
  input?: string;
  /** Time between SIGTERM and SIGKILL in kill() (default 2000 ms). */
  killGraceMs?: number;
}

/** Every process started here and not yet exited, for the exit-time sweep. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills leftovers if a test file ends (or crashes) without its teardowns running. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Output of one stream, split into complete lines as it arrives. */
class LineBuffer {
  text = '';
  lines: string[] = [];
  private partial = '';

  /** Adds a chunk; returns the lines it completed. */
  push(chunk: string): string[] {
    this.text += chunk;
    const parts = (this.partial + chunk).split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    this.lines.push(...parts);
    return parts;
  }

  /** Ends the stream: a last line without newline still counts as a line. */
  end(): string[] {
    if (this.partial === '') return [];
    const last = this.partial;
    this.partial = '';
    this.lines.push(last);
    return [last];
  }
}

interface LineWaiter {
  test: (line: string) => boolean;
  stream: StreamName;
  resolve: (line: string) => void;
  reject: (err: Error) => void;
}

/** Turns a matcher into a predicate (a RegExp with /g would otherwise remember lastIndex). */
function toPredicate(m: LineMatcher): (line: string) => boolean {
  if (typeof m === 'function') return m;
  const re = new RegExp(m.source, m.flags.replace('g', '').replace('y', ''));
  return (line) => re.test(line);
}

/** A spawned child whose output is kept and which is killed when its test ends. */
export class TrackedProcess {
  /** The underlying child process. */
  readonly child: ChildProcess;
  /** Its PID (the only handle by which it is ever killed). */
  readonly pid: number;
  /** Command line, for error messages. */
  readonly commandLine: string;
  /** Exit status once it has exited, else null. */
  exitStatus: ExitStatus | null = null;

  private readonly out = new LineBuffer();
  private readonly err = new LineBuffer();
  private readonly waiters = new Set<LineWaiter>();
  private readonly exited: Promise<ExitStatus>;
  private readonly killGraceMs: number;
  private spawnError: Error | null = null;

  /** @internal use spawnTracked() */
  constructor(cmd: string, args: readonly string[], opts: SpawnTrackedOptions) {
    const { t, input, killGraceMs = 2000, ...spawnOpts } = opts;
    this.killGraceMs = killGraceMs;
    this.commandLine = [cmd, ...args].join(' ');
    this.child = spawn(cmd, args, { ...spawnOpts, stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid ?? -1;
    installExitHook();
    live.add(this.child);

    this.exited = new Promise<ExitStatus>((resolve) => {
      let closeWait: NodeJS.Timeout | undefined;
      const done = (status: ExitStatus): void => {
        if (closeWait) clearTimeout(closeWait);
        if (this.exitStatus) return;
        for (const l of this.out.end()) this.onLine('stdout', l);
        for (const l of this.err.end()) this.onLine('stderr', l);
        this.exitStatus = status;
        live.delete(this.child);
        const why = this.spawnError
          ? `could not start: ${this.spawnError.message}`
          : `exited (code ${status.code}, signal ${status.signal})`;
        for (const w of this.waiters) w.reject(this.failure(`${why} before the expected line`));
        this.waiters.clear();
        resolve(status);
      };
      this.child.once('error', (e) => {
        this.spawnError = e;
        done({ code: null, signal: null });
      });
      // 'close' waits for the output to be read; a grandchild holding the pipes
      // open must not keep us waiting for ever, so fall back to 'exit' + 500 ms.
      this.child.once('close', (code, signal) => done({ code, signal }));
      this.child.once('exit', (code, signal) => {
        closeWait = setTimeout(() => done({ code, signal }), 500);
      });
    });

    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      for (const l of this.out.push(d)) this.onLine('stdout', l);
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      for (const l of this.err.push(d)) this.onLine('stderr', l);
    });
    // a child that exits without reading stdin would otherwise EPIPE us
    this.child.stdin?.on('error', () => undefined);
    if (input !== undefined) this.child.stdin?.end(input);
    else this.child.stdin?.end();

    t?.teardown(() => this.kill());
  }

  /** Everything written to stdout so far. */
  get stdout(): string {
    return this.out.text;
  }

  /** Everything written to stderr so far. */
  get stderr(): string {
    return this.err.text;
  }

  /** Complete lines seen so far on one stream (or both: stdout's then stderr's). */
  lines(stream: StreamName = 'both'): string[] {
    if (stream === 'stdout') return [...this.out.lines];
    if (stream === 'stderr') return [...this.err.lines];
    return [...this.out.lines, ...this.err.lines];
  }

  /**
   * Resolves with the first line (already printed or still to come) that
   * matches; rejects on timeout or exit, with the tail of the output so a
   * failing test shows what the tool said instead.
   */
  waitForLine(match: LineMatcher, timeoutMs = 10_000, stream: StreamName = 'both'): Promise<string> {
    const test = toPredicate(match);
    const seen = this.lines(stream).find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.exitStatus) {
      return Promise.reject(this.failure(`had already exited (code ${this.exitStatus.code}) without printing ${String(match)}`));
    }
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(this.failure(`printed no line matching ${String(match)} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: LineWaiter = {
        test,
        stream,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves when the process exits; rejects if it is still running after timeoutMs (it is left running). */
  waitExit(timeoutMs = 10_000): Promise<ExitStatus> {
    if (this.exitStatus) return Promise.resolve(this.exitStatus);
    return new Promise<ExitStatus>((resolve, reject) => {
      const timer = setTimeout(() => reject(this.failure(`still running after ${timeoutMs} ms`)), timeoutMs);
      void this.exited.then((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
  }

  /** Stops the process by PID: `signal` (SIGTERM), then SIGKILL after the grace period. Resolves once it has exited. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitStatus> {
    if (this.exitStatus) return this.exitStatus;
    this.sendSignal(signal);
    const grace = setTimeout(() => this.sendSignal('SIGKILL'), this.killGraceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(grace);
    }
  }

  private sendSignal(signal: NodeJS.Signals): void {
    if (this.pid <= 0 || this.exitStatus) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // ESRCH: it exited in between
    }
  }

  private onLine(stream: 'stdout' | 'stderr', line: string): void {
    for (const w of this.waiters) {
      if ((w.stream === 'both' || w.stream === stream) && w.test(line)) {
        this.waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  private failure(what: string): Error {
    const tail = this.lines('both').slice(-20).join('\n');
    return new Error(`${this.commandLine}: ${what}${tail ? `\n--- last output ---\n${tail}` : ''}`);
  }
}

/**
 * Spawns a long-running tool (a server, a peer) and tracks it: output is kept,
 * lines can be awaited, and it is killed by PID in `opts.t`'s teardown.
 */
export function spawnTracked(cmd: string, args: readonly string[] = [], opts: SpawnTrackedOptions = {}): TrackedProcess {
  return new TrackedProcess(cmd, args, opts);
}

/** Result of {@link runTool}. */
export interface ToolResult extends ExitStatus {
  stdout: string;
  stderr: string;
  /** True when the hard timeout killed it. */
  timedOut: boolean;
}

/** Options of {@link runTool}. */
export interface RunToolOptions extends Omit<SpawnOptions, 'stdio' | 'detached' | 'timeout'> {
  /** Hard limit; the process is then killed by PID (default 30 s). */
  timeoutMs?: number;
  /** Text written to stdin, which is then closed. */
  input?: string;
}

/**
 * Runs a short-lived tool (turnutils_stunclient, stun, openssl) to completion
 * and returns its exit status and output. Never hangs a test: at timeoutMs it
 * gets SIGTERM, then SIGKILL 1 s later, and `timedOut` is set. Rejects only
 * when the tool cannot be started at all (e.g. not installed).
 */
export async function runTool(cmd: string, args: readonly string[] = [], opts: RunToolOptions = {}): Promise<ToolResult> {
  const { timeoutMs = 30_000, input, ...spawnOpts } = opts;
  const p = new TrackedProcess(cmd, args, { ...spawnOpts, killGraceMs: 1000, ...(input !== undefined ? { input } : {}) });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.kill();
  }, timeoutMs);
  const status = await p.waitExit(timeoutMs + 5_000).finally(() => clearTimeout(timer));
  if (p.pid <= 0 && status.code === null && status.signal === null) {
    throw new Error(`cannot run ${cmd}: not found or not executable`);
  }
  return { ...status, stdout: p.stdout, stderr: p.stderr, timedOut };
}
